"""Reading the seeds folder: files in, `Article` values or `ArticleError`s out.

Only the fields an entry cannot exist without (title, link, date) reject a
file. Any other field of the wrong shape, or a bad item of an optional list,
is dropped with a warning, and the article publishes without it.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from feeds.build.packing import pack, unpack
from feeds.build.records import Packed
from feeds.errors import ArticleError, ArticleWarning, kind_of
from feeds.model import (
    MAX_IMAGES,
    MAX_LABEL_LENGTH,
    MAX_RELATED,
    MAX_TOPICS,
    Article,
    Provider,
)
from feeds.model.compact import Images, Related, provider_of, shared, shared_topics
from feeds.seeds.fields import FieldError, FieldReader
from feeds.seeds.seedfile import Fingerprint, read_seed_file
from feeds.seeds.text import (
    clean_line,
    html_to_text,
    is_markup,
    sanitize_excerpt,
    shorten,
    shorten_label,
    topic_names,
)
from feeds.seeds.yamlload import describe_yaml_error, load_seed_yaml
from feeds.system import processes
from feeds.urls import entry_id, is_host_name

_FRONT_MATTER = YAMLHandler()

#: Titles longer than this are cut: a feed reader's list is no place for an essay.
MAX_TITLE_LENGTH = 300
#: A related article's excerpt is a teaser under its link, not a second article.
RELATED_SUMMARY_LENGTH = 300
#: Warnings kept per file; one more line counts the rest. A list of thousands
#: of bad topics must not flood a log with thousands of lines.
MAX_WARNINGS = 10


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How text is tidied on the way in (from the config)."""

    fix_text: bool = True
    summary_length: int = 1000
    #: Symbolic links to files outside this folder are refused (when set).
    seeds: Path | None = None


DEFAULT_OPTIONS = ReadOptions()


@dataclass(frozen=True, slots=True)
class Reading:
    """One seed file read: its article, and why each dropped field was dropped."""

    article: Article
    #: Reasons as `ArticleWarning` words them, in the order the fields are read.
    warnings: tuple[str, ...] = ()
    #: The version of the file the article was read from (see `read_seed_file`).
    fingerprint: Fingerprint | None = None


@dataclass(frozen=True, slots=True)
class ReadResult:
    articles: tuple[Article, ...]
    errors: tuple[ArticleError, ...]
    warnings: tuple[ArticleWarning, ...] = ()


def read_all(
    paths: Sequence[Path],
    tz: tzinfo,
    progress: Callable[[Sequence[Path]], Iterable[Path]] | None = None,
    options: ReadOptions = DEFAULT_OPTIONS,
) -> ReadResult:
    articles: list[Article] = []
    errors: list[ArticleError] = []
    warnings: list[ArticleWarning] = []
    for path in paths if progress is None else progress(paths):
        try:
            reading = read_seed(path, tz, options)
        except ArticleError as error:
            errors.append(error)
        else:
            articles.append(reading.article)
            warnings.extend(ArticleWarning(str(path), reason) for reason in reading.warnings)
    return ReadResult(tuple(articles), tuple(errors), tuple(warnings))


def read_seed(path: Path, tz: tzinfo, options: ReadOptions = DEFAULT_OPTIONS) -> Reading:
    """Reads and validates one seed file. Raises ``ArticleError(path, reason)``,
    whose ``fingerprint`` is that of the file judged (None: none was read)."""
    raw, fingerprint = read_seed_file(path, options.seeds)
    try:
        reading = parse_seed(raw, path, tz, options)
    except ArticleError as error:
        error.fingerprint = fingerprint
        raise
    return Reading(reading.article, reading.warnings, fingerprint)


def parse_seed(
    raw: bytes, path: Path | str, tz: tzinfo, options: ReadOptions = DEFAULT_OPTIONS
) -> Reading:
    """Turns a seed file's bytes into an Article and its warnings. Raises ``ArticleError``."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ArticleError(
            path, f"not UTF-8 text (undecodable byte at offset {error.start})"
        ) from None
    data = _front_matter(text, path)
    reader = _ArticleReader(data, tz, options)
    try:
        article = reader.article(str(path))
    except FieldError as error:
        raise ArticleError(path, str(error)) from None
    return Reading(article, _capped(reader.warnings))


def read_article(path: Path, tz: tzinfo, options: ReadOptions = DEFAULT_OPTIONS) -> Article:
    """`read_seed`'s article alone, its warnings unread: for callers that
    report nothing (tests, benchmarks). A build reports them (`read_seed`)."""
    return read_seed(path, tz, options).article


def parse_article(
    raw: bytes, path: Path | str, tz: tzinfo, options: ReadOptions = DEFAULT_OPTIONS
) -> Article:
    """`parse_seed`'s article alone (see `read_article`)."""
    return parse_seed(raw, path, tz, options).article


def _capped(warnings: list[str]) -> tuple[str, ...]:
    if len(warnings) <= MAX_WARNINGS:
        return tuple(warnings)
    kept = MAX_WARNINGS - 1
    return (*warnings[:kept], f"{len(warnings) - kept} more fields or items of the wrong shape")


#: Every top-level field the reader reads; the rest of a seed (`secured`,
#: unknown fields) is dropped as it is composed, so nothing there can reject
#: the article or reach a message (tests/seeds/test_reader.py checks the list).
SEED_FIELDS = frozenset(
    {
        "title", "excerpt", "publishedDateTime", "updatedDateTime", "webUrl", "originalUrl",
        "category", "topics", "provider", "images", "related", "quality", "heat", "published",
    }
)  # fmt: skip


def _front_matter(text: str, path: Path | str) -> Mapping[str, Any]:
    if not _FRONT_MATTER.detect(text):
        raise ArticleError(path, "no front matter: the file must begin with a '---' line")
    front = split_front_matter(text)
    if front is None:
        raise ArticleError(path, "front matter is not closed by a '---' line")
    try:
        data = load_seed_yaml(front, SEED_FIELDS)
    except yaml.YAMLError as error:
        raise ArticleError(path, describe_yaml_error(error)) from None
    if data is None:
        raise ArticleError(path, "front matter is empty")
    if not isinstance(data, dict):
        raise ArticleError(path, f"front matter must be a mapping of fields, got {kind_of(data)}")
    return data


def split_front_matter(text: str) -> str | None:
    """The front matter ``_FRONT_MATTER.split`` finds in ``text`` (which it
    detected), or None where that finds no closing line.

    It searches all of the text line by line with its pattern; the closing
    line starts with `---`, so only such lines are tried.
    """
    boundary = _FRONT_MATTER.FM_BOUNDARY
    first = boundary.match(text)
    if first is None:
        return None
    start = first.end()
    line = text.find("\n---", max(start - 1, 0))
    while line >= 0:
        if boundary.match(text, line + 1) is not None:
            return text[start : line + 1]
        line = text.find("\n---", line + 1)
    return None


class _ArticleReader(FieldReader):
    """Pulls the known fields out of one front-matter mapping into an Article.

    Only known fields are read, so ``secured`` and unknown fields cannot
    reach an Article, a feed or a message. Nested readers of the same kind
    read an article's related articles and providers.
    """

    def article(self, source: str) -> Article:
        title = shorten(self.required_text("title"), MAX_TITLE_LENGTH)
        link, original = self.links()
        published = self.required_date("publishedDateTime")
        updated = self.optional(self.optional_date, "updatedDateTime") or published
        published_flag = self.optional(self.optional_bool, "published")
        return Article(
            id=entry_id(link),
            title_utf8=title.encode(),
            link=link,
            original_link=original,
            published=published,
            updated=max(updated, published),
            summary_utf8=self.summary().encode(),
            category=_shared_label(shorten_label(self.optional(self.optional_text, "category"))),
            topics=self.topics(),
            provider=self.optional(self.provider, "provider"),
            images=self.images(),
            related=self.related(),
            quality=self.optional(self.optional_number, "quality"),
            heat=self.optional(self.optional_number, "heat"),
            is_published=True if published_flag is None else published_flag,
            source=source,
        )

    # --- texts and links -----------------------------------------------

    def related_summary(self) -> str | None:
        text = self.optional(self.optional_text, "excerpt")
        if text is None:
            return None
        if not is_markup(text):  # cleaned text without markup is its own plain text
            return shorten(text, RELATED_SUMMARY_LENGTH)
        text = html_to_text(sanitize_excerpt(text))
        return shorten(text, RELATED_SUMMARY_LENGTH) if text else None

    def summary(self) -> str:
        """The excerpt as safe HTML; past the configured length, plain text cut at a word."""
        summary = text = self.optional(self.optional_text, "excerpt") or ""
        if is_markup(summary):  # else both are the cleaned text as it is
            summary = sanitize_excerpt(summary)
            text = html_to_text(summary)
        limit = self.options.summary_length
        return html.escape(shorten(text, limit), quote=False) if len(text) > limit else summary

    def links(self) -> tuple[str, str | None]:
        # A bad webUrl rejects even beside a good originalUrl: the link is the
        # entry's identity, and quietly taking the other would change it.
        web = self.optional_url("webUrl")
        if web is None:
            original = self.optional_url("originalUrl")
            if original is None:
                raise FieldError(f"missing link: set {self.name('webUrl')} or originalUrl")
            return original, original
        return web, self.optional(self.optional_url, "originalUrl")

    # --- structures ----------------------------------------------------

    def topics(self) -> tuple[str, ...]:
        value = self.data.get("topics")
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value  # `topics: AI` means one topic
        if not isinstance(items, list):
            self.warn(f"topics: expected a list of topics, got {kind_of(value)}")
            return ()
        texts = []
        for index, item in enumerate(items):
            if item is None:
                continue  # a blank `- ` line
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                self.warn(f"topics[{index}]: expected text, got {kind_of(item)}")
                continue
            texts.append(item)
        # Repeats are dropped before any cleaning, so a thousand aliases of one
        # huge text cost one clean.
        distinct = tuple(dict.fromkeys(str(item) for item in texts))
        if (
            len(distinct) <= MAX_TOPICS
            and max(map(len, distinct), default=0) <= _CACHED_TEXT_LENGTH
        ):
            return _topic_names(distinct)  # the same few lists recur in many articles
        return shared_topics(topic_names(distinct, MAX_TOPICS, MAX_LABEL_LENGTH))

    def provider(self, key: str) -> Provider | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str):  # `provider: Reuters` names the provider alone
            label = shorten_label(clean_line(value))
            return provider_of(label) if label else None
        if not isinstance(value, dict):
            raise FieldError(f"{self.name(key)}: expected a mapping with name and domain")
        name, domain = value.get("name"), value.get("domain")
        if _is_short_text(name) and _is_short_text(domain):
            try:  # a few providers recur in thousands of articles
                return _plain_provider(name, domain, self.options)
            except FieldError:
                pass  # not cached: read again below, for the warning with its field name
        return self.provider_mapping(value, key)

    def provider_mapping(self, value: Mapping[str, Any], key: str) -> Provider | None:
        nested = self.nested(value, f"{self.name(key)}.")
        domain = nested.optional(nested.optional_text, "domain")
        if domain is not None:
            domain = domain.lower()
            if not is_host_name(domain):
                self.warn(f"{self.name(key)}.domain: not a domain name")
                domain = None
        name = shorten_label(nested.optional(nested.optional_text, "name")) or domain
        return provider_of(name, domain) if name else None

    def images(self) -> Images:
        images = []
        for name, data in self.mappings("images", MAX_IMAGES, "a mapping with a url"):
            try:
                url = self.nested(data).required_url("url")
            except FieldError as error:
                self.warn(f"{name}: {error}")
                continue
            item = self.nested(data, f"{name}.")
            width = item.optional(item.optional_size, "width")
            height = item.optional(item.optional_size, "height")
            images.append(Images.item_fields(url, width, height))
        return Images.from_fields(images)  # type: ignore[no-any-return]

    def related(self) -> Related:
        related = []
        shape = "a mapping with a title and a link"
        for name, data in self.mappings("related", MAX_RELATED, shape):
            # What an item cannot do without, read without its name: the warning
            # that drops the item names it once ("related[1]: missing title").
            required = self.nested(data)
            try:
                link = required.optional_url("webUrl") or required.optional_url("originalUrl")
                if link is None:
                    raise FieldError("missing link: set webUrl or originalUrl")
                title = shorten(required.required_text("title"), MAX_TITLE_LENGTH)
            except FieldError as error:
                self.warn(f"{name}: {error}")
                continue
            item = self.nested(data, f"{name}.")
            related.append(
                Related.item_fields(
                    title,
                    link,
                    item.optional(item.optional_date, "publishedDateTime"),
                    item.optional(item.provider, "provider"),
                    item.related_summary(),
                )
            )
        return Related.from_fields(related)  # type: ignore[no-any-return]


#: Longer names and domains are read every time rather than kept.
_CACHED_TEXT_LENGTH = 200


def _is_short_text(value: object) -> bool:
    return value is None or (type(value) is str and len(value) <= _CACHED_TEXT_LENGTH)


@lru_cache(maxsize=1024)
def _plain_provider(name: str | None, domain: str | None, options: ReadOptions) -> Provider | None:
    """A provider mapping's reading (``_ArticleReader.provider``), kept for its
    values. Raises ``FieldError`` (so nothing is kept) when a part of it is
    dropped: its warning must be made again, under the field's own name."""
    reader = _ArticleReader({}, UTC, options)
    provider = reader.provider_mapping({"name": name, "domain": domain}, "provider")
    if reader.warnings:
        raise FieldError(reader.warnings[0])
    return provider


@lru_cache(maxsize=4096)
def _topic_names(distinct: tuple[str, ...]) -> tuple[str, ...]:
    """``topics``' reading of these texts (a few, each short), kept for its value."""
    return shared_topics(topic_names(distinct, MAX_TOPICS, MAX_LABEL_LENGTH))


def _shared_label(label: str | None) -> str | None:
    return None if label is None else shared(label)


# --- reading many files on several cores -------------------------------------

#: Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 400
_BATCH = 200

#: One seed file's result, as `read_many` gives it: (name, article, reason
#: rejected, warnings, fingerprint), its article or its rejection, and the
#: version of the file read (None: none was read). `Reading` is the article
#: and warnings of a file read without error.
SeedResult = tuple[str, Article | None, str | None, tuple[str, ...], Fingerprint | None]


def read_many(
    names: Sequence[str], tz: tzinfo, options: ReadOptions = DEFAULT_OPTIONS
) -> Iterator[SeedResult]:
    """Reads the files ``names``, in order, on every core when there are many.

    Parsing YAML is most of a cold build's time and is CPU-bound, so large
    batches go to worker processes. They are forked when this process has no
    other thread (a one-shot build), which spares starting an interpreter
    and importing the reader again; beside the daemon's threads they come
    from a forkserver. Results come back in the order of ``names``.
    """
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or len(names) < PARALLEL_THRESHOLD:
        for name in names:
            yield _seed_result(name, tz, options)
        return
    batches = [list(names[i : i + _BATCH]) for i in range(0, len(names), _BATCH)]
    read_batch = partial(_read_batch, tz=tz, options=options)
    inherit = processes.can_fork()
    preload = () if inherit else ["feeds.seeds.reader"]
    with processes.spread(
        read_batch, batches, workers=workers, inherit=inherit, preload=preload
    ) as results:
        for batch, outcomes in zip(batches, results, strict=True):
            for name, (packed, reason, warnings, fingerprint) in zip(batch, outcomes, strict=True):
                yield _unpacked(name, packed, reason, warnings, fingerprint, tz, options)


_Packed = tuple[Packed | None, str | None, tuple[str, ...], Fingerprint | None]


def _read_batch(names: list[str], tz: tzinfo, options: ReadOptions) -> list[_Packed]:
    # Articles cross the process boundary as plain tuples: unpacking them is
    # about half the cost of unpickling dataclasses, and it is the parent's
    # work, which the workers wait for. ArticleError does not survive
    # pickling (its __init__ takes two arguments): errors go as plain reasons.
    outcomes: list[_Packed] = []
    for name in names:
        try:
            reading = read_seed(Path(name), tz, options)
        except ArticleError as error:
            outcomes.append((None, error.reason, (), error.fingerprint))
        else:
            outcomes.append((pack(reading.article), None, reading.warnings, reading.fingerprint))
    return outcomes


def _unpacked(
    name: str,
    packed: Packed | None,
    reason: str | None,
    warnings: tuple[str, ...],
    fingerprint: Fingerprint | None,
    tz: tzinfo,
    options: ReadOptions,
) -> SeedResult:
    if packed is None:
        return name, None, reason, (), fingerprint
    try:
        return name, unpack(packed, source=name), None, warnings, fingerprint
    except (TypeError, ValueError):  # never expected of our own workers; read it here
        return _seed_result(name, tz, options)


def _seed_result(name: str, tz: tzinfo, options: ReadOptions) -> SeedResult:
    try:
        reading = read_seed(Path(name), tz, options)
    except ArticleError as error:
        return name, None, error.reason, (), error.fingerprint
    return name, reading.article, None, reading.warnings, reading.fingerprint
