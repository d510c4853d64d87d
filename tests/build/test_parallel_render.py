"""A one-shot build renders in two processes with exactly the serial result."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import write_corpus
from feeds.build import publisher
from feeds.build.builder import Builder
from feeds.config import Config, load_config
from feeds.errors import OutputError
from feeds.system import processes

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*.*")}


def _config(seeds: Path, output: Path) -> Config:
    path = output.parent / f"{output.name}.yaml"
    path.write_text("archives: true\n", encoding="utf-8")
    return load_config(path, seeds=seeds, output=output)


def _publish(config: Config, workers: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    builder = Builder(config)
    builder.scan_all()
    written = builder.publish(NOW, workers=workers).written
    # A second publish knows every feed, the child's included, as written:
    # it renders nothing at all.
    renders: list[object] = []

    def counting_render(*args: object) -> bytes:
        renders.append(args)
        return b""

    with monkeypatch.context() as patch:
        patch.setattr(publisher, "render_within_budget", counting_render)
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
    monkeypatch.setattr(publisher, "PARALLEL_DOCUMENTS", 1)
    monkeypatch.setattr(processes, "can_fork", lambda: True)
    return monkeypatch


def _failing(error: BaseException) -> Callable[..., Any]:
    """A `processes.spread` whose child fails with ``error``, having done nothing."""

    @contextlib.contextmanager
    def spread(*_args: object, **_options: object) -> Iterator[Iterator[Any]]:
        def results() -> Iterator[Any]:
            raise error
            yield

        yield results()

    return spread


def test_two_processes_write_the_same_files_as_one(
    corpus: Path, tmp_path: Path, forking: pytest.MonkeyPatch
) -> None:
    forks: list[bool] = []
    real_spread = processes.spread

    def counting_spread(*args: Any, **options: Any) -> Any:
        forks.append(options["inherit"])
        return real_spread(*args, **options)

    forking.setattr(processes, "spread", counting_spread)
    serial = _config(corpus, tmp_path / "serial")
    parallel = _config(corpus, tmp_path / "parallel")
    assert _publish(serial, 1, forking) == _publish(parallel, 2, forking)
    assert forks == [True]
    assert _files(tmp_path / "serial") == _files(tmp_path / "parallel")


@pytest.mark.parametrize("crash", ["died", "raised"])
def test_a_crashed_child_s_share_is_rendered_by_the_parent(
    crash: str, corpus: Path, tmp_path: Path, forking: pytest.MonkeyPatch
) -> None:
    if crash == "died":  # a real child, gone without a word
        parent = os.getpid()

        def dying(*args: Any) -> bytes:
            if os.getpid() != parent:
                os._exit(1)
            return real_render(*args)

        real_render = publisher.render_within_budget
        forking.setattr(publisher, "render_within_budget", dying)
    else:
        forking.setattr(processes, "spread", _failing(MemoryError()))
    serial = _config(corpus, tmp_path / "serial")
    recovered = _config(corpus, tmp_path / "recovered")
    assert _publish(serial, 1, forking) == _publish(recovered, 2, forking)
    assert _files(tmp_path / "serial") == _files(tmp_path / "recovered")


def test_a_child_s_write_error_is_the_build_s_error(
    corpus: Path, make_config: Callable[..., Config], forking: pytest.MonkeyPatch
) -> None:
    forking.setattr(processes, "spread", _failing(OutputError("out/x.xml: cannot write: full")))
    builder = Builder(make_config())
    builder.scan_all()
    with pytest.raises(OutputError, match="cannot write: full"):
        builder.publish(NOW, workers=2)
    # The child's feeds are not taken as written: the next publish renders them.
    forking.setattr(processes, "can_fork", lambda: False)
    assert builder.publish(NOW, workers=2).written


def test_a_child_s_real_write_error_comes_back_as_raised(
    corpus: Path, make_config: Callable[..., Config], forking: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()
    real_render = publisher.render_within_budget

    def refusing(*args: Any) -> bytes:
        if os.getpid() != parent:
            raise OutputError("out/x.xml: cannot write: full")
        return real_render(*args)

    forking.setattr(publisher, "render_within_budget", refusing)
    builder = Builder(make_config())
    builder.scan_all()
    with pytest.raises(OutputError, match=r"^out/x\.xml: cannot write: full$"):
        builder.publish(NOW, workers=2)


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
        assert not processes.can_fork()
    finally:
        stop.set()
        thread.join()
