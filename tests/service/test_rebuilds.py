"""`Rebuilds`, in process: the start's proof, its load, and what follows a
load cut short. (The scheduler is never started: each rebuild is called.)"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from feeds.build.oneshot import build
from feeds.config import Config
from feeds.service.metrics import Metrics
from feeds.service.rebuilds import Rebuilds
from tests.conftest import SeedWriter

ConfigFactory = Callable[..., Config]


@pytest.fixture
def config(write_seed: SeedWriter, make_config: ConfigFactory, tmp_path: Path) -> Config:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    write_seed("b.txt", title="Bravo", link="https://e.org/b")
    configured = make_config(f"cache_dir: {tmp_path / 'cache'}")
    build(configured)
    return configured


def _rebuilds(config: Config) -> Rebuilds:
    return Rebuilds(
        config, seeds_missing=lambda: None, built=lambda _report: None, metrics=Metrics()
    )


def _titles(config: Config) -> list[str]:
    document = json.loads((config.output / "all.json").read_text())
    return sorted(item["title"] for item in document["items"])


def test_a_start_proven_current_is_started_and_its_load_ends_it(config: Config) -> None:
    rebuilds = _rebuilds(config)
    assert not rebuilds.status.started
    rebuilds._rebuild(frozenset(), True)
    assert rebuilds.status.started
    assert not rebuilds.status.loading
    assert rebuilds.status.report is not None
    assert rebuilds.status.report.articles == 2


def test_after_a_load_cut_short_a_rebuild_of_one_file_still_publishes_them_all(
    config: Config, write_seed: SeedWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilds = _rebuilds(config)
    monkeypatch.setattr(rebuilds.scheduler, "stopping", lambda: True)
    rebuilds._rebuild(frozenset(), True)
    assert rebuilds.status.started
    assert rebuilds.status.loading
    monkeypatch.undo()
    edited = write_seed("b.txt", title="Bravo, edited", link="https://e.org/b")
    rebuilds._rebuild(frozenset({edited}), False)
    assert _titles(config) == ["Alpha", "Bravo, edited"]
    assert not rebuilds.status.loading


def test_the_start_and_each_full_rebuild_leave_the_heap_frozen_and_small_ones_do_not(
    config: Config, write_seed: SeedWriter
) -> None:
    """A full collection of a million articles' objects took a second, at a
    random save; what outlives the start is frozen out of the collector's way."""
    gc.unfreeze()
    rebuilds = _rebuilds(config)
    rebuilds._rebuild(frozenset(), True)
    assert rebuilds.status.report is not None
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    edited = write_seed("b.txt", title="Bravo, edited", link="https://e.org/b")
    rebuilds._rebuild(frozenset({edited}), False)
    assert gc.get_freeze_count() == 0
    assert _titles(config) == ["Alpha", "Bravo, edited"]
    rebuilds._rebuild(frozenset(), True)
    assert gc.get_freeze_count() > 0
