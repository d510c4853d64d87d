"""`kill -9` at random moments of repeated `feeds build` runs: every document
on disk is always whole and valid, and the next start removes the temp files
a killed build left behind."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from tests.faults_support import (
    CONFIG,
    invalid_documents,
    leftovers,
    make_site,
    run_build,
)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _kill_builds(tmp_path: Path, kills: int, articles: int) -> None:
    config = make_site(tmp_path)
    output = tmp_path / "output"
    write_corpus(tmp_path / "seeds", articles)
    started = time.monotonic()
    assert run_build(config, "-q").returncode == 0
    duration = time.monotonic() - started
    rng = random.Random(6)  # fixed: a failure can be replayed
    killed_mid_build = 0
    left_behind = 0
    for attempt in range(kills):
        # A new title changes every feed document, so each build rewrites them all.
        config.write_text(CONFIG.replace("Fault Feeds", f"Fault Feeds {attempt}"))
        process = subprocess.Popen(
            [sys.executable, "-m", "feeds", "build", "--config", str(config), "-q"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.0, duration))
        process.send_signal(signal.SIGKILL)
        if process.wait() == -signal.SIGKILL:
            killed_mid_build += 1
        assert invalid_documents(output) == [], f"after kill {attempt}"
        left_behind += len(leftovers(output))
    print(f"\n{kills} kills, {killed_mid_build} mid-build, {left_behind} temp files left behind")
    assert killed_mid_build >= kills // 2, "the builds ended before the kills; nothing was tested"

    # The next start removes what the killed builds left, and its output is
    # exactly what a build that was never interrupted writes.
    final = run_build(config, "-q")
    assert final.returncode == 0, final.stderr
    assert leftovers(output) == []
    assert invalid_documents(output) == []
    clean = tmp_path / "clean"
    reference = run_build(config, "-q", "--no-cache", "--output", str(clean))
    assert reference.returncode == 0, reference.stderr
    assert _snapshot(output) == _snapshot(clean)


def test_kill_9_during_builds_never_leaves_a_broken_feed(tmp_path: Path) -> None:
    _kill_builds(tmp_path, kills=12, articles=150)


@pytest.mark.slow
def test_kill_9_soak(tmp_path: Path) -> None:
    _kill_builds(tmp_path, kills=100, articles=400)
