"""Publishing: rendering the feed documents and writing them into the output
folder, the act that makes feeds visible.

Only documents whose inputs changed since they were last written are
rendered (see `feeds.build.digests`); each fits the size budget; files of
feeds that no longer exist are removed. A one-shot build renders half of
many documents in a forked child.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path

from feeds.build.digests import PlanDigests
from feeds.build.records import Version
from feeds.build.report import BuildReport
from feeds.build.uptodate import outputs_intact
from feeds.build.writer import OutputFolder
from feeds.config import Config
from feeds.errors import OutputError
from feeds.formats import Document, document_suffixes, documents_for, documents_of_kind
from feeds.plan.plans import COMBINED_STEM, FEED_DIRS, FeedPlan, newest_of
from feeds.render import index_html, opml
from feeds.system import processes

log = logging.getLogger("feeds.build")

#: Below this many documents to render, a second process costs more than it saves.
PARALLEL_DOCUMENTS = 64

#: A plan to render, with the digest of its inputs.
_Todo = Sequence[tuple[FeedPlan, str]]
#: What rendering a share did: files written, files unchanged, stems rendered,
#: documents rendered.
_Done = tuple[list[str], int, list[str], int]


class Publisher:
    """The feed documents as last written, by stem, with the digest of what
    each was made from."""

    def __init__(
        self,
        config: Config,
        version_of: Callable[[str], Version | None],
        written: Mapping[str, str] | None = None,
        outputs: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        """``written`` and ``outputs``: the parse cache's record of the last
        build's documents and output files, taken at the first publish."""
        self.config = config
        self._digests = PlanDigests(version_of)
        #: A digest of each feed document's inputs as last written, by stem.
        self._written: dict[str, str] = {}
        self._recorded: tuple[Mapping[str, str], Mapping[str, tuple[int, int]]] = (
            written or {},
            outputs or {},
        )
        #: Whether this process has swept crashed builds' temp files from the output.
        self._swept_temp = False
        #: The feeds of the last publish that swept stale files out of the output.
        self._swept_stems: set[str] | None = None

    @property
    def written(self) -> Mapping[str, str]:
        return self._written

    def forget_written(self) -> None:
        """Makes the next publish render every feed (after a config change, or
        when the output folder may have been touched by someone else)."""
        self._written.clear()
        self._digests.clear()
        self._swept_stems = None

    def forget_plans(self) -> None:
        """Lets go of the plans last digested; what was written is kept."""
        self._digests.clear()

    def publish(
        self, plans: list[FeedPlan], report: BuildReport, *, force: bool = False, workers: int = 1
    ) -> None:
        """Writes the documents of ``plans`` whose inputs changed, the index
        page and the OPML list, and removes stale feed files; ``report`` gets
        what was done. Raises ``OutputError`` (see `Builder.publish`)."""
        output = OutputFolder(self.config.output)
        output.prepare(sweep_temp=not self._swept_temp)
        self._swept_temp = True
        if force:
            self._written.clear()
            self._digests.unsettle()
            self._swept_stems = None
        self._digests.configure(self.config)
        self._adopt_recorded(plans)
        report.owned = partial(files_of, plans, self.config)
        rendered: list[str] = []
        try:
            self._write_all(output, plans, report, rendered, workers)
        except OutputError:
            # Some files of this publish may never have been renamed into place:
            # the feeds it rendered are rendered again next time (bytes that did
            # land are then found unchanged and not rewritten).
            for stem in rendered:
                self._written.pop(stem, None)
            raise
        self._remove_stale(output, plans, report)

    def current(self, plans: Sequence[FeedPlan]) -> bool:
        """Whether a publish of ``plans`` would render only the index and OPML,
        which then come out the same (the cache's record taken as by a publish).
        Every digest is made, not all(...): the next publish then knows them."""
        self._digests.configure(self.config)
        recorded, written = set(self._recorded[0]), self._written
        self._adopt_recorded(plans)
        digests = {plan.stem: self._digests.of(plan) for plan in plans}
        return recorded == set(digests) and all(written.get(s) == d for s, d in digests.items())

    def _adopt_recorded(self, plans: Sequence[FeedPlan]) -> None:
        """Takes the cache's record of feed documents whose files are still as
        written, so a build after a small change re-renders only what it touched."""
        recorded, outputs = self._recorded
        if not recorded:
            return
        self._recorded = {}, {}
        unknown = [plan for plan in plans if plan.stem not in self._written]
        self._written.update(_intact(recorded, outputs, unknown, self.config))

    def _write_all(
        self,
        output: OutputFolder,
        plans: list[FeedPlan],
        report: BuildReport,
        rendered: list[str],
        workers: int,
    ) -> None:
        mine: _Todo = self._todo(plans, report)
        theirs: _Todo = []
        if workers > 1 and len(mine) >= PARALLEL_DOCUMENTS and processes.can_fork():
            mine, theirs = _halves(mine)
        if theirs:
            self._render_beside_child(output, mine, theirs, report, rendered)
        else:
            self._render_batch(output, mine, report, rendered)
        # The index and OPML list every feed; their bytes change with any
        # feed's count or newest date, and unchanged bytes are not rewritten.
        report.rendered += 2
        with output.batch():
            for name, document in (
                (index_html.FILENAME, index_html.render_index(plans, self.config)),
                (opml.FILENAME, opml.render_opml(plans, self.config)),
            ):
                if output.write(name, document):
                    report.written.append(name)
                else:
                    report.unchanged += 1

    def _todo(self, plans: list[FeedPlan], report: BuildReport) -> list[tuple[FeedPlan, str]]:
        """The plans whose documents changed since written, with their digests."""
        todo, mains, archives = self._digests.unwritten(plans, self._written)
        documents = _Documents(self.config)
        report.unchanged += mains * len(documents.of_main) + archives * len(documents.of_archive)
        todo.sort(key=lambda item: _render_order(item[0]))  # most are unchanged: few to sort
        return todo

    def _render_beside_child(
        self,
        output: OutputFolder,
        mine: _Todo,
        theirs: _Todo,
        report: BuildReport,
        rendered: list[str],
    ) -> None:
        """Renders ``mine`` here while a forked child renders ``theirs``; does
        the child's share here too when the child failed."""
        share = partial(self._render_share, output.root)
        with processes.spread(share, [theirs], workers=1, inherit=True) as results:
            self._render_batch(output, mine, report, rendered)
            done = _taken(results)
        if done is None:
            self._render_batch(output, theirs, report, rendered)
            return
        written, unchanged, stems, documents = done
        report.written.extend(written)
        report.unchanged += unchanged
        report.rendered += documents
        digests = {plan.stem: digest for plan, digest in theirs}
        for stem in stems:
            self._written[stem] = digests[stem]
        rendered.extend(stems)

    def _render_share(self, root: Path, todo: _Todo) -> _Done:
        """A child's share, rendered into ``root``."""
        output = OutputFolder(root)
        report, rendered = BuildReport(), list[str]()
        self._render_batch(output, todo, report, rendered)
        return report.written, report.unchanged, rendered, report.rendered

    def _render_batch(
        self, output: OutputFolder, todo: _Todo, report: BuildReport, rendered: list[str]
    ) -> None:
        # Entries stay built between publishes (a bounded cache): the
        # daemon's next save re-renders mostly the same articles.
        with output.batch():
            for plan, digest in todo:
                for fmt in documents_for(plan, self.config):
                    name = plan.stem + fmt.suffix
                    report.rendered += 1
                    if output.write(name, render_within_budget(fmt, plan, self.config)):
                        report.written.append(name)
                    else:
                        report.unchanged += 1
                self._written[plan.stem] = digest
                rendered.append(plan.stem)

    def _remove_stale(
        self, output: OutputFolder, plans: list[FeedPlan], report: BuildReport
    ) -> None:
        stems = {plan.stem for plan in plans}
        if stems == self._swept_stems:
            return  # the same feeds as at the last sweep: nothing of ours went stale
        if self._swept_stems is None:
            stale = _listed_stale(output, plans, self.config)
        else:  # only the documents of feeds gone since: a million files are not listed again
            gone = self._swept_stems - stems
            stale = [stem + suffix for stem in sorted(gone) for suffix in document_suffixes()]
        for name in stale:
            if output.remove(name):
                report.removed.append(name)
        self._swept_stems = stems
        for stem in set(self._written) - stems:
            del self._written[stem]
        self._digests.keep_only(stems)


def _listed_stale(output: OutputFolder, plans: list[FeedPlan], config: Config) -> list[str]:
    """Every feed document in the output folder that no plan names."""
    expected = {plan.stem + fmt.suffix for plan in plans for fmt in documents_for(plan, config)}
    suffixes = document_suffixes()
    existing: set[str] = set()
    for folder in FEED_DIRS:
        existing |= output.existing(folder, suffixes)
    # The combined feed sits at the top, beside files that are not feeds:
    # only its own names there, those of a format or page turned off among them.
    combined = (COMBINED_STEM + suffix for suffix in suffixes)
    existing |= {name for name in combined if (output.root / name).is_file()}
    return sorted(existing - expected)


def files_of(plans: Sequence[FeedPlan], config: Config) -> list[str]:
    """Every file a publish of ``plans`` owns in the output folder."""
    documents = _Documents(config)
    files = [plan.stem + fmt.suffix for plan in plans for fmt in documents.of(plan)]
    return [*files, index_html.FILENAME, opml.FILENAME]


def _intact(
    recorded: Mapping[str, str],
    outputs: Mapping[str, tuple[int, int]],
    plans: Sequence[FeedPlan],
    config: Config,
) -> Iterator[tuple[str, str]]:
    """The recorded digest of each of ``plans`` whose files are all still as written."""
    for plan in plans:
        digest = recorded.get(plan.stem)
        if digest is None:
            continue
        names = [plan.stem + fmt.suffix for fmt in documents_for(plan, config)]
        if all(name in outputs for name in names) and outputs_intact(
            config.output, {name: outputs[name] for name in names}
        ):
            yield plan.stem, digest


def render_within_budget(fmt: Document, plan: FeedPlan, config: Config) -> bytes:
    """The document with as many of the newest entries as fit in ``max_bytes``
    (at least one: a single entry's size is bounded when it is read)."""
    budget = config.max_bytes
    data = fmt.render(plan, config)
    if len(data) <= budget or len(plan.entries) <= 1:
        return data
    if plan.is_archive:
        # Archives keep every entry: dropping one would break the complete
        # history. Periods are cut by an estimate of entry sizes, so only
        # entries far larger than their text (escaping) end up here.
        log.warning(
            "%s is %d bytes, more than max_bytes (%d): its entries are larger than estimated",
            plan.stem + fmt.suffix,
            len(data),
            budget,
        )
        return data
    fitting, low, high = None, 1, len(plan.entries) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = fmt.render(newest_of(plan, middle), config)
        if len(candidate) <= budget:
            fitting, low = candidate, middle + 1
        else:
            high = middle - 1
    if fitting is None:
        fitting = fmt.render(newest_of(plan, 1), config)
    return fitting


def _taken(results: Iterator[_Done]) -> _Done | None:
    """The child's result; None when it died or failed otherwise than
    writing (its share is then rendered here). A write error is the build's."""
    try:
        return next(results)
    except OutputError:
        raise
    except Exception:
        return None


def _halves(todo: _Todo) -> tuple[_Todo, _Todo]:
    """Two runs of consecutive plans with about equal entries (runs keep one
    month's archives together, so each process builds an entry once)."""
    weights = [len(plan.entries) + 10 for plan, _ in todo]
    half, running = sum(weights) / 2, 0
    for position, weight in enumerate(weights):
        running += weight
        if running >= half:
            return todo[: position + 1], todo[position + 1 :]
    return todo, []


class _Documents:
    """`documents_for` of each plan, asked once per publish for each kind of
    plan rather than for each plan (a million articles make 250,000)."""

    __slots__ = ("of_archive", "of_main")

    def __init__(self, config: Config) -> None:
        self.of_main = documents_of_kind(False, config)
        self.of_archive = documents_of_kind(True, config)

    def of(self, plan: FeedPlan) -> tuple[Document, ...]:
        return self.of_archive if plan.archive_of is not None else self.of_main


def _render_order(plan: FeedPlan) -> str:
    """Archives of one month together, so each article's entries are built once
    (see `render.entries.EntryCache`); the order of writes changes no file."""
    return plan.stem.rpartition("/")[2] if plan.is_archive else ""
