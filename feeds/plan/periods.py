"""Which archive document holds each of a feed's older entries.

An archive document is a *period*: a span of UTC time. A feed's periods are
its calendar months; a month holding more than ``archive_max_items`` entries,
or more than an archive document's share of ``max_bytes`` by `entry_weight`,
is cut in two halves of its time span, and each half again until every
period fits. Entries published in the very same microsecond are cut by the
bits of a hash of their ids instead. `docs/ARCHIVES.md` gives the trade-off.

Periods depend on the feed's members alone, never on what was built
before, so the same seeds give the same documents; and a period changes only
when an entry of its own span comes, goes or changes. One save therefore
rewrites at most one period and the two beside it, whatever the feed's size,
and an archive of entries older than every new one stays as it is.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import islice
from typing import overload

from feeds.model import Article

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: Between a month and the halves of its span in a period's name.
_HALVES = "_"
#: Between the halves of a span and the bits of the entries' id hashes.
_HASH_BITS = "h"
#: Hash bits there are: past them (ids cannot collide) a period is kept whole.
_MAX_HASH_BITS = 256

#: What a document holds besides its entries (header, links, closing tags),
#: allowed for in every period's share of ``max_bytes``.
DOCUMENT_ALLOWANCE = 8 * 1024
#: What an entry carries besides its text (element names, dates, ids, topics).
ENTRY_ALLOWANCE = 1024
#: Escaping (``&lt;``, ``\\"``) and markup make an entry longer than its text;
#: a summary is written twice in some formats (summary and content).
TEXT_FACTOR = 3
#: Each related article and image, at the most the reader keeps of one.
RELATED_ALLOWANCE = 2048
IMAGE_ALLOWANCE = 512
LABEL_ALLOWANCE = 64


@dataclass(frozen=True, slots=True)
class Period:
    """One archive document's span: its name and its articles, oldest
    first by `plans.sort_key`."""

    #: The month, then (when cut) ``_`` and the halves taken, ``0`` the older
    #: and ``1`` the newer, then (within one microsecond) ``h`` and hash bits.
    name: str
    articles: Sequence[Article]
    #: The span in microseconds since 1970: ``first <= published < end``.
    first: int
    end: int

    @property
    def month(self) -> str:
        return self.name[:7]  # "2026-03": archive_month's years have four digits

    def holds(self, moment: datetime) -> bool:
        return self.first <= micros(moment) < self.end


@dataclass(frozen=True, slots=True)
class PeriodLimits:
    """How much one archive document may hold."""

    max_items: int
    #: ``max_bytes`` less `DOCUMENT_ALLOWANCE`, in `entry_weight` units.
    max_weight: int

    @classmethod
    def of(cls, archive_max_items: int, max_bytes: int) -> PeriodLimits:
        return cls(archive_max_items, max(max_bytes - DOCUMENT_ALLOWANCE, 1))


def entry_weight(article: Article) -> int:
    """An estimate of the bytes of the article's entry in the largest format,
    from what it costs nothing to measure (lengths, counts): about twice
    what the formats write for the bench corpus and the real samples."""
    sizes = article.sizes()  # a body kept out of memory is not read back
    text = sizes.text + 2 * sizes.link
    allowances = LABEL_ALLOWANCE * len(article.topics) + RELATED_ALLOWANCE * sizes.related
    allowances += IMAGE_ALLOWANCE * sizes.images
    return ENTRY_ALLOWANCE + TEXT_FACTOR * text + allowances


def micros(moment: datetime) -> int:
    """Microseconds since 1970 (negative before): exact, unlike a float."""
    return (moment - _EPOCH) // _MICROSECOND


@cache
def month_span(month: str) -> tuple[int, int]:
    """The first microsecond of ``month`` ("2026-03") and of the next."""
    year, number = int(month[:4]), int(month[5:7])
    start = datetime(year, number, 1, tzinfo=UTC)
    if (year, number) == (9999, 12):
        return micros(start), micros(datetime.max.replace(tzinfo=UTC)) + 1
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return micros(start), micros(following)


def periods(month: str, articles: Sequence[Article], limits: PeriodLimits) -> list[Period]:
    """The periods of one month's ``articles`` (oldest first by
    `plans.sort_key`), oldest first."""
    first, end = month_span(month)
    found: list[Period] = []
    _cut(Period(month, articles, first, end), limits, found)
    return found


def _cut(period: Period, limits: PeriodLimits, found: list[Period]) -> None:
    if _fits(period.articles, limits):
        found.append(period)
    elif period.end - period.first > 1:
        for half in _halves(period):
            _cut(half, limits, found)
    else:
        _cut_by_hash(period, limits, found, 0)


def _fits(articles: Sequence[Article], limits: PeriodLimits) -> bool:
    if len(articles) <= 1:
        return True  # one entry is one document, however large
    if len(articles) > limits.max_items:
        return False
    total = 0
    for article in articles:
        total += entry_weight(article)
        if total > limits.max_weight:
            return False
    return True


def _halves(period: Period) -> list[Period]:
    """The non-empty halves of the period's span, older first."""
    middle = (period.first + period.end) // 2
    split = bisect_left(period.articles, _EPOCH + middle * _MICROSECOND, key=_published)
    prefix = period.name if _HALVES in period.name else period.name + _HALVES
    older = Period(prefix + "0", _Run.of(period.articles, 0, split), period.first, middle)
    newer = Period(prefix + "1", _Run.of(period.articles, split, None), middle, period.end)
    return [half for half in (older, newer) if half.articles]


class _Run(Sequence[Article]):
    """Articles ``start`` to ``stop`` of a month's list, not copied: a
    busy month's periods would otherwise hold every article of it again.
    The month's periods are cut again whenever the list changes
    (`members.Members`), so a run never outlives the order it was cut from."""

    __slots__ = ("_items", "_start", "_stop")

    def __init__(self, items: list[Article], start: int, stop: int) -> None:
        self._items, self._start, self._stop = items, start, stop

    @classmethod
    def of(cls, articles: Sequence[Article], start: int, stop: int | None) -> Sequence[Article]:
        """``articles[start:stop]``, a run of the month's list when ``articles`` is one."""
        stop = len(articles) if stop is None else stop
        if isinstance(articles, _Run):
            return cls(articles._items, articles._start + start, articles._start + stop)
        if isinstance(articles, list):
            return cls(articles, start, stop)
        return articles[start:stop]

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, index: int) -> Article: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Article]: ...
    def __getitem__(self, index: int | slice) -> Article | Sequence[Article]:
        if isinstance(index, slice):
            return self._items[self._start : self._stop][index]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self._items[self._start + index % len(self)]

    def __iter__(self) -> Iterator[Article]:
        return islice(self._items, self._start, self._stop)


def _published(article: Article) -> datetime:
    return article.published


def _cut_by_hash(period: Period, limits: PeriodLimits, found: list[Period], bit: int) -> None:
    """Entries of one microsecond, cut by bit ``bit`` of their ids' hashes."""
    if bit >= _MAX_HASH_BITS or _fits(period.articles, limits):
        found.append(period)
        return
    prefix = period.name if bit else period.name + _HASH_BITS
    for value in "01":
        part = [article for article in period.articles if _hash_bit(article.id, bit) == value]
        if part:
            cut = Period(prefix + value, part, period.first, period.end)
            _cut_by_hash(cut, limits, found, bit + 1)


def _hash_bit(entry_id: str, bit: int) -> str:
    digest = hashlib.sha256(entry_id.encode("utf-8", "surrogatepass")).digest()
    return "1" if digest[bit // 8] >> (7 - bit % 8) & 1 else "0"
