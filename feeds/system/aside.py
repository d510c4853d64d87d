"""One function run in a forked child while the caller goes on: the light
kind of work in another process (`feeds.system.processes` has the pools).

A build with nothing to do looks at a million files on two cores: a child
takes a share of the stats while the caller takes the rest. It imports
nothing a process pool needs (a no-op build of 10,000 articles takes less
time than importing one), and it starts no thread, so the caller can fork
again while a first child runs.

The child gets the caller's memory as it is when forked (nothing is pickled
on the way in) and sends its result back pickled, through a pipe. It ends
once its one call has ended: it waits for nothing, so a caller that dies
leaves no child asleep (its result then meets a closed pipe).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any, NoReturn, TypeVar

_Result = TypeVar("_Result")


class ChildLost(Exception):
    """The child ended without a result (killed, or its result or error
    could not be pickled)."""


def can_fork() -> bool:
    """Whether this process may fork: a fork copies one thread, and locks
    another thread held stay held in the child."""
    import threading  # loaded already wherever a thread could have started

    return hasattr(os, "fork") and threading.active_count() == 1


@contextmanager
def aside(function: Callable[[], _Result]) -> Iterator[Callable[[], _Result]]:
    """Starts ``function()`` in a child forked now; gives a callable that
    waits for its result, or raises what the child raised (`ChildLost`
    when it died). Leaving the block ends the child if it still runs.

    Raises RuntimeError in a process with other threads (`can_fork`), and
    OSError when no child can be started.
    """
    if not can_fork():
        raise RuntimeError("a process with threads cannot fork")
    # The child sends its result pickled: imported here, once, not in each child.
    import pickle  # noqa: F401

    reading, writing = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no memory or process left for a child
        os.close(reading)
        os.close(writing)
        raise
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(reading)
        _serve(function, writing)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        try:
            yield _Outcome(pipe)
        finally:
            _end(pid)


def _serve(function: Callable[[], Any], writing: int) -> NoReturn:  # pragma: no cover
    """In the child: runs ``function`` and sends what came of it; never returns
    (no exit handler or stream buffer of the caller's runs twice)."""
    code = 1
    try:
        import pickle

        try:
            outcome: tuple[bool, Any] = (True, function())
        except Exception as error:
            outcome = (False, error)
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # a result or an error of a kind pickle refuses
            data = pickle.dumps((False, ChildLost("the child's result could not be pickled")))
        with os.fdopen(writing, "wb") as pipe:
            pipe.write(data)
        code = 0
    finally:
        os._exit(code)


class _Outcome:
    """The child's result, read from its pipe once and kept."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._outcome: tuple[bool, Any] | None = None

    def __call__(self) -> Any:
        if self._outcome is None:
            self._outcome = _received(self._pipe)
        succeeded, value = self._outcome
        if not succeeded:
            raise value
        return value


def _received(pipe: IO[bytes]) -> tuple[bool, Any]:
    import pickle

    try:
        outcome = pickle.load(pipe)  # noqa: S301 - our own child, through our own pipe
    except Exception as error:  # cut short (a child killed while it wrote), so garbled
        lost = ChildLost("the child ended without a result")
        lost.__cause__ = error
        return False, lost
    if not (isinstance(outcome, tuple) and len(outcome) == 2):
        return False, ChildLost("the child sent something else than its result")
    return outcome


def _end(pid: int) -> None:
    """Reaps the child, killing it first if it still runs (the caller left
    without its result)."""
    done, _status = os.waitpid(pid, os.WNOHANG)
    if done:
        return
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
