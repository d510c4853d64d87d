"""Which plans are written as they are: a save looks once at each plan it did
not change, and renders exactly the ones it did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.build.builder import Builder
from feeds.build.digests import PlanDigests
from feeds.config import Config
from feeds.plan.plans import FeedPlan
from tests.conftest import SeedWriter

NOW = datetime(2030, 1, 1, tzinfo=UTC)

MAIN = FeedPlan("all", "all", None, ())
ARCHIVE = FeedPlan("archive/all/2029-12", "all", None, (), archive_of="all")
TOPIC = FeedPlan("topics/ai", "topic", "ai", ())


@pytest.fixture
def digests(make_config: Callable[..., Config]) -> PlanDigests:
    made = PlanDigests(lambda source: None)
    made.configure(make_config())
    return made


def _counting(digests: PlanDigests, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    digest = digests._digest

    def counted(plan: FeedPlan) -> str:
        made.append(plan.stem)
        return digest(plan)

    monkeypatch.setattr(digests, "_digest", counted)
    return made


def test_plans_never_written_are_unwritten_with_their_digests(digests: PlanDigests) -> None:
    unwritten, mains, archives = digests.unwritten([MAIN, ARCHIVE], {})
    assert [plan for plan, _ in unwritten] == [MAIN, ARCHIVE]
    assert [digest for _, digest in unwritten] == [digests.of(MAIN), digests.of(ARCHIVE)]
    assert (mains, archives) == (0, 0)


def test_plans_written_as_they_are_count_as_main_documents_and_archives(
    digests: PlanDigests,
) -> None:
    written = {plan.stem: digests.of(plan) for plan in (MAIN, ARCHIVE, TOPIC)}
    assert digests.unwritten([MAIN, ARCHIVE, TOPIC], written) == ([], 2, 1)


def test_the_same_plan_again_is_settled_without_its_digest_or_the_record(
    digests: PlanDigests, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = {plan.stem: digests.of(plan) for plan in (MAIN, TOPIC)}
    digests.unwritten([MAIN, TOPIC], written)
    made = _counting(digests, monkeypatch)
    looked: list[str] = []

    class Watched(dict[str, str]):
        def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
            looked.append(key)
            return super().get(key, default)

    assert digests.unwritten([MAIN, TOPIC], Watched(written)) == ([], 2, 0)
    assert (made, looked) == ([], [])


def test_a_changed_plan_is_unwritten_and_forgotten_from_the_record(
    digests: PlanDigests,
) -> None:
    written = {plan.stem: digests.of(plan) for plan in (MAIN, TOPIC)}
    digests.unwritten([MAIN, TOPIC], written)
    edited = replace(TOPIC, total=7)
    unwritten, mains, archives = digests.unwritten([MAIN, edited], written)
    assert [plan for plan, _ in unwritten] == [edited]
    assert "topics/ai" not in written
    assert (mains, archives) == (1, 0)


def test_a_plan_settled_once_is_unwritten_after_it_changed_and_came_back(
    digests: PlanDigests,
) -> None:
    """The record no longer holds it: its old plan object must not settle it."""
    written = {TOPIC.stem: digests.of(TOPIC)}
    digests.unwritten([TOPIC], written)
    digests.unwritten([replace(TOPIC, total=7)], written)
    assert [plan for plan, _ in digests.unwritten([TOPIC], written)[0]] == [TOPIC]


def test_after_unsettle_the_record_is_asked_again(digests: PlanDigests) -> None:
    written = {MAIN.stem: digests.of(MAIN)}
    digests.unwritten([MAIN], written)
    written.clear()
    digests.unsettle()
    assert [plan for plan, _ in digests.unwritten([MAIN], written)[0]] == [MAIN]


def test_another_config_settles_nothing(
    digests: PlanDigests, make_config: Callable[..., Config]
) -> None:
    written = {MAIN.stem: digests.of(MAIN)}
    digests.unwritten([MAIN], written)
    digests.configure(make_config("title: Another title\n"))
    assert [plan for plan, _ in digests.unwritten([MAIN], written)[0]] == [MAIN]


def test_a_forced_publish_renders_every_document_again(
    write_seed: SeedWriter, make_config: Callable[..., Config], output: Path
) -> None:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    builder = Builder(make_config())
    builder.scan_all()
    first = builder.publish(NOW)
    assert builder.publish(NOW).rendered == 2  # the index and OPML alone
    forced = builder.publish(NOW, force=True)
    assert forced.rendered == first.rendered
    assert forced.written == []  # the same bytes: nothing rewritten
