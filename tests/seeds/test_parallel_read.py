"""Reading on several cores gives exactly what reading in one process gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.corpus import write_corpus
from feeds.seeds import reader
from feeds.seeds.discovery import discover_names
from feeds.seeds.reader import ReadOptions, read_many
from feeds.system import processes
from tests.conftest import alone_in_process, seed_text


@pytest.fixture
def corpus(tmp_path: Path) -> list[str]:
    seeds = tmp_path / "seeds"
    write_corpus(seeds, 60)
    (seeds / "zz-bad.txt").write_text("---\ntitle: [unclosed\n---\n")
    (seeds / "zz-nolink.txt").write_text("---\ntitle: No link\n---\n")
    (seeds / "zz-local.txt").write_text(
        seed_text(title="Local time", published="2024-03-01T09:30:00")
    )
    (seeds / "zz-warned.txt").write_text(
        seed_text(title="Warned", extra="images: [3, {url: 'https://e.org/i.png'}]\n")
    )
    return discover_names(seeds, ["*.txt"])


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "from-a-forkserver"])
def test_workers_return_the_same_articles_reasons_and_warnings(
    corpus: list[str], monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    from zoneinfo import ZoneInfo

    tz, options = ZoneInfo("Europe/Paris"), ReadOptions()
    monkeypatch.setattr(reader, "PARALLEL_THRESHOLD", len(corpus) + 1)
    alone = list(read_many(corpus, tz, options))
    monkeypatch.setattr(reader, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(reader, "_BATCH", 7)  # several batches, a short last one
    started = _started_children(monkeypatch, forked=forked)
    parallel = list(read_many(corpus, tz, options))
    assert started == [forked]
    assert [path for path, *_ in parallel] == corpus
    assert parallel == alone
    assert all(fingerprint is not None for *_, fingerprint in parallel)
    for (_, one, *_), (_, other, *_) in zip(alone, parallel, strict=True):
        if one is not None and other is not None:  # equal instants, and equal offsets
            assert one.published.isoformat() == other.published.isoformat()
            assert one.updated.isoformat() == other.updated.isoformat()
    assert sum(reason is not None for _, _, reason, *_ in parallel) == 2
    assert [warnings for _, _, _, warnings, _ in parallel if warnings] == [
        ("images[0]: expected a mapping with a url",)
    ]


def _started_children(monkeypatch: pytest.MonkeyPatch, *, forked: bool) -> list[bool]:
    """Makes this process look threaded unless ``forked`` (so the reader
    must not fork), and notes whether each `spread` forks its children."""
    if forked:
        alone_in_process()
    else:
        monkeypatch.setattr(processes, "can_fork", lambda: False)
    assert processes.can_fork() is forked
    started: list[bool] = []
    spread = processes.spread

    def noted(*args: Any, **kwargs: Any) -> Any:
        started.append(bool(kwargs.get("inherit")))
        return spread(*args, **kwargs)

    monkeypatch.setattr(processes, "spread", noted)
    return started
