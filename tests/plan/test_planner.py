"""The planner, kept current seed by seed, plans what the simple reference
planner plans from all seeds at once.

After any sequence of saves, deletions, duplicates, embargoes and clock moves,
`Planner` must give the plans the reference (tests/reference/planner.py) gives
for the same seeds (which the golden files and the feed specs pin down), and
reuse the plan objects of feeds the change did not touch.

The planner makes an archive again only when an article left its month, its
count changed, or its month is partly in the main document. A second property
test keeps every article visible on a few days of four months, so that edits,
moves and deletions inside archived months, seen across several plans, are
common rather than rare. The focused tests at the end pin down each of those
three reasons, and the new links of an archive kept, each with a sequence
that nothing else catches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import Config, load_config
from feeds.model import Article, Provider
from feeds.plan.planner import Planner
from feeds.plan.plans import FeedPlan
from tests.reference import planner as reference

START = datetime(2024, 1, 1, tzinfo=UTC)

#: Topics whose slugs collide ("C" and "C++"), so the slug rules are exercised.
TOPICS = ("AI", "ai", "C", "C++", "Robots", "Space")

CONFIG_TEXT = """\
max_items: 3
published_only: {published_only}
custom_feeds:
  - name: robots-or-space
    topics_any: [Robots, Space]
  - name: quality
    min_quality: 0.5
facets:
  categories: true
  providers: true
"""


def _config(tmp_path: Path, published_only: bool) -> Config:
    path = tmp_path / f"feeds-{published_only}.yaml"
    path.write_text(CONFIG_TEXT.format(published_only=str(published_only).lower()), "utf-8")
    return load_config(path, seeds=tmp_path / "seeds", output=tmp_path / "output")


@st.composite
def _article(draw: st.DrawFn, path: str, visible: bool = False) -> Article:
    """``visible``: published, on one of a few days of January to April
    (before `LATE`), so that months fill and overflow into archives."""
    number = draw(st.integers(0, 7))  # few links: duplicates happen
    days = st.sampled_from(_DAYS) if visible else st.integers(0, 120)
    published = START + timedelta(days=draw(days), hours=draw(st.integers(0, 3)))
    return Article(
        id=f"urn:uuid:{number:08d}-0000-0000-0000-000000000000",
        title_utf8=draw(st.sampled_from(["One", "Two", "Three"])).encode(),
        link=f"https://example.org/{number}",
        original_link=None,
        published=published,
        updated=published + timedelta(hours=draw(st.integers(0, 48))),
        summary_utf8=b"",
        category=draw(st.none() | st.sampled_from(["News", "Opinion"])),
        topics=tuple(draw(st.lists(st.sampled_from(TOPICS), max_size=3, unique=True))),
        provider=draw(st.none() | st.builds(Provider, st.sampled_from(["A", "B"]))),
        images=(),
        related=(),
        quality=draw(st.none() | st.sampled_from([0.2, 0.9])),
        heat=None,
        is_published=visible or draw(st.booleans()),
        source=path,
    )


#: Days after `START` in four months, two or three a month.
_DAYS = (0, 9, 20, 31, 40, 59, 60, 75, 91, 100)
#: After every article of a visible run.
LATE = START + timedelta(days=120)

_PATHS = [f"/seeds/{index}.md" for index in range(10)]


@st.composite
def _steps(draw: st.DrawFn) -> list[tuple[str, object]]:
    steps: list[tuple[str, object]] = []
    for _ in range(draw(st.integers(1, 25))):
        action = draw(
            st.sampled_from(["save", "save", "save", "retitle", "delete", "plan", "clock"])
        )
        if action == "retitle":  # the same file saved again with only its title changed
            steps.append(("retitle", (draw(st.sampled_from(_PATHS)), draw(st.integers(0, 99)))))
        elif action == "save":
            path = draw(st.sampled_from(_PATHS))
            steps.append(("save", (path, draw(_article(path)))))
        elif action == "delete":
            steps.append(("delete", draw(st.sampled_from(_PATHS))))
        elif action == "clock":
            steps.append(("clock", timedelta(days=draw(st.integers(-60, 90)))))
        else:
            steps.append(("plan", None))
    steps.append(("plan", None))
    return steps


@st.composite
def _archive_steps(draw: st.DrawFn) -> list[tuple[str, object]]:
    """Saves, re-saves to another day (within the month or out of it),
    retitles and deletions of visible articles, planned often."""
    steps: list[tuple[str, object]] = []
    for _ in range(draw(st.integers(1, 30))):
        action = draw(st.sampled_from(["save", "save", "redate", "retitle", "delete", "plan"]))
        path = draw(st.sampled_from(_PATHS))
        if action == "save":
            steps.append(("save", (path, draw(_article(path, visible=True)))))
        elif action == "redate":
            steps.append(("redate", (path, draw(st.sampled_from(_DAYS)))))
        elif action == "retitle":
            steps.append(("retitle", (path, draw(st.integers(0, 99)))))
        elif action == "delete":
            steps.append(("delete", path))
        else:
            steps.append(("plan", None))
    steps.append(("plan", None))
    return steps


@pytest.mark.parametrize("published_only", [False, True])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_steps())
def test_plans_equal_the_reference_plans_after_any_changes(
    tmp_path: Path, published_only: bool, steps: list[tuple[str, object]]
) -> None:
    _run(_config(tmp_path, published_only), START + timedelta(days=60), steps)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_archive_steps())
def test_archives_equal_the_reference_archives_after_changes_inside_their_months(
    tmp_path: Path, steps: list[tuple[str, object]]
) -> None:
    _run(_config(tmp_path, published_only=False), LATE, steps)


def _run(config: Config, moment: datetime, steps: list[tuple[str, object]]) -> None:
    """Applies ``steps`` to a planner and to the seeds, and compares the
    planner with the reference on the seeds at each plan."""
    planner = Planner(config)
    seeds: dict[str, Article] = {}
    for action, value in steps:
        if action == "clock":
            assert isinstance(value, timedelta)
            moment += value
        elif action == "plan":
            _assert_plans_equal_the_reference(planner, seeds.values(), moment, config)
        else:
            _change(planner, seeds, action, value)


def _change(planner: Planner, seeds: dict[str, Article], action: str, value: object) -> None:
    """Saves, re-saves with a change, or deletes a seed file."""
    if action == "delete":
        seeds.pop(str(value), None)
        planner.update([(str(value), None)])
        return
    assert isinstance(value, tuple)
    path: str = value[0]
    if action == "save":
        seeds[path] = value[1]
    elif path not in seeds:
        return
    elif action == "retitle":  # the same file saved again with only its title changed
        seeds[path] = seeds[path].rewritten(title_utf8=f"Retitled {value[1]}".encode())
    else:  # "redate": saved again with another date
        old = seeds[path]
        published = START + timedelta(days=value[1], hours=old.published.hour)
        updated = published + (old.updated - old.published)
        seeds[path] = replace(old, published=published, updated=updated)
    planner.update([(path, seeds[path])])


def _assert_plans_equal_the_reference(
    planner: Planner, seeds: Iterable[Article], moment: datetime, config: Config
) -> None:
    planned = planner.plans_at(moment)
    expected = reference.plans_at(seeds, moment, config)
    assert planned.plans == expected.plans
    assert planned.visible == expected.visible
    assert planned.duplicates == expected.duplicates
    assert planned.next_embargo == expected.next_embargo
    assert planned.embargoed == expected.embargoed


def _plain(number: int, published: datetime, topic: str, title: str = "Original") -> Article:
    """A published article on one topic, at /seeds/<number>.md."""
    return Article(
        id=f"urn:uuid:{number:08d}-0000-0000-0000-000000000000",
        title_utf8=title.encode(),
        link=f"https://example.org/{number}",
        original_link=None,
        published=published,
        updated=published,
        summary_utf8=b"",
        category=None,
        topics=(topic,),
        provider=None,
        images=(),
        related=(),
        quality=None,
        heat=None,
        is_published=True,
        source=f"/seeds/{number}.md",
    )


def test_a_save_reuses_the_plans_of_feeds_it_did_not_touch(tmp_path: Path) -> None:
    config = _config(tmp_path, published_only=False)
    planner = Planner(config)

    planner.update(
        (
            f"/seeds/{n}.md",
            _plain(n, START + timedelta(days=n), "Robots" if n % 2 else "Space"),
        )
        for n in range(10)
    )
    before = {plan.stem: plan for plan in planner.plans_at(START + timedelta(days=60)).plans}
    planner.update([("/seeds/4.md", _plain(4, START + timedelta(days=4), "Space", "Edited"))])
    after = {plan.stem: plan for plan in planner.plans_at(START + timedelta(days=60)).plans}
    assert after.keys() == before.keys()
    changed = {stem for stem in after if after[stem] is not before[stem]}
    assert "topics/robots" not in changed
    assert {"all", "topics/space"} <= changed


def test_an_edit_deep_in_the_archives_reaches_its_months_archive(tmp_path: Path) -> None:
    config = _config(tmp_path, published_only=False)
    planner = Planner(config)
    articles = {
        f"/seeds/{month}.md": _plain(month, datetime(2024, month, 3, tzinfo=UTC), "Space")
        for month in range(1, 11)
    }
    planner.update(articles.items())
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    planner.plans_at(moment)
    oldest = "/seeds/1.md"
    planner.update([(oldest, articles[oldest].rewritten(title_utf8=b"Edited"))])
    plans = {plan.stem: plan for plan in planner.plans_at(moment).plans}
    assert [a.title for a in plans["archive/all/2024-01"].entries] == ["Edited"]
    assert [a.title for a in plans["archive/topics/space/2024-01"].entries] == ["Edited"]
    assert [a.title for a in plans["archive/all/2024-02"].entries] == ["Original"]


def _links(plan: FeedPlan) -> list[str]:
    return [article.link for article in plan.entries]


def _planned_like_the_reference(
    planner: Planner, seeds: dict[str, Article], config: Config
) -> dict[str, FeedPlan]:
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    _assert_plans_equal_the_reference(planner, seeds.values(), moment, config)
    return {plan.stem: plan for plan in planner.plans_at(moment).plans}


def test_an_article_that_comes_to_an_archived_month_reaches_its_archive(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, published_only=False)
    planner = Planner(config)
    seeds = {
        f"/seeds/{n}.md": _plain(n, datetime(2024, n, 3, tzinfo=UTC), "Space") for n in range(1, 11)
    }
    planner.update(seeds.items())
    _planned_like_the_reference(planner, seeds, config)
    seeds["/seeds/11.md"] = _plain(11, datetime(2024, 1, 20, tzinfo=UTC), "Space")
    planner.update([("/seeds/11.md", seeds["/seeds/11.md"])])
    plans = _planned_like_the_reference(planner, seeds, config)
    assert _links(plans["archive/all/2024-01"]) == [
        "https://example.org/11",
        "https://example.org/1",
    ]


def test_articles_that_leave_a_partly_archived_month_leave_its_archive(
    tmp_path: Path,
) -> None:
    """March's oldest three are archived, its newest two shown; then two of
    the archived ones go, and two April articles push March out of the main
    document: its archive has three entries again, but other ones."""
    config = _config(tmp_path, published_only=False)
    planner = Planner(config)
    seeds = {
        f"/seeds/{n}.md": _plain(n, datetime(2024, 3, n, tzinfo=UTC), "Space") for n in range(1, 6)
    }
    seeds["/seeds/6.md"] = _plain(6, datetime(2024, 4, 6, tzinfo=UTC), "Space")
    planner.update(seeds.items())
    plans = _planned_like_the_reference(planner, seeds, config)
    assert _links(plans["archive/all/2024-03"]) == [f"https://example.org/{n}" for n in (3, 2, 1)]
    gone = [seeds.pop("/seeds/1.md"), seeds.pop("/seeds/2.md")]
    for n in (7, 8):
        seeds[f"/seeds/{n}.md"] = _plain(n, datetime(2024, 4, n, tzinfo=UTC), "Space")
    planner.update([(article.source, None) for article in gone])
    planner.update([(path, seeds[path]) for path in ("/seeds/7.md", "/seeds/8.md")])
    plans = _planned_like_the_reference(planner, seeds, config)
    assert _links(plans["archive/all/2024-03"]) == [f"https://example.org/{n}" for n in (5, 4, 3)]


def test_an_older_article_in_a_partly_archived_month_reaches_its_archive(
    tmp_path: Path,
) -> None:
    """March's oldest two are archived; an older March article comes and the
    April one goes: March is still partly archived, two entries, other ones."""
    config = _config(tmp_path, published_only=False)
    planner = Planner(config)
    seeds = {
        f"/seeds/{n}.md": _plain(n, datetime(2024, 3, 10 + n, tzinfo=UTC), "Space")
        for n in range(1, 5)
    }
    seeds["/seeds/6.md"] = _plain(6, datetime(2024, 4, 6, tzinfo=UTC), "Space")
    planner.update(seeds.items())
    plans = _planned_like_the_reference(planner, seeds, config)
    assert _links(plans["archive/all/2024-03"]) == [f"https://example.org/{n}" for n in (2, 1)]
    del seeds["/seeds/6.md"]
    seeds["/seeds/9.md"] = _plain(9, datetime(2024, 3, 1, tzinfo=UTC), "Space")
    planner.update([("/seeds/6.md", None), ("/seeds/9.md", seeds["/seeds/9.md"])])
    plans = _planned_like_the_reference(planner, seeds, config)
    assert _links(plans["archive/all/2024-03"]) == [f"https://example.org/{n}" for n in (1, 9)]


def test_an_archive_kept_as_it_was_links_to_its_new_neighbours(tmp_path: Path) -> None:
    """April's only article goes: the March and May archives are unchanged
    but must now link to each other."""
    config = _config(tmp_path, published_only=False)
    planner = Planner(config)
    seeds = {
        f"/seeds/{n}.md": _plain(n, datetime(2024, n, 3, tzinfo=UTC), "Space") for n in range(1, 11)
    }
    planner.update(seeds.items())
    before = _planned_like_the_reference(planner, seeds, config)
    del seeds["/seeds/4.md"]
    planner.update([("/seeds/4.md", None)])
    plans = _planned_like_the_reference(planner, seeds, config)
    assert plans["archive/all/2024-03"].next_archive == "archive/all/2024-05"
    assert plans["archive/all/2024-05"].prev_archive == "archive/all/2024-03"
    assert plans["archive/all/2024-02"] is before["archive/all/2024-02"]
