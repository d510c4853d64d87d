"""Sleeping in the main thread until a signal arrives, without locks.

Python runs a signal handler in the main thread between any two bytecodes,
even inside `threading.Event.wait`, while that holds the event's lock: a
handler calling `Event.set()` then waits for a lock its own thread holds,
and `feeds run` hung on SIGTERM (seen once in a few hundred stops). Here
the handlers only set flags; the C-level handler writes the signal's number
to a pipe (`signal.set_wakeup_fd`), and the main thread sleeps in `select`
on that pipe.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from types import FrameType


class SignalWakeup:
    """A pipe that every handled signal writes to; `wait` sleeps on it.

    Create it in the main thread, before installing the handlers.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def wait(self, timeout: float) -> None:
        """Returns after ``timeout`` seconds, or sooner once a signal arrived
        (also one that arrived since the last wait)."""
        readable, _, _ = select.select([self._read], [], [], timeout)
        if readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read, 512):
                    pass

    def wake(self) -> None:
        """Ends the `wait` in progress, or the next one, at once: from any
        thread (a write to a pipe, no lock taken)."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"\0")

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous)
        os.close(self._read)
        os.close(self._write)


class SignalRequests:
    """What SIGTERM, SIGINT and SIGHUP ask of the main thread, as flags.

    The handlers only set a flag: the signal itself wakes the main thread
    (see `SignalWakeup`), which then acts on it.
    """

    def __init__(self) -> None:
        self.stop = False
        self.reload = False

    def install(self) -> SignalWakeup:
        """Installs the handlers (in the main thread); returns what wakes it."""
        wake = SignalWakeup()
        signal.signal(signal.SIGTERM, self.on_stop_signal)
        signal.signal(signal.SIGINT, self.on_stop_signal)
        signal.signal(signal.SIGHUP, self.on_reload_signal)
        return wake

    def on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True

    def on_reload_signal(self, signum: int, frame: FrameType | None) -> None:
        self.reload = True
