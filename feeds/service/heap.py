"""The daemon's long-lived heap, kept out of the cyclic collector's way.

A daemon holding a million articles holds tens of millions of objects that
live as long as their articles. Python's full (oldest-generation) collection
visits every one of them, about 1.1 s at a million articles on the bench
machine, and it falls on whichever save happens to allocate past its
threshold: that pause was the daemon's p95 from save to feed
(bench/RESULTS.md). After the start and after each full rebuild the objects
that survived are moved to the permanent generation (`gc.freeze`): freed as
ever when their last reference goes, since articles and plans hold no
reference cycles, but never visited by a collection again.

Each settling unfreezes first, so one full collection then finds any cycle
that died among the frozen objects: nothing leaks for longer than one
rescan interval. Then what the start or the rebuild freed is given back to
the system (`feeds.system.memory`); what other rebuilds free, once they
pause (`QuietTrim`).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

from feeds.system.memory import give_back

log = logging.getLogger("feeds.service")


def settle() -> None:
    """Collects what is garbage now, then freezes everything that is left."""
    started = time.monotonic()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    give_back()
    log.debug(
        "heap settled: %d objects frozen in %.3f s",
        gc.get_freeze_count(),
        time.monotonic() - started,
    )


#: Seconds without a rebuild before what the last ones freed is given back:
#: a save that came during the trim would wait for it, so it waits for a pause.
QUIET = 2.0


class QuietTrim:
    """Gives back what rebuilds freed (rendering's documents and buffers go
    through malloc) once they pause: told on the daemon's health tick."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._count = 0  # rebuilds ended, as last told
        self._since = clock()  # when that count was first told
        self._trimmed = 0  # rebuilds ended at the last trim

    def tick(self, ended: int, running: bool) -> bool:
        """``ended`` rebuilds so far, one ``running`` or not; whether it trimmed."""
        now = self._clock()
        if ended != self._count:
            self._count, self._since = ended, now
            return False
        if running or ended == self._trimmed or now - self._since < QUIET:
            return False
        self._trimmed = ended
        return give_back()


#: The C heap is the process's: one trim for the process.
_QUIET_TRIM = QuietTrim()


def quiet_tick(ended: int, running: bool) -> bool:
    """`QuietTrim.tick` of the process's trim (the daemon's health tick)."""
    return _QUIET_TRIM.tick(ended, running)
