"""Work in other processes (feeds/system/processes.py) never outlives its caller."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

#: The work: each child writes its pid, then waits far longer than the test.
WORK = """\
import os, time
from pathlib import Path

def linger(folder):
    Path(folder, str(os.getpid())).touch()
    time.sleep(600)
    return 0
"""

CALLER = """\
import sys, time
from work import linger
from feeds.system import processes

folder = sys.argv[1]
inherit = sys.argv[2] == "fork"
with processes.spread(linger, [folder, folder], workers=2, inherit=inherit) as results:
    next(results)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # gone, or going while read
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_children_end_when_their_caller_is_killed(tmp_path: Path, start: str) -> None:
    """A one-shot build killed by a timer or kill -9 leaves no child behind,
    asleep forever on work that can no longer come."""
    (tmp_path / "work.py").write_text(WORK)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    caller = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CALLER), str(pids), start], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2:
            assert time.monotonic() < deadline, "the children never started"
            assert caller.poll() is None
            time.sleep(0.05)
        children = [int(path.name) for path in pids.iterdir()]
        caller.send_signal(signal.SIGKILL)
        caller.wait(10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        caller.kill()
        for path in pids.iterdir():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(path.name), signal.SIGKILL)
