"""A one-shot build renders in two processes with exactly the serial result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import write_corpus
from feeds.build import builder as build_module
from feeds.build.builder import Builder
from feeds.config import Config, load_config
from feeds.errors import OutputError
from feeds.system import forked

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*.*")}


def _config(seeds: Path, output: Path) -> Config:
    path = output.parent / f"{output.name}.yaml"
    path.write_text("archives: true\n", encoding="utf-8")
    return load_config(path, seeds=seeds, output=output)


def _publish(config: Config, workers: int) -> list[str]:
    builder = Builder(config)
    builder.scan_all()
    written = builder.publish(NOW, workers=workers).written
    # A second publish knows every feed, the child's included, as written:
    # it renders nothing at all.
    renders: list[object] = []

    def counting_render(*args: object) -> bytes:
        renders.append(args)
        return b""

    builder._render_within_budget = counting_render  # type: ignore[method-assign,assignment]
    assert builder.publish(NOW, workers=workers).written == []
    assert renders == []
    return written


@pytest.fixture
def corpus(seeds: Path) -> Path:
    write_corpus(seeds, 150)
    return seeds


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Any number of documents is worth a second process, threads or not."""
    monkeypatch.setattr(build_module, "PARALLEL_DOCUMENTS", 1)
    monkeypatch.setattr(forked, "can_fork", lambda: True)
    return monkeypatch


def test_two_processes_write_the_same_files_as_one(
    corpus: Path, tmp_path: Path, forking: pytest.MonkeyPatch
) -> None:
    forks: list[int] = []
    real_start = forked.start

    def counting_start(work: Callable[[], Any], expected: type[Exception]) -> Any:
        forks.append(1)
        return real_start(work, expected)

    forking.setattr(forked, "start", counting_start)
    serial = _config(corpus, tmp_path / "serial")
    parallel = _config(corpus, tmp_path / "parallel")
    assert _publish(serial, workers=1) == _publish(parallel, workers=2)
    assert forks == [1]
    assert _files(tmp_path / "serial") == _files(tmp_path / "parallel")


def test_a_crashed_child_s_share_is_rendered_by_the_parent(
    corpus: Path, tmp_path: Path, forking: pytest.MonkeyPatch
) -> None:
    forking.setattr(forked, "start", lambda work, expected: lambda: ("crash", "MemoryError"))
    serial = _config(corpus, tmp_path / "serial")
    recovered = _config(corpus, tmp_path / "recovered")
    assert _publish(serial, workers=1) == _publish(recovered, workers=2)
    assert _files(tmp_path / "serial") == _files(tmp_path / "recovered")


def test_a_child_s_write_error_is_the_build_s_error(
    corpus: Path, make_config: Callable[..., Config], forking: pytest.MonkeyPatch
) -> None:
    forking.setattr(
        forked, "start", lambda work, expected: lambda: ("error", "out/x.xml: cannot write: full")
    )
    builder = Builder(make_config())
    builder.scan_all()
    with pytest.raises(OutputError, match="cannot write: full"):
        builder.publish(NOW, workers=2)
    # The child's feeds are not taken as written: the next publish renders them.
    forking.setattr(forked, "can_fork", lambda: False)
    assert builder.publish(NOW, workers=2).written


def test_a_process_with_threads_never_forks() -> None:
    import threading

    started = threading.Event()
    stop = threading.Event()

    def idle() -> None:
        started.set()
        stop.wait(5)

    thread = threading.Thread(target=idle)
    thread.start()
    started.wait(5)
    try:
        assert not forked.can_fork()
    finally:
        stop.set()
        thread.join()
