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
the system (`feeds.system.memory`).
"""

from __future__ import annotations

import gc
import logging
import time

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


def after_rebuild(full: bool) -> None:
    """`settle` after a full rebuild; after any other, what rendering freed
    is given back (a call that costs well under a millisecond)."""
    if full:
        settle()
    else:
        give_back()
