"""Refresh hints in RSS: ``<ttl>`` and the RSS 1.0 syndication module.

Readers such as Liferea schedule polls from ``sy:updatePeriod`` and
``sy:updateFrequency``; others from ``<ttl>``. Both say the config's ``ttl``.
feedgen writes ``<ttl>`` itself; its own syndication extension writes
``sy:UpdatePeriod`` (the module's names start in lower case, so readers miss
it) and ``None`` for an unset frequency, hence this small one.
"""

from __future__ import annotations

from typing import Any

from feedgen.ext.base import BaseExtension
from lxml import etree

SY_NS = "http://purl.org/rss/1.0/modules/syndication/"

#: The module's periods, in minutes, shortest first. A month and a year have
#: no fixed length; 30 and 365 days are what a reader divides them into.
_PERIODS = (
    ("hourly", 60),
    ("daily", 24 * 60),
    ("weekly", 7 * 24 * 60),
    ("monthly", 30 * 24 * 60),
    ("yearly", 365 * 24 * 60),
)
#: Periods of a fixed length, the ones a ttl can divide exactly.
_EXACT = ("hourly", "daily", "weekly")


def update_hint(ttl: int) -> tuple[str, int]:
    """``(updatePeriod, updateFrequency)`` saying "every ``ttl`` minutes".

    A period holds ``frequency`` updates, so one every ``minutes / frequency``.
    The first fixed-length period that ``ttl`` divides says it exactly (15 is
    hourly 4, 45 daily 32, 7 weekly 1440). Otherwise the shortest period as
    long as ``ttl`` at least, with the frequency rounded down: readers then
    wait a little longer than ``ttl``, never less (100 is daily 14, one every
    103 minutes; 20160, two weeks, is monthly 2). ``ttl`` is at most a year.
    """
    for period, minutes in _PERIODS:
        if period in _EXACT and minutes >= ttl and minutes % ttl == 0:
            return period, minutes // ttl
    for period, minutes in _PERIODS:
        if minutes >= ttl:
            return period, minutes // ttl
    raise ValueError(f"ttl {ttl} is longer than a year")


class SyndicationExtension(BaseExtension):  # type: ignore[misc]  # feedgen has no types
    """feedgen's extension protocol: the namespace, and the channel's elements."""

    def __init__(self) -> None:
        self._hint: tuple[str, int] | None = None

    def every(self, ttl: int) -> None:
        self._hint = update_hint(ttl)

    def extend_ns(self) -> dict[str, str]:
        return {"sy": SY_NS}

    def extend_rss(self, rss_feed: Any) -> Any:
        if self._hint is not None:
            period, frequency = self._hint
            channel = rss_feed[0]
            etree.SubElement(channel, f"{{{SY_NS}}}updatePeriod").text = period
            etree.SubElement(channel, f"{{{SY_NS}}}updateFrequency").text = str(frequency)
        return rss_feed
