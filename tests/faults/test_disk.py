"""A full disk (a real tiny tmpfs: ENOSPC) or an unwritable output folder
(EACCES, with root's override dropped): the last good feeds stay, the error is
logged, the daemon lives on and recovers by itself when the fault goes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import seed_text
from tests.daemon_harness import RunningDaemon, titles, wait_for
from tests.faults_support import fill, health, leftovers, make_site, tmpfs, unprivileged


def _write(site: Path, name: str, title: str) -> None:
    (site / "seeds" / name).write_text(seed_text(title=title, link=f"https://e.org/{name}"))


def _all(site: Path) -> Path:
    return site / "output" / "all.json"


def _survives_and_recovers(
    site: Path, daemon: RunningDaemon, error: str, clear_fault: object
) -> float:
    """With the fault in place, a new article fails to publish: checks the
    damage is nil, then clears the fault and returns the recovery time."""
    before = _all(site).read_bytes()
    _write(site, "b.txt", "B")
    daemon.wait_for_log(rf"ERROR feeds\.daemon: .*: cannot write: {error}")
    # One more failed retry, to be sure the daemon keeps going through them.
    wait_for(lambda: daemon.log.count(error) >= 2, what="a second failed attempt")
    assert _all(site).read_bytes() == before
    assert daemon.process.poll() is None
    assert health(daemon)["ok"] is True
    assert callable(clear_fault)
    cleared = time.monotonic()
    clear_fault()
    wait_for(lambda: titles(_all(site)) == ["B", "A"], what="recovery")
    recovery = time.monotonic() - cleared
    # all.json is written first; the rest of that rebuild may still be going.
    wait_for(lambda: health(daemon)["idle"], what="the end of the recovering rebuild")
    assert leftovers(site / "output") == []
    assert "Traceback" not in daemon.log
    return recovery


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_site(tmp_path)
    _write(tmp_path, "a.txt", "A")
    return tmp_path


def test_a_full_disk_keeps_the_last_good_feeds_and_recovers(site: Path) -> None:
    with tmpfs(site / "output", size_kib=256) as output:
        daemon = RunningDaemon(site / "feeds.yaml")
        try:
            daemon.wait_ready()
            wait_for(lambda: titles(_all(site)) == ["A"])
            filler = fill(output)
            recovery = _survives_and_recovers(
                site, daemon, "No space left on device", filler.unlink
            )
            print(f"\nENOSPC: recovered {recovery:.2f} s after space returned")
        finally:
            daemon.stop()


@pytest.fixture
def locked(site: Path) -> Iterator[list[Path]]:
    folders: list[Path] = []
    yield folders
    for folder in folders:  # pytest must be able to clean up
        folder.chmod(0o755)


def test_an_unwritable_output_folder_keeps_the_last_good_feeds_and_recovers(
    site: Path, locked: list[Path]
) -> None:
    daemon = RunningDaemon(site / "feeds.yaml", wrapper=unprivileged())
    try:
        daemon.wait_ready()
        wait_for(lambda: titles(_all(site)) == ["A"])
        output = site / "output"
        locked.extend([output, *(path for path in output.rglob("*") if path.is_dir())])
        for folder in locked:
            folder.chmod(0o555)

        def unlock() -> None:
            for folder in locked:
                folder.chmod(0o755)

        recovery = _survives_and_recovers(site, daemon, "Permission denied", unlock)
        print(f"\nEACCES: recovered {recovery:.2f} s after permission returned")
    finally:
        daemon.stop()
