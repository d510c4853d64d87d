"""One function in a forked child (feeds/system/aside.py): its result or its
error comes back, and no child outlives the block that started it."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from feeds.system.aside import ChildLost, aside
from tests.conftest import alone_in_process


@pytest.fixture(autouse=True)
def _alone() -> None:
    alone_in_process()


#: Memory the child inherits: nothing is pickled on the way in.
INHERITED = [f"name-{n}" for n in range(10_000)]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_result_comes_back_from_a_child_with_the_callers_memory() -> None:
    with aside(lambda: (os.getpid(), sorted(INHERITED, reverse=True)[:2])) as result:
        pid, largest = result()
    assert pid != os.getpid()
    assert largest == ["name-9999", "name-9998"]
    assert _gone(pid)  # reaped, not left a zombie


def test_the_result_is_kept_for_a_second_look() -> None:
    with aside(lambda: INHERITED[-1]) as result:
        assert result() == result() == "name-9999"


def test_the_childs_error_is_raised_where_the_result_is_asked_for() -> None:
    def fails() -> None:
        raise OverflowError("a date past 2262")

    with aside(fails) as result, pytest.raises(OverflowError, match="past 2262"):
        result()


def test_a_child_that_dies_is_lost_not_waited_for_forever() -> None:
    with aside(lambda: os._exit(3)) as result, pytest.raises(ChildLost):
        result()


def test_a_result_that_cannot_be_pickled_loses_the_child() -> None:
    with aside(lambda: threading.Lock()) as result, pytest.raises(ChildLost, match="pickled"):
        result()


def test_leaving_the_block_first_ends_the_child(tmp_path: Path) -> None:
    started = tmp_path / "pid"

    def lingers() -> None:
        started.write_text(str(os.getpid()))
        time.sleep(600)

    with aside(lingers):
        while not started.exists() or not started.read_text():
            time.sleep(0.01)
    assert _gone(int(started.read_text()))


def test_a_second_child_may_start_while_the_first_runs() -> None:
    with aside(lambda: "first") as first, aside(lambda: "second") as second:
        assert (second(), first()) == ("second", "first")


def test_a_process_with_threads_never_forks() -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        with pytest.raises(RuntimeError, match="threads"), aside(lambda: None):
            pass
    finally:
        release.set()
        thread.join()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts /proc/self/fd")
def test_a_fork_refused_raises_and_leaves_no_pipe_open(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> int:
        raise OSError(errno.EAGAIN, "no process left")

    monkeypatch.setattr(os, "fork", refused)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError, match="no process left"), aside(lambda: None):
        pass
    assert len(os.listdir("/proc/self/fd")) == before
