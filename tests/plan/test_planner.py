"""The planner, kept current seed by seed, plans what the simple reference
planner plans from all seeds at once.

After any sequence of saves, deletions, duplicates, embargoes and clock moves,
`Planner` must give the plans the reference (tests/reference/planner.py) gives
for the same seeds (which the golden files and the feed specs pin down), and
reuse the plan objects of feeds the change did not touch.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import Config, load_config
from feeds.model import Article, Provider
from feeds.plan.planner import Planner
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
def _article(draw: st.DrawFn, path: str) -> Article:
    number = draw(st.integers(0, 7))  # few links: duplicates happen
    published = START + timedelta(days=draw(st.integers(0, 120)), hours=draw(st.integers(0, 3)))
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
        is_published=draw(st.booleans()),
        source=path,
    )


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


@pytest.mark.parametrize("published_only", [False, True])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_steps())
def test_plans_equal_the_reference_plans_after_any_changes(
    tmp_path: Path, published_only: bool, steps: list[tuple[str, object]]
) -> None:
    config = _config(tmp_path, published_only)
    planner = Planner(config)
    seeds: dict[str, Article] = {}
    moment = START + timedelta(days=60)
    for action, value in steps:
        if action == "save":
            assert isinstance(value, tuple)
            path: str = value[0]
            article: Article = value[1]
            seeds[path] = article
            planner.update([(path, article)])
        elif action == "retitle":
            assert isinstance(value, tuple)
            path, number = value[0], value[1]
            if path in seeds:
                seeds[path] = replace(seeds[path], title_utf8=f"Retitled {number}".encode())
                planner.update([(path, seeds[path])])
        elif action == "delete":
            seeds.pop(str(value), None)
            planner.update([(str(value), None)])
        elif action == "clock":
            assert isinstance(value, timedelta)
            moment += value
        else:
            planned = planner.plans_at(moment)
            expected = reference.plans_at(seeds.values(), moment, config)
            assert planned.plans == expected.plans
            assert planned.visible == expected.visible
            assert planned.duplicates == expected.duplicates
            assert planned.next_embargo == expected.next_embargo


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
    planner.update([(oldest, replace(articles[oldest], title_utf8=b"Edited"))])
    plans = {plan.stem: plan for plan in planner.plans_at(moment).plans}
    assert [a.title for a in plans["archive/all/2024-01"].entries] == ["Edited"]
    assert [a.title for a in plans["archive/topics/space/2024-01"].entries] == ["Edited"]
    assert [a.title for a in plans["archive/all/2024-02"].entries] == ["Original"]
