"""Shared fixtures: temp seed folders, configs, and seed-file builders."""

from __future__ import annotations

import gc
import os
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from feeds.config import Config, load_config

# Modest by default so the suite stays fast; HYPOTHESIS_PROFILE=long for a soak.
# Tests that set max_examples themselves keep their own count.
settings.register_profile("feeds", deadline=None, max_examples=100)
settings.register_profile("long", deadline=None, max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "feeds"))

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "data" / "seeds"

SeedWriter = Callable[..., Path]


def seed_text(
    title: str = "A title",
    link: str = "https://example.org/a",
    published: str = "2024-05-01T10:00:00Z",
    topics: tuple[str, ...] = ("AI",),
    extra: str = "",
) -> str:
    """A minimal valid seed document; ``extra`` is appended YAML."""
    topic_lines = "".join(f"  - {topic}\n" for topic in topics)
    return (
        "---\n"
        f'title: "{title}"\n'
        f'webUrl: "{link}"\n'
        f"publishedDateTime: {published}\n"
        f"topics:\n{topic_lines}"
        f"{textwrap.dedent(extra)}"
        "---\n"
    )


@pytest.fixture(autouse=True)
def private_cache_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keeps every parse cache and state folder (in-process and in
    subprocesses) out of the real home."""
    home = tmp_path_factory.mktemp("cache-home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    return home


@pytest.fixture(autouse=True)
def unfrozen_heap() -> Iterator[None]:
    """A daemon run in process freezes the heap it settled (`service.heap`):
    this process's, here; the next test starts with it unfrozen."""
    yield
    gc.unfreeze()


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    return folder


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return tmp_path / "output"


@pytest.fixture
def write_seed(seeds: Path) -> SeedWriter:
    """Writes a seed file (text or bytes) under the seeds folder and returns its path."""

    def write(name: str, content: str | bytes | None = None, **fields: object) -> Path:
        path = seeds / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            content = seed_text(**fields)  # type: ignore[arg-type]
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return write


@pytest.fixture
def make_config(tmp_path: Path, seeds: Path, output: Path) -> Callable[..., Config]:
    """A Config reading ``seeds`` and writing ``output``, with YAML ``settings``."""

    def make(settings: str = "") -> Config:
        path = tmp_path / "feeds.yaml"
        path.write_text(textwrap.dedent(settings), encoding="utf-8")
        return load_config(path, seeds=seeds, output=output)

    return make


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The seed files a build reads from now on."""
    from feeds.build import scanner
    from feeds.seeds import reader as reader_module

    read: list[str] = []
    original = reader_module.read_many

    def counted(names: Sequence[str], *args: Any) -> Any:
        read.extend(names)
        return original(names, *args)

    monkeypatch.setattr(scanner, "read_many", counted)
    return read


def mark_output(folder: Path) -> Path:
    """``folder`` marked as an output folder feeds made: the server serves
    nothing from a folder without the marker a build writes."""
    from feeds.system.folders import MARKER, MARKER_TEXT

    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_bytes(MARKER_TEXT)
    return folder


def alone_in_process(timeout: float = 15.0) -> None:
    """Waits until no other thread runs in this process, as forking needs
    (`feeds.system.aside.can_fork`): an idle AnyIO worker that a server
    test left ends within ten seconds. Fails, naming them, if any stay."""
    deadline = time.monotonic() + timeout
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    others = [
        thread.name for thread in threading.enumerate() if thread is not threading.main_thread()
    ]
    assert not others, f"threads other tests left running: {others}"
