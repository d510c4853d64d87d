"""`Builder.resume`: the state of the last build taken up from the parse cache
(the daemon's start over its own output), rendering and writing nothing, and
saying whether the output is still current."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.build import publisher
from feeds.build.builder import Builder, Resumed
from feeds.build.oneshot import build
from feeds.build.uptodate import parse_cache
from feeds.config import Config
from feeds.render import index_html
from tests.conftest import SeedWriter

ConfigFactory = Callable[..., Config]

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


@pytest.fixture
def config(write_seed: SeedWriter, make_config: ConfigFactory, tmp_path: Path) -> Config:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    write_seed("b.txt", title="Bravo", link="https://e.org/b")
    write_seed("sub/c.txt", title="Charlie", link="https://e.org/c", topics=("Space",))
    write_seed("d.txt", title="Delta", link="https://e.org/d", published=LATER.isoformat())
    configured = make_config(f"cache_dir: {tmp_path / 'cache'}")
    build(configured, now=NOW)
    return configured


def _resumed(config: Config, now: datetime = NOW) -> tuple[Builder, Resumed]:
    builder = Builder(config, parse_cache(config))
    resumed = builder.resume(now)
    assert resumed is not None
    return builder, resumed


def _identities(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


def _titles(config: Config) -> list[str]:
    document = json.loads((config.output / "all.json").read_text())
    return sorted(item["title"] for item in document["items"])


def _never_render(monkeypatch: pytest.MonkeyPatch) -> None:
    def render(*_args: object) -> bytes:
        raise AssertionError("rendered")

    monkeypatch.setattr(publisher, "render_within_budget", render)
    monkeypatch.setattr(index_html, "render_index", render)


def test_a_resume_after_a_build_is_current_and_renders_nothing(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = _identities(config.output)
    _never_render(monkeypatch)
    builder, resumed = _resumed(config)
    assert resumed.current
    report = resumed.report
    assert (report.articles, report.embargoed, report.next_embargo) == (3, 1, LATER)
    assert set(report.files) == {
        str(path.relative_to(config.output)) for path in map(Path, output) if path.name[0] != "."
    }
    assert _identities(config.output) == output
    monkeypatch.undo()
    # The state is the last build's: a publish of nothing new renders only
    # the index and OPML (each made from every feed).
    again = builder.publish(NOW)
    assert (again.rendered, again.written, again.removed) == (2, [], [])


def test_saving_after_a_current_resume_writes_no_cache(config: Config, tmp_path: Path) -> None:
    cache = _identities(tmp_path / "cache")
    builder, resumed = _resumed(config)
    builder.save_cache(resumed.report)
    assert _identities(tmp_path / "cache") == cache


def test_a_seed_changed_since_is_no_longer_current_and_the_next_publish_renders_it(
    config: Config, write_seed: SeedWriter
) -> None:
    write_seed("b.txt", title="Bravo, edited", link="https://e.org/b")
    builder, resumed = _resumed(config)
    assert not resumed.current
    report = builder.publish(NOW)
    assert "Bravo, edited" in _titles(config)
    # Only the feeds holding the edit, not every document.
    assert 2 < report.rendered < len(report.files)


def test_an_embargo_due_since_is_no_longer_current(config: Config) -> None:
    builder, resumed = _resumed(config, now=LATER)
    assert not resumed.current
    assert resumed.report.articles == 4
    builder.publish(LATER)
    assert "Delta" in _titles(config)


def test_a_feed_gone_since_is_no_longer_current(config: Config, seeds: Path) -> None:
    (seeds / "sub" / "c.txt").unlink()
    _builder, resumed = _resumed(config)
    assert not resumed.current


@pytest.mark.parametrize("cut_at", range(5))
def test_a_resume_cut_short_goes_on_at_the_next_call(config: Config, cut_at: int) -> None:
    asked = itertools.count()
    builder = Builder(config, parse_cache(config))
    assert builder.resume(NOW, stopping=lambda: next(asked) >= cut_at) is None
    resumed = builder.resume(NOW)
    assert resumed is not None
    assert resumed.current
    assert resumed.report.articles == 3


def test_a_builder_that_let_go_of_its_plans_publishes_only_what_changed(
    config: Config, write_seed: SeedWriter
) -> None:
    builder, _ = _resumed(config)
    builder.forget_plans()
    output = _identities(config.output)
    unchanged = builder.publish(NOW)
    assert unchanged.rendered == 2  # the index and OPML alone, as every publish renders them
    assert unchanged.written == []
    assert _identities(config.output) == output
    write_seed("b.txt", title="Bravo, edited", link="https://e.org/b")
    builder.scan_all()
    builder.forget_plans()
    report = builder.publish(NOW)
    assert "Bravo, edited" in _titles(config)
    assert 2 < report.rendered < len(report.files)
