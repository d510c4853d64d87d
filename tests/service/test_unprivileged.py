"""`feeds run` without any privilege over a seeds folder it cannot write, as
under the shipped systemd unit (no capabilities, seeds read-only).

The unit's own user is a DynamicUser; here the daemon keeps uid 0 with every
capability dropped (setpriv), since this machine's Python lives under /root,
which no other user may enter. Without CAP_DAC_OVERRIDE, uid 0 is held to
file permissions like any user: seeds owned by someone else are read-only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import seed_text
from tests.daemon_harness import RunningDaemon, http_get, titles, wait_for

SETPRIV = shutil.which("setpriv")
DROP_ALL = [
    "--bounding-set=-all",
    "--inh-caps=-all",
    "--ambient-caps=-all",
    "--no-new-privs",
    "--",
]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv (util-linux)"
)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        path.relative_to(folder).as_posix(): (path.stat().st_mtime_ns, path.stat().st_size)
        for path in sorted(folder.rglob("*"))
    }


def _capabilities(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        key: int(value, 16)
        for key, value in (line.split(":\t") for line in status.splitlines())
        if key in ("CapEff", "CapPrm", "CapBnd", "CapAmb")
    }


def test_the_daemon_runs_without_privileges_over_read_only_seeds(tmp_path: Path) -> None:
    assert SETPRIV is not None
    wrapper = [SETPRIV, *DROP_ALL]
    owner = pwd.getpwnam("nobody")
    seeds = tmp_path / "seeds"
    seeds.mkdir(mode=0o755)
    (seeds / "a.txt").write_text(seed_text("First", "https://example.org/1"))
    (seeds / "a.txt").chmod(0o644)
    for path in (seeds, seeds / "a.txt"):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    config = tmp_path / "feeds.yaml"
    config.write_text("seeds: seeds\noutput: output\ncache_dir: cache\n")
    # The setup is honest: without capabilities this user cannot write the seeds.
    denied = subprocess.run(
        [*wrapper, "touch", str(seeds / "a.txt"), str(seeds / "new.txt")],
        capture_output=True,
        check=False,
    )
    assert denied.returncode != 0
    assert not (seeds / "new.txt").exists()

    daemon = RunningDaemon(config, wrapper=wrapper)
    try:
        daemon.wait_ready()
        assert set(_capabilities(daemon.process.pid).values()) == {0}
        feed = tmp_path / "output" / "all.json"
        assert titles(feed) == ["First"]
        assert http_get(daemon.url("/all.json"))[0] == 200

        # Someone else (the editor, here the test) changes the seeds; the daemon follows.
        before = _snapshot(seeds)
        (seeds / "b.txt").write_text(
            seed_text("Second", "https://example.org/2", "2024-05-02T10:00:00Z")
        )
        wait_for(lambda: titles(feed) == ["Second", "First"], what="the new article")
        after = _snapshot(seeds)
        assert after.pop("b.txt")
        assert after == before  # the daemon wrote nothing into the seeds folder
        assert any((tmp_path / "cache").iterdir())
        for word in ("Permission denied", "Traceback", "ERROR"):
            assert word not in daemon.log, daemon.log
    finally:
        assert daemon.stop() == 0, daemon.log
