"""When a full rebuild also renders every document again.

A full rebuild (the periodic rescan, a reload, a retry after a failure)
reads every seed that changed and renders the documents whose inputs
changed. Rendering every document as well repairs output files changed
behind feeds' back, but it costs what a cold build's rendering costs: a
minute of CPU at 100,000 articles, more than the rescan interval at a
million, and every save waits behind it. So a rebuild renders everything
only when the output folder was replaced, and otherwise at most once a
`REPAIR_INTERVAL`. (At a start, the cache's record of the output files is
checked file by file instead: `Publisher` renders again what differs.)
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Seconds between full rebuilds that render every document again.
REPAIR_INTERVAL = 24 * 3600.0


class Repairs:
    """Whether the next full rebuild renders every document again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self._asked = False

    def ask(self) -> None:
        """The output folder was replaced: the next full rebuild repairs it."""
        self._asked = True

    def take(self, full: bool) -> bool:
        """Whether this rebuild (a ``full`` one or not) renders everything;
        if so, the next repair is a whole interval away."""
        if not full or not (self._asked or self._clock() - self._last >= REPAIR_INTERVAL):
            return False
        self._last, self._asked = self._clock(), False
        return True
