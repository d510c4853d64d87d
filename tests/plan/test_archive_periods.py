"""Archive periods (docs/ARCHIVES.md): every archive document is bounded in
entries and estimated bytes, a busy month is cut into halves of its span,
one save re-plans a bounded number of archives whatever the feed's size, and
the RFC 5005 chain still reaches every article once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import Config, load_config
from feeds.model import Article
from feeds.plan.periods import DOCUMENT_ALLOWANCE, PeriodLimits, entry_weight, periods
from feeds.plan.planner import Planner
from feeds.plan.plans import FeedPlan, sort_key
from tests.reference import planner as reference

START = datetime(2025, 3, 1, tzinfo=UTC)
LATE = datetime(2026, 1, 1, tzinfo=UTC)

CONFIG_TEXT = """\
max_items: {max_items}
archive_max_items: {archive_max_items}
max_bytes: 16384
facets:
  categories: true
"""


def _config(tmp_path: Path, max_items: int = 2, archive_max_items: int = 2) -> Config:
    path = tmp_path / f"feeds-{max_items}-{archive_max_items}.yaml"
    path.write_text(CONFIG_TEXT.format(max_items=max_items, archive_max_items=archive_max_items))
    return load_config(path, seeds=tmp_path / "seeds", output=tmp_path / "output")


def numbered_article(
    number: int, published: datetime, summary: int = 0, title: str = "T"
) -> Article:
    """Article ``number`` at /seeds/<number>.md, its summary ``summary`` bytes long."""
    return Article(
        id=f"urn:uuid:{number:08d}-0000-0000-0000-000000000000",
        title_utf8=title.encode(),
        link=f"https://example.org/{number}",
        original_link=None,
        published=published,
        updated=published,
        summary_utf8=b"s" * summary,
        category="News" if number % 2 else None,
        topics=("AI",) if number % 3 else ("AI", "Space"),
        provider=None,
        images=(),
        related=(),
        quality=None,
        heat=None,
        is_published=True,
        source=f"/seeds/{number}.md",
    )


#: Instants that collide to the microsecond, and spans that halve unevenly.
_OFFSETS = (
    timedelta(0),
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(seconds=1),
    timedelta(days=3, hours=5),
    timedelta(days=14),
    timedelta(days=30, hours=23, minutes=59),
    timedelta(days=33),
)


@st.composite
def _saves(draw: st.DrawFn) -> list[tuple[str, object]]:
    steps: list[tuple[str, object]] = []
    for _ in range(draw(st.integers(1, 40))):
        number = draw(st.integers(0, 14))
        action = draw(st.sampled_from(["save", "save", "save", "retitle", "delete", "plan"]))
        if action == "save":
            published = START + draw(st.sampled_from(_OFFSETS))
            summary = draw(st.sampled_from([0, 0, 700, 3000]))  # 3000: one to a period
            steps.append(("save", numbered_article(number, published, summary)))
        else:
            steps.append((action, number))
    steps.append(("plan", None))
    return steps


@pytest.mark.parametrize(("max_items", "archive_max_items"), [(1, 1), (2, 2), (3, 5)])
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_saves())
def test_bucketed_archives_equal_the_reference_after_any_changes(
    tmp_path: Path, max_items: int, archive_max_items: int, steps: list[tuple[str, object]]
) -> None:
    config = _config(tmp_path, max_items, archive_max_items)
    planner = Planner(config)
    seeds: dict[int, Article] = {}
    for action, value in steps:
        if action == "plan":
            assert (
                planner.plans_at(LATE).plans
                == reference.plans_at(seeds.values(), LATE, config).plans
            )
            continue
        if isinstance(value, Article):
            number = int(value.link.rsplit("/", 1)[1])
            seeds[number] = value
        elif action == "delete":
            assert isinstance(value, int)
            gone = seeds.pop(value, None)
            if gone is not None:
                planner.update([(gone.source, None)])
            continue
        else:
            assert isinstance(value, int)
            if value not in seeds:
                continue
            number = value
            seeds[number] = seeds[number].rewritten(title_utf8=b"Retitled")
        planner.update([(seeds[number].source, seeds[number])])


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 31 * 86_400_000_000 - 1), max_size=120),
    summaries=st.lists(st.sampled_from([0, 100, 2000, 6000]), min_size=1),
    max_items=st.integers(1, 20),
)
def test_every_bucket_is_within_both_limits_unless_it_holds_one_entry(
    offsets: list[int], summaries: list[int], max_items: int
) -> None:
    articles = [
        numbered_article(number, START + timedelta(microseconds=offset // 1000 * 1000), summary)
        for number, (offset, summary) in enumerate(zip(offsets, summaries * 120, strict=False))
    ]
    ordered = sorted(articles, key=sort_key)
    limits = PeriodLimits.of(max_items, 16 * 1024)
    found = periods("2025-03", ordered, limits)
    if not any("h" in period.name for period in found):  # spans follow each other in time
        assert [article for period in found for article in period.articles] == ordered
    assert sorted((a for period in found for a in period.articles), key=sort_key) == ordered
    for period in found:
        weight = sum(entry_weight(article) for article in period.articles)
        assert len(period.articles) == 1 or (
            len(period.articles) <= max_items and weight <= 16 * 1024 - DOCUMENT_ALLOWANCE
        )
        assert all(period.holds(article.published) for article in period.articles)
    assert len({period.name for period in found}) == len(found)


def _archives(plans: Iterable[FeedPlan], stem: str) -> list[FeedPlan]:
    return [plan for plan in plans if plan.archive_of == stem]


def test_a_month_within_the_limit_keeps_its_name(tmp_path: Path) -> None:
    config = _config(tmp_path, max_items=1, archive_max_items=5)
    planner = Planner(config)
    planner.update(
        [(a.source, a) for a in (numbered_article(n, START + timedelta(days=n)) for n in range(4))]
    )
    stems = [plan.stem for plan in _archives(planner.plans_at(LATE).plans, "all")]
    assert stems == ["archive/all/2025-03"]


def test_a_busy_month_is_cut_into_halves_of_its_span(tmp_path: Path) -> None:
    config = _config(tmp_path, max_items=1, archive_max_items=2)
    planner = Planner(config)
    days = (0, 1, 20, 21, 30)
    planner.update(
        [
            (a.source, a)
            for a in (numbered_article(n, START + timedelta(days=d)) for n, d in enumerate(days))
        ]
    )
    archives = _archives(planner.plans_at(LATE).plans, "all")
    # The halves of March split at the 16th, noon; the newer half again at
    # the 24th, 6 am; its newer part holds only what the main document shows.
    assert [plan.stem for plan in archives] == ["archive/all/2025-03_0", "archive/all/2025-03_10"]
    assert [plan.total for plan in archives] == [2, 2]


def test_the_chain_from_the_main_document_reaches_every_article_once(tmp_path: Path) -> None:
    config = _config(tmp_path, max_items=3, archive_max_items=4)
    articles = [numbered_article(n, START + timedelta(hours=7 * n)) for n in range(300)]
    planner = Planner(config)
    planner.update([(a.source, a) for a in articles])
    plans = {plan.stem: plan for plan in planner.plans_at(LATE).plans}
    seen: list[str] = []
    document: FeedPlan | None = plans["all"]
    while document is not None:
        seen.extend(article.id for article in document.entries)
        document = plans[document.prev_archive] if document.prev_archive else None
    assert sorted(seen) == sorted(article.id for article in articles)
    assert len(seen) == len(set(seen))


def _changed_archives(before: list[FeedPlan], after: list[FeedPlan]) -> list[FeedPlan]:
    old = {plan.stem: plan for plan in before}
    return [plan for plan in after if plan.archive_of and old.get(plan.stem) != plan]


@pytest.mark.parametrize("size", [200, 4000])
def test_an_article_backdated_into_a_busy_month_rewrites_three_buckets_worth_at_most(
    tmp_path: Path, size: int
) -> None:
    config = _config(tmp_path, max_items=10, archive_max_items=20)
    month = timedelta(days=31) / size
    articles = [numbered_article(n, START + n * month) for n in range(size)]
    planner = Planner(config)
    planner.update([(a.source, a) for a in articles])
    before = list(planner.plans_at(LATE).plans)
    late_comer = numbered_article(size, START + timedelta(days=9, minutes=7))
    planner.update([(late_comer.source, late_comer)])
    after = list(planner.plans_at(LATE).plans)
    combined = [plan for plan in _changed_archives(before, after) if plan.archive_of == "all"]
    # Its period, perhaps cut in parts, and the neighbours whose links moved.
    assert combined
    assert sum(len(plan.entries) for plan in combined) <= 3 * 20 + 1


def test_archives_older_than_a_new_article_do_not_change(tmp_path: Path) -> None:
    config = _config(tmp_path, max_items=10, archive_max_items=20)
    articles = [numbered_article(n, START + timedelta(hours=5 * n)) for n in range(1000)]
    planner = Planner(config)
    planner.update([(a.source, a) for a in articles])
    before = [p for p in planner.plans_at(LATE).plans if p.archive_of == "all"]
    newest = numbered_article(5000, START + timedelta(hours=5 * 1000))
    planner.update([(newest.source, newest)])
    after = {p.stem: p for p in planner.plans_at(LATE).plans if p.archive_of == "all"}
    changed = [plan.stem for plan in before if after.get(plan.stem) != plan]
    # Only the newest archive: it takes the entry the main document let go.
    assert changed == [before[-1].stem]
