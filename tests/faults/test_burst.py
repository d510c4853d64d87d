"""10,000 files dropped into the seeds folder at once (each moved in, as `mv`
does, or copied, as `cp` does): a bounded number of rebuilds, and every
article published (the combined feed plus its monthly archives hold them all)."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import seed_text
from tests.daemon_harness import RunningDaemon, wait_for
from tests.faults_support import health, make_site, published_titles


def _drop(tmp_path: Path, count: int, copy: bool) -> None:
    make_site(tmp_path, "debounce_ms: 250\n")  # a generous quiet time
    staging = tmp_path / "staging"
    staging.mkdir()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    expected = set()
    for n in range(count):
        title = f"Drop {n:05d}"
        expected.add(title)
        published = (start + timedelta(hours=n)).isoformat()  # all in the past
        (staging / f"{n:05d}.txt").write_text(
            seed_text(title=title, link=f"https://e.org/{n}", published=published)
        )
    daemon = RunningDaemon(tmp_path / "feeds.yaml")
    try:
        daemon.wait_ready()
        before = health(daemon)["rebuilds"]
        dropped = time.monotonic()
        for name in sorted(os.listdir(staging)):
            if copy:  # cp: each file created, written and closed in the folder
                shutil.copyfile(staging / name, tmp_path / "seeds" / name)
            else:  # mv: each file appears whole
                os.rename(staging / name, tmp_path / "seeds" / name)
        moved = time.monotonic() - dropped
        wait_for(
            lambda: health(daemon)["articles"] == count,
            timeout=300,
            what=f"{count} articles",
        )
        seconds = time.monotonic() - dropped
        rebuilds = health(daemon)["rebuilds"] - before
        assert published_titles(tmp_path / "output") == expected
        print(
            f"\n{count} files dropped in {moved:.2f} s; all published {seconds:.2f} s after"
            f" the first, in {rebuilds} rebuilds"
        )
        # While events keep coming, a rebuild waits at most max_delay (2 s)
        # and all that arrive meanwhile merge into it: one rebuild per 2 s
        # of dropping, one for the tail, one spare for a rebuild in flight.
        assert rebuilds <= moved // 2 + 2
        assert "Traceback" not in daemon.log
    finally:
        daemon.stop()


@pytest.mark.parametrize("copy", [False, True], ids=["mv", "cp"])
def test_10000_files_dropped_at_once(tmp_path: Path, copy: bool) -> None:
    _drop(tmp_path, 10_000, copy=copy)
