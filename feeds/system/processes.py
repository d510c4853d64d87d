"""Work run in other processes: the one way feeds does it.

`spread` runs a function over shares of work in child processes, while the
caller goes on with its own, and gives back each share's result in order.
How the children start is decided here, by what the work needs:

- ``inherit=True``: forked from this process, so the function and its
  shares are inherited, never pickled or copied (a renderer's plans and
  articles). Only a process with no other threads may fork (`can_fork`): a
  fork copies one thread, and locks another thread held stay held.
- otherwise from a forkserver, which is safe beside the daemon's threads:
  the function must be importable and its shares plain values, as both are
  pickled.

`feeds.system.aside` runs one function in one forked child, for paths that
cannot pay for importing a pool.

A child's exception is raised where its result is taken, as the child
raised it; a child that died raises ``BrokenProcessPool``. A child whose
caller died (``kill -9``, a timer's SIGKILL) ends too: waiting for work that
can no longer come, it would otherwise sleep forever (a forked child holds
its own copy of the pipe it waits on, and a forkserver lives on while it has
children).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from feeds.system.aside import can_fork as can_fork

_Share = TypeVar("_Share")
_Result = TypeVar("_Result")

#: Seconds between a child's looks at whether its caller is still there,
#: where the system cannot tell it at once.
CALLER_CHECK = 0.5

#: The work of each `spread` with ``inherit=True``, by key: forked children
#: find it here, in the memory they inherit.
_inherited: dict[int, tuple[Callable[[Any], Any], Sequence[Any]]] = {}
_keys = itertools.count()


@contextmanager
def spread(
    function: Callable[[_Share], _Result],
    shares: Sequence[_Share],
    *,
    workers: int,
    inherit: bool = False,
    preload: Sequence[str] = (),
) -> Iterator[Iterator[_Result]]:
    """Starts ``function(share)`` for each share in up to ``workers`` child
    processes; gives the results, in the order of ``shares``, as they come.

    ``preload`` names the modules a forkserver imports once for all its
    children. Leaving the block waits for every child that started (none is
    left behind) and cancels the shares not yet started.
    """
    if inherit and not can_fork():
        raise RuntimeError("a process with threads cannot fork")
    key = next(_keys)
    if inherit:
        _inherited[key] = (function, shares)
    try:
        context = _context(inherit, preload)
        with ProcessPoolExecutor(workers, context, _end_with_caller, (os.getpid(),)) as pool:
            futures = _submit(pool, key, function, shares, inherit=inherit)
            try:
                yield _results(futures)
            finally:
                for future in futures:
                    future.cancel()
    finally:
        _inherited.pop(key, None)


def _end_with_caller(caller: int) -> None:
    """In each child: ends it once ``caller`` (the process that called
    `spread`) has ended. Watched by its pid, not by the child's parent: a
    forkserver outlives the caller while it has children."""
    try:
        handle: int | None = os.pidfd_open(caller)  # Linux: no pid reuse can fool it
    except ProcessLookupError:
        os._exit(1)  # the caller ended before this child ran
    except (AttributeError, OSError):
        handle = None
    threading.Thread(
        target=_watch, args=(caller, handle), name="feeds-caller-watch", daemon=True
    ).start()


def _watch(caller: int, handle: int | None) -> None:
    if handle is not None:
        select.select([handle], [], [])  # readable once the caller has ended
    else:
        while _exists(caller):
            time.sleep(CALLER_CHECK)
    os._exit(1)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _context(inherit: bool, preload: Sequence[str]) -> BaseContext:
    if inherit:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    if preload:
        context.set_forkserver_preload(list(preload))
    return context


def _submit(
    pool: ProcessPoolExecutor,
    key: int,
    function: Callable[[_Share], _Result],
    shares: Sequence[_Share],
    *,
    inherit: bool,
) -> list[Future[_Result]]:
    if inherit:
        # The children are forked at the first submit, with the work in place.
        return [pool.submit(_run_inherited, key, position) for position in range(len(shares))]
    return [pool.submit(function, share) for share in shares]


def _results(futures: list[Future[_Result]]) -> Iterator[_Result]:
    """Each future's result in order; each future is let go once its result
    is taken, so results already used are not held until the end."""
    futures.reverse()
    while futures:
        yield futures.pop().result()


def _run_inherited(key: int, position: int) -> Any:
    function, shares = _inherited[key]
    return function(shares[position])
