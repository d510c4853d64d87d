"""A full rebuild renders every document again only to repair: when the
output folder was replaced, or once a `REPAIR_INTERVAL`. The periodic rescan
otherwise costs what changed (at 100,000 articles a forced render was a
minute of CPU every ten minutes, with saves waiting behind it)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from feeds.build import publisher
from feeds.build.oneshot import build
from feeds.config import Config
from feeds.formats import Document
from feeds.plan.plans import FeedPlan
from feeds.service.metrics import Metrics
from feeds.service.rebuilds import Rebuilds
from feeds.service.repairs import REPAIR_INTERVAL, Repairs
from tests.conftest import SeedWriter


def test_a_repair_is_due_once_an_interval_and_when_asked_and_only_in_a_full_rebuild() -> None:
    now = [1000.0]
    repairs = Repairs(clock=lambda: now[0])
    assert not repairs.take(True)
    now[0] += REPAIR_INTERVAL
    assert not repairs.take(False)
    assert repairs.take(True)
    assert not repairs.take(True)
    repairs.ask()
    assert not repairs.take(False)
    assert repairs.take(True)
    assert not repairs.take(True)


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    real = publisher.render_within_budget

    def counted(fmt: Document, plan: FeedPlan, config: Config) -> bytes:
        names.append(plan.stem + fmt.suffix)
        return real(fmt, plan, config)

    monkeypatch.setattr(publisher, "render_within_budget", counted)
    return names


def test_a_rescan_renders_nothing_unchanged_and_a_replaced_output_is_rendered_whole(
    write_seed: SeedWriter,
    make_config: Callable[..., Config],
    tmp_path: Path,
    rendered: list[str],
) -> None:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    config = make_config(f"cache_dir: {tmp_path / 'cache'}")
    build(config)
    rebuilds = Rebuilds(config, seeds_missing=lambda: None, built=lambda _: None, metrics=Metrics())
    rebuilds._rebuild(frozenset(), True)  # the start, proven current
    rendered.clear()
    rebuilds._rebuild(frozenset(), True)  # the periodic rescan
    assert rendered == []
    shutil.rmtree(config.output)
    rebuilds.check_output(config.output)
    rebuilds._rebuild(frozenset(), True)
    assert "all.atom.xml" in rendered
    assert (config.output / "all.atom.xml").is_file()
