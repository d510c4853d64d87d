"""Work in a forked child process, its result sent back over a pipe.

A one-shot cold build renders thousands of feed documents, CPU-bound and
independent; a fork shares the parent's articles without copying or
pickling them. Only a process with no other threads forks (the daemon never
does): a fork copies one thread, and locks another held stay held.
"""

from __future__ import annotations

import marshal
import os
import threading
from collections.abc import Callable
from typing import Any

#: What a child sends back: ("ok", value), ("error", message) or ("crash", kind).
Outcome = tuple[str, Any]


def can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def start(work: Callable[[], Any], expected: type[Exception]) -> Callable[[], Outcome]:
    """Runs ``work`` in a child; returns a function that waits for its outcome.

    ``work``'s value must be marshallable (lists, strings, numbers). An
    ``expected`` exception comes back as its message; anything else as a crash
    the caller can recover from by doing the work itself.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reader)
        outcome: Outcome
        try:
            outcome = ("ok", work())
        except expected as error:
            outcome = ("error", str(error))
        except BaseException as error:
            outcome = ("crash", type(error).__name__)
        try:
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(marshal.dumps(outcome))
        finally:
            os._exit(0)
    os.close(writer)

    def wait() -> Outcome:
        # Read before reaping: a result larger than the pipe's buffer blocks
        # the child until it is read.
        with os.fdopen(reader, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if not data:
            return ("crash", f"exit status {status}")
        result: Outcome = marshal.loads(data)  # noqa: S302 - our own child's bytes
        return result

    return wait
