"""Signals wake the daemon's main thread, and its handlers never take a lock.

Python runs a handler in the main thread between two bytecodes, even where
that thread holds a lock (inside `threading.Event.wait`): a handler that
takes a lock can wait for its own thread forever. `feeds run` once hung so
on SIGTERM; the handlers now only set flags.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from feeds.config import Config
from feeds.service.daemon import Daemon
from feeds.service.signals import SignalWakeup

ConfigFactory = Callable[..., Config]


# The types themselves, not their names: those belong to the interpreter.
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _locks_taken(action: Callable[[], object]) -> list[str]:
    """The lock methods (`acquire`, `__enter__`, ...) that ``action`` calls."""
    taken: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        owner = getattr(arg, "__self__", None)
        if event == "c_call" and isinstance(owner, _LOCK_TYPES):
            taken.append(arg.__name__)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return taken


def test_the_daemons_signal_handlers_take_no_lock(make_config: ConfigFactory) -> None:
    config = make_config()
    daemon = Daemon(lambda: config)
    assert _locks_taken(lambda: daemon._requests.on_stop_signal(signal.SIGTERM, None)) == []
    assert _locks_taken(lambda: daemon._requests.on_reload_signal(signal.SIGHUP, None)) == []


def test_the_lock_finder_finds_an_event_being_set() -> None:
    assert _locks_taken(threading.Event().set) != []  # what the handlers did before


@pytest.fixture
def wake() -> Iterator[SignalWakeup]:
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: None)
    wakeup = SignalWakeup()
    try:
        yield wakeup
    finally:
        wakeup.close()
        signal.signal(signal.SIGUSR1, previous)


def test_a_signal_wakes_the_sleeper(wake: SignalWakeup) -> None:
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1)).start()
    started = time.monotonic()
    wake.wait(30)
    assert time.monotonic() - started < 20  # woken by the signal, not the timeout


def test_a_signal_before_the_sleep_is_not_missed(wake: SignalWakeup) -> None:
    os.kill(os.getpid(), signal.SIGUSR1)
    started = time.monotonic()
    wake.wait(30)
    assert time.monotonic() - started < 20
    started = time.monotonic()
    wake.wait(0.05)  # nothing left over: this one sleeps its time
    assert time.monotonic() - started >= 0.04
