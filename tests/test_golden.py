"""The sample seeds render to exactly the committed golden files.

After an intended change to the output, regenerate with ``make golden`` and
review the diff like any other change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feeds.build.oneshot import build
from feeds.config import load_config
from feeds.system.folders import MARKER
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"
CONFIG = REPO / "tests" / "data" / "config.yaml"
REGENERATE = os.environ.get("FEEDS_REGENERATE_GOLDEN") == "1"


def _built(output: Path) -> dict[str, bytes]:
    build(load_config(CONFIG, output=output))
    # The folder's marker is no feed (feeds/system/folders.py); it must be there all the same.
    assert (output / MARKER).is_file()
    return {
        path.relative_to(output).as_posix(): path.read_bytes()
        for path in sorted(output.rglob("*"))
        if path.is_file() and path.name != MARKER
    }


def test_sample_feeds_match_golden_files(tmp_path: Path) -> None:
    built = _built(tmp_path / "output")
    if REGENERATE:
        for name, data in built.items():
            target = GOLDEN / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for stale in GOLDEN.rglob("*"):
            if stale.is_file() and stale.relative_to(GOLDEN).as_posix() not in built:
                stale.unlink()
        pytest.skip("golden files regenerated")
    golden = {
        path.relative_to(GOLDEN).as_posix(): path.read_bytes()
        for path in sorted(GOLDEN.rglob("*"))
        if path.is_file()
    }
    assert sorted(built) == sorted(golden), "the set of output files changed"
    for name, data in built.items():
        assert data == golden[name], f"{name} differs from tests/golden/{name} (make golden)"
