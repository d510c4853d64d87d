"""Subscriber counts that feed readers report in their User-Agent.

Feedly, Inoreader, NewsBlur and Feedbin poll a feed once for all their
users and say how many there are: ``... 123 subscribers ...``. `parse` turns
such a User-Agent into a `Report` (a service from a fixed table, the count,
and the reader's own feed id where it gives one); `Subscribers` keeps the
latest count per (feed, service, feed id), bounded, and saves it to the
state folder so a restart keeps it. ``feeds stats`` reads that file.

Only aggregates are kept: the feed's path, a service name, a numeric feed id
and a count; never an address nor the User-Agent itself. A service outside
the table is kept under its product token (``Name/1.0``: letters, digits,
``.``, ``_``, ``-``, at most 32 characters), so a new reader is counted too;
the LRU bound keeps a flood of invented names from growing memory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from feeds.config import Config, state_dir_of
from feeds.formats import FORMATS
from feeds.plan.plans import ARCHIVE_DIR

#: The most (feed, service) pairs kept; the least recently reported go first.
MAX_PAIRS = 10_000
#: The most feed ids kept for one (feed, service): the reader's separate subscriptions.
MAX_IDS = 100
#: Only this much of a User-Agent is looked at, so matching is bounded in time.
MAX_UA = 512
#: Seconds between saves of the state file, at most.
SAVE_EVERY = 10.0
STATE_FILE = "subscribers.json"

log = logging.getLogger("feeds.daemon")

#: Services known by name: what to look for (lowercase) and the name to show.
SERVICES = (
    ("feedly", "Feedly"),
    ("inoreader", "Inoreader"),
    ("newsblur", "NewsBlur"),
    ("feedbin", "Feedbin"),
    ("theoldreader", "The Old Reader"),
    ("the old reader", "The Old Reader"),
    ("bazqux", "BazQux"),
    ("feedspot", "Feedspot"),
    ("feedwrangler", "Feed Wrangler"),
)
# Tokens that name a browser engine, not the fetcher.
_NOT_PRODUCTS = frozenset({"mozilla", "applewebkit", "chrome", "safari", "gecko", "firefox"})

# No nested quantifiers, on at most MAX_UA characters: linear time.
_COUNT = re.compile(r"(?<![0-9])([0-9]{1,9}) subscribers?\b")
_FEED_ID = re.compile(r"feed-id:([0-9]{1,20})")
_NEWSBLUR_SITE = re.compile(r"newsblur\.com/site/([0-9]{1,20})")
_PRODUCT = re.compile(r"([A-Za-z][A-Za-z0-9_.-]{0,31})/[0-9]")
_FEED_SUFFIXES = tuple(fmt.suffix for fmt in FORMATS)
_ARCHIVE_PREFIX = f"/{ARCHIVE_DIR}/"
# A feed's path as the output folder names them: no dotfiles, no "..".
_FEED_PATH = re.compile(r"/[a-z0-9][a-z0-9._-]{0,200}(/[a-z0-9][a-z0-9._-]{0,200})?")


@dataclass(frozen=True, slots=True)
class Report:
    service: str
    count: int
    feed_id: str = ""  # the reader's own id of the subscription, "" when it gives none


def parse(user_agent: str) -> Report | None:
    """The subscriber count a User-Agent reports, or None."""
    ua = user_agent[:MAX_UA]
    if "subscriber" not in ua:
        return None
    found = _COUNT.search(ua)
    if found is None:
        return None
    service = _service(ua)
    if service is None:
        return None
    return Report(service, int(found.group(1)), _feed_id(ua))


def _service(ua: str) -> str | None:
    lowered = ua.lower()
    for needle, name in SERVICES:
        if needle in lowered:
            return name
    for token in _PRODUCT.findall(ua):
        if token.lower() not in _NOT_PRODUCTS:
            return str(token)
    return None


def _feed_id(ua: str) -> str:
    found = _FEED_ID.search(ua) or _NEWSBLUR_SITE.search(ua)
    return found.group(1) if found else ""


def feed_of(path: str, status: int) -> str | None:
    """The feed a request named, as the output folder names it
    (``all.atom.xml``), when it was a main feed document that was served
    (200 or 304); else None: archives, pages, misses and odd paths."""
    if status not in (200, 304) or not path.endswith(_FEED_SUFFIXES):
        return None
    if path.startswith(_ARCHIVE_PREFIX) or _FEED_PATH.fullmatch(path) is None:
        return None
    return path[1:]


@dataclass(frozen=True, slots=True)
class Total:
    feed: str
    service: str
    subscribers: int


class Subscribers:
    """The latest counts, by (feed, service) in least-recently-reported
    order, each a dict of feed id to count. `heard` runs on the server's
    event loop; `save_due` and `totals` on other threads, hence the lock
    (held for a dict update, never for I/O)."""

    def __init__(self, max_pairs: int = MAX_PAIRS) -> None:
        self._max_pairs = max_pairs
        self._counts: OrderedDict[tuple[str, str], dict[str, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._changed = False
        self._saved_at = 0.0

    def heard(self, path: str, status: int, user_agent: bytes) -> None:
        """One answered request: counted when it names a feed and reports subscribers."""
        if b"subscriber" not in user_agent[:MAX_UA]:
            return
        feed = feed_of(path, status)
        if feed is None:
            return
        report = parse(user_agent[:MAX_UA].decode("latin-1"))
        if report is not None:
            self.record(feed, report)

    def record(self, feed: str, report: Report) -> None:
        key = (feed, report.service)
        with self._lock:
            ids = self._counts.pop(key, None) or {}
            ids.pop(report.feed_id, None)
            ids[report.feed_id] = report.count
            if len(ids) > MAX_IDS:
                del ids[next(iter(ids))]
            self._counts[key] = ids
            if len(self._counts) > self._max_pairs:
                self._counts.popitem(last=False)
            self._changed = True

    def __len__(self) -> int:
        return len(self._counts)

    def totals(self) -> list[Total]:
        """Each (feed, service) with its count summed over the reader's feed ids."""
        with self._lock:
            items = [(key, sum(ids.values())) for key, ids in self._counts.items()]
        return [Total(feed, service, total) for (feed, service), total in sorted(items)]

    # --- the state file ----------------------------------------------------

    def load(self, path: Path) -> None:
        """Counts from ``path``; a missing or unreadable file keeps none."""
        for feed, service, ids in read_state(path):
            for feed_id, count in ids.items():
                self.record(feed, Report(service, count, feed_id))
        self._changed = False

    def save_due(self, path: Path, now: float | None = None, *, force: bool = False) -> bool:
        """Saves when something changed and the last save is SAVE_EVERY old
        (or ``force``, at stop); True when it wrote."""
        now = time.monotonic() if now is None else now
        if not self._changed or (not force and now - self._saved_at < SAVE_EVERY):
            return False
        with self._lock:
            rows = [[feed, service, dict(ids)] for (feed, service), ids in self._counts.items()]
            self._changed = False
        self._saved_at = now
        try:
            _write_atomically(path, json.dumps({"version": 1, "counts": rows}).encode())
        except OSError:
            self._changed = True  # tried again SAVE_EVERY later
            raise
        return True


def state_file(config: Config) -> Path:
    return state_dir_of(config) / STATE_FILE


def save_counts(keeper: Subscribers, config: Config, *, force: bool = False) -> None:
    """`Subscribers.save_due` for the daemon's main thread: a failed save is
    said and tried again later, never fatal."""
    path = state_file(config)
    try:
        keeper.save_due(path, force=force)
    except OSError as error:
        log.warning("cannot save subscriber counts to %s: %s", path, error)


def read_state(path: Path) -> Iterable[tuple[str, str, dict[str, int]]]:
    """The rows of a state file, oldest first; those of the wrong shape skipped."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return []
    rows = data.get("counts") if isinstance(data, dict) else None
    return [row for row in rows if _well_formed(row)] if isinstance(rows, list) else []


def _well_formed(row: object) -> bool:
    if not (isinstance(row, list) and len(row) == 3):
        return False
    feed, service, ids = row
    return (
        isinstance(feed, str)
        and isinstance(service, str)
        and isinstance(ids, dict)
        and all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in ids.items())
    )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def stats_lines(path: Path) -> list[str]:
    """``feeds stats``: one line per feed, most subscribers first:
    the feed, its total, and each service's share."""
    keeper = Subscribers(max_pairs=MAX_PAIRS)
    if not path.is_file():
        return ["no subscriber counts yet"]
    keeper.load(path)
    by_feed: dict[str, list[Total]] = {}
    for total in keeper.totals():
        by_feed.setdefault(total.feed, []).append(total)
    if not by_feed:
        return ["no subscriber counts yet"]
    rows = []
    for feed, totals in by_feed.items():
        totals.sort(key=lambda t: (-t.subscribers, t.service))
        services = ", ".join(f"{t.service} {t.subscribers}" for t in totals)
        rows.append((feed, sum(t.subscribers for t in totals), services))
    rows.sort(key=lambda row: (-row[1], row[0]))
    width = max(len(row[0]) for row in rows)
    digits = max(len(str(row[1])) for row in rows)
    return [f"{feed:<{width}}  {total:>{digits}}  {services}" for feed, total, services in rows]
