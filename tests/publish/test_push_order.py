"""Specs of the push order: whatever the seeds did between two pushes, a
reader who enters the bucket at any moment of a push (at the index page,
the OPML list, or any object there before the push) never follows a link
to an object that is missing.

The pushes are simulated over a bucket in memory: each batch of the real
plan is applied one object at a time, in the batch's order and reversed
(a batch's uploads run at once, so they may land in any order), then the
deletions one at a time, and the bucket is checked after every step.

Two breaks no order can avoid are allowed, and only those: on a first push,
the index page and the OPML list link to each other, so the first of them
stored links to the second for a moment; and while stale objects are
deleted, one still there may link to one already gone that linked back to
it (an archive and its feed link to each other, and archives to their
neighbours), but nothing that stays links to either."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.remote.local import ENTRY_NAMES, OutputFolder
from feeds.remote.manifest import EMPTY, Manifest
from feeds.remote.plan import PushPlan, Upload, plan_push
from tests.publish.bucket import reachable, roots, unreachable_breaks
from tests.publish.sites import (
    BASE,
    PREFIX,
    Article,
    build_site,
    output_bodies,
    site_config,
    target,
    wanted_entries,
)

TOPICS = ("AI", "Web", "Go")
ENTRY_KEYS = frozenset(PREFIX + name for name in ENTRY_NAMES)

Bucket = dict[str, bytes]
Break = tuple[str, str]


def breaks_now(bucket: Mapping[str, bytes], before: Iterable[str]) -> list[Break]:
    return unreachable_breaks(
        bucket, base_url=BASE, prefix=PREFIX, roots=roots(before, prefix=PREFIX)
    )


def unavoidable(found: Break, before: set[str], stale: Mapping[str, bytes]) -> bool:
    """Whether no order could have spared a reader ``found``: the entry
    documents on a first push, or a stale object linking to one already
    deleted that links back to it (directly or through other stale ones)."""
    source, missing = found
    if source in ENTRY_KEYS and missing in ENTRY_KEYS - before:
        return True
    if source not in stale or missing not in stale:
        return False
    return source in reachable(stale, base_url=BASE, prefix=PREFIX, roots=[missing])


def apply_plan(bucket: Bucket, work: PushPlan, folder: OutputFolder, *, reverse: bool) -> list[str]:
    """Applies ``work`` to ``bucket`` one object at a time; every break met,
    described with the step that made it."""
    before = set(bucket)
    # What the stale objects hold, as the bucket had them before the push.
    stale = {key: bucket[key] for key in (PREFIX + name for name in work.deletions)}
    problems: list[str] = []

    def check(step: str) -> None:
        found = [b for b in breaks_now(bucket, before) if not unavoidable(b, before, stale)]
        problems.extend(f"after {step}: {source} -> {missing}" for source, missing in found)

    for number, batch in enumerate(work.batches):
        uploads: Iterable[Upload] = reversed(batch) if reverse else batch
        for upload in uploads:
            body = folder.read(upload.object.name)
            assert body is not None
            bucket[PREFIX + upload.object.name] = body
            check(f"batch {number} put {upload.object.name}")
    for name in work.deletions:
        del bucket[PREFIX + name]
        check(f"delete {name}")
    return problems


def push_in_memory(bucket: Bucket, manifest: Manifest, output: Path) -> Manifest:
    """Pushes ``output`` in both orders of every batch; the bucket as the
    push leaves it, and the manifest it would write."""
    where = target()
    folder = OutputFolder(output)
    work = plan_push(folder.scan(), manifest, where)
    for reverse in (True, False):
        trial = dict(bucket) if reverse else bucket
        problems = apply_plan(trial, work, folder, reverse=reverse)
        assert problems == [], f"{'reversed' if reverse else 'plan'} order: {problems[:5]}"
    assert bucket == output_bodies(output)
    return Manifest(wanted_entries(output, where))


@dataclass(frozen=True)
class Change:
    """A change to the seeds: ``kind`` is add (an article in ``month`` on
    ``topics``), retitle, delete, or topics (``topics`` replace those of an
    article); ``which`` picks the article."""

    kind: str
    month: int = 1
    which: int = 0
    topics: tuple[str, ...] = ()


topic_sets = st.lists(st.sampled_from(TOPICS), min_size=1, max_size=2, unique=True).map(tuple)
adds = st.builds(Change, kind=st.just("add"), month=st.integers(1, 5), topics=topic_sets)
changes = st.one_of(
    adds,
    st.builds(Change, kind=st.sampled_from(("retitle", "delete")), which=st.integers(0, 99)),
    st.builds(Change, kind=st.just("topics"), which=st.integers(0, 99), topics=topic_sets),
)


def apply_change(articles: dict[int, Article], change: Change, serial: int) -> None:
    if change.kind == "add":
        articles[serial] = Article(f"Article {serial}", change.month, change.topics)
        return
    if not articles:
        return
    key = sorted(articles)[change.which % len(articles)]
    old = articles[key]
    if change.kind == "retitle":
        articles[key] = Article(old.title + " (revised)", old.month, old.topics)
    elif change.kind == "delete":
        del articles[key]
    else:
        articles[key] = Article(old.title, old.month, change.topics)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    max_items=st.sampled_from((2, 3)),
    first=st.lists(adds, min_size=1, max_size=7),
    saves=st.lists(st.lists(changes, min_size=1, max_size=3), min_size=1, max_size=5),
)
def test_no_reader_meets_a_broken_link_at_any_step_of_any_push(
    max_items: int, first: list[Change], saves: list[list[Change]]
) -> None:
    with tempfile.TemporaryDirectory(prefix="feeds-order-") as scratch:
        config = site_config(Path(scratch), max_items=max_items)
        articles: dict[int, Article] = {}
        bucket: Bucket = {}
        manifest = EMPTY
        serial = 0
        for save in [first, *saves]:
            for change in save:
                apply_change(articles, change, serial)
                serial += 1
            build_site(config, articles)
            manifest = push_in_memory(bucket, manifest, config.output)


def pushed_site(scratch: Path) -> tuple[Path, Bucket, Manifest, dict[int, Article]]:
    """A site with archives (three months, two articles a feed), pushed."""
    config = site_config(scratch, max_items=2)
    articles = {key: Article(f"Article {key}", 1 + key // 2, ("AI",)) for key in range(6)}
    build_site(config, articles)
    bucket: Bucket = {}
    manifest = push_in_memory(bucket, EMPTY, config.output)
    return config.output, bucket, manifest, articles


def wrong_order_problems(tmp_path: Path, change: Article, first: int) -> list[str]:
    """The breaks a push of ``change`` (a new article) meets with its plan's
    batch ``first`` moved to the front."""
    output, bucket, manifest, articles = pushed_site(tmp_path)
    articles[99] = change
    build_site(site_config(tmp_path, max_items=2), articles)
    folder = OutputFolder(output)
    work = plan_push(folder.scan(), manifest, target())
    # New archives, changed ones, feeds, pages, the index page, the OPML list.
    assert len(work.batches) == 6
    batches = [work.batches[first], *(b for b in work.batches if b is not work.batches[first])]
    reordered = PushPlan(tuple(batches), work.deletions, work.unchanged)
    return apply_plan(bucket, reordered, folder, reverse=False)


def test_the_checks_catch_feeds_uploaded_before_their_new_archive(tmp_path: Path) -> None:
    # A newer month: its archive-to-be is new, and every feed's prev-archive
    # moves to it: the feeds (batch 2) first.
    problems = wrong_order_problems(tmp_path, Article("Newest", 5, ("AI",)), 2)

    # The feed had March's articles; March is now an archive, new.
    assert (
        "after batch 0 put all.atom.xml: site/all.atom.xml -> site/archive/all/2024-03.atom.xml"
        in problems
    ), problems


def test_the_checks_catch_the_index_page_uploaded_before_a_new_topics_page(
    tmp_path: Path,
) -> None:
    # An article on a new topic; the index page (batch 4) first.
    problems = wrong_order_problems(tmp_path, Article("On Go", 3, ("Go",)), 4)

    assert any(
        problem.startswith("after batch 0 put index.html: site/index.html -> site/topics/go.html")
        for problem in problems
    ), problems


def test_the_checks_catch_stale_objects_deleted_in_name_order(tmp_path: Path) -> None:
    output, bucket, manifest, articles = pushed_site(tmp_path)
    articles = {key: Article(a.title, a.month, ("Web",)) for key, a in articles.items()}
    build_site(site_config(tmp_path, max_items=2), articles)
    folder = OutputFolder(output)
    work = plan_push(folder.scan(), manifest, target())
    assert "topics/ai.html" in work.deletions
    by_name = PushPlan(work.batches, tuple(sorted(work.deletions)), work.unchanged)

    problems = apply_plan(bucket, by_name, folder, reverse=False)

    # The page offers the feed: it must go first. JSON Feed archives link
    # only to older ones: the older must go last.
    assert "after delete topics/ai.atom.xml: site/topics/ai.html -> site/topics/ai.atom.xml" in (
        problems
    )
    assert (
        "after delete archive/topics/ai/2024-01.json: "
        "site/archive/topics/ai/2024-02.json -> site/archive/topics/ai/2024-01.json"
    ) in problems
