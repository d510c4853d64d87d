"""The parse cache: what each seed file held when it was last read.

Kept in the cache folder (never the output folder), keyed by the seeds
folder and the settings that change how files are read. A file is trusted
only while its (mtime_ns, size, inode) is unchanged. The cache is plain data
(``marshal`` of tuples, dicts, strings and numbers, checked on load or, for
the many seed records, where each is used), so a corrupt, foreign or hostile
cache file is discarded and rebuilt, never executed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import marshal
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from feeds import __version__
from feeds.build.records import Listing, ListingMaker, problem_of
from feeds.system.regular import open_regular

if TYPE_CHECKING:  # names only
    import logging

    from feeds.build.records import Packed, SeedRecord


def _log() -> logging.Logger:
    """The cache's logger, imported when there is something to say: a build
    with nothing to do has not (`feeds.build.quick`)."""
    import logging

    return logging.getLogger("feeds.cache")


#: Bump when the layout of the catalog or of a cached article changes
#: (`feeds.build.records`).
FORMAT = 14
#: Articles per record of the articles file. Saving and loading hold one
#: record's packed articles at a time: packing and marshalling the whole
#: file at once made most of a large build's peak memory.
ARTICLES_PER_RECORD = 1000
#: Seed records per chunk of the catalog, for the same reason.
SEEDS_PER_CHUNK = 10_000
#: Seeds added to a folder's listing at a time, for the same reason.
_LISTING_BLOCK = 4096
_MAGIC = f"feeds-parse-cache/{FORMAT}/{__version__}"


def default_cache_dir() -> Path:
    """systemd's CacheDirectory=, else $XDG_CACHE_HOME/feeds, else ~/.cache/feeds."""
    systemd = os.environ.get("CACHE_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0])
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "feeds"


@lru_cache(maxsize=16)
def key_prefix(seeds: Path) -> str:
    """What `seed_key` strips from a seed file's path."""
    return str(seeds).rstrip(os.sep) + os.sep


def seed_key(prefix: str, path: str) -> str:
    """A seed's name in the cache: relative to the seeds folder, however it is spelled."""
    # String work: pathlib's relative_to is slow over many files.
    if path.startswith(prefix):
        return path[len(prefix) :].replace(os.sep, "/")
    return path


@dataclass(slots=True)
class CacheState:
    #: The seeds as loaded, by seed key, unchecked: read each one through
    #: `records.cached_seed`, where it is used (checking every record up front
    #: would be much of the time of a build with nothing to do).
    records: dict[str, object] = field(default_factory=dict)
    #: Each seed folder's listing (`records.ListingMaker`) by its key, and the
    #: problems of its seeds by seed key (`records.problem_of`), unchecked:
    #: what a build with nothing to do needs of the seeds, without `records`.
    listings: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, Any] = field(default_factory=dict)
    #: What the last publish wrote, to recognise a build with nothing to do
    #: (`records.LastPublish`).
    publish_key: str = ""
    outputs: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: The output records as stored, unchecked, when loaded without them
    #: (`ParseCache.load`): `output_records` checks them where they are used.
    stored_outputs: object = None
    #: A digest of each feed document's inputs as last written, by stem.
    plans: dict[str, str] = field(default_factory=dict)
    #: Pairs a catalog with the articles file written with it.
    token: str = ""


class ParseCache:
    """Two files: a small catalog (fingerprints, what was written) read by
    every build, and the packed articles, read only when something must be
    rebuilt. A build with nothing to do never pays for the articles, nor
    for the seed records: the catalog is a header (what was written, the
    folder listings) followed by the seed records in chunks and an end mark,
    each written and read one at a time."""

    def __init__(self, folder: Path, identity: str) -> None:
        digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        self.folder = folder
        self.identity = identity
        self.catalog_path = folder / f"parse-{digest}.cache"
        self.articles_path = folder / f"parse-{digest}.articles"
        self._token = ""

    def load(
        self, *, quiet: bool = False, records: bool = True, written: bool = True
    ) -> CacheState:
        """The catalog; empty when there is none or it is unusable, which is
        logged unless ``quiet``. Without ``records``, the seed records are
        left undecoded (a build with nothing to do reads the listings);
        without ``written``, what the last publish wrote is left as stored:
        the output records unchecked (a build with nothing to do checks them
        in a child) and the plans' digests unread (it needs none)."""
        try:
            with os.fdopen(open_regular(self.catalog_path)[0], "rb") as stream:
                header = _header(marshal.load(stream))  # noqa: S302 - checked
                state = _decode(header, self.identity, written=written)
                if records:
                    state.records = _seed_records(stream)
        except FileNotFoundError:
            return CacheState()
        except OSError as error:
            if not quiet:
                _log().warning(
                    "cannot read the cache %s (%s); rebuilding it",
                    self.catalog_path,
                    error.strerror,
                )
            return CacheState()
        except (ValueError, TypeError, EOFError, KeyError, IndexError) as error:
            if not quiet:
                _log().info("discarding the cache %s: %s", self.catalog_path, error or "unreadable")
            return CacheState()
        self._token = state.token
        return state

    def load_articles(self) -> Iterator[tuple[str, Packed]]:
        """The packed articles saved with the catalog last loaded, by seed key.

        Stops (and logs why) where the file is unusable; articles not yielded
        are for the caller to read again from their seed files.
        """
        try:
            with os.fdopen(open_regular(self.articles_path)[0], "rb") as stream:
                magic, identity, token = marshal.load(stream)  # noqa: S302 - validated
                if (magic, identity, token) != (_MAGIC, self.identity, self._token) or not token:
                    raise ValueError("not the articles of this catalog")
                while record := _next_record(stream):
                    for item in marshal.loads(record):  # noqa: S302 - validated
                        key, packed = item
                        if not (isinstance(key, str) and isinstance(packed, tuple)):
                            raise TypeError("bad article record")
                        yield key, packed
        except (OSError, ValueError, TypeError, EOFError) as error:
            _log().info("discarding the cached articles %s: %s", self.articles_path, error)

    def save(
        self,
        state: CacheState,
        seeds: Iterable[tuple[str, SeedRecord]],
        articles: Iterable[tuple[str, Packed]],
    ) -> None:
        """Writes the articles file (record by record), then the catalog naming
        it. ``seeds`` and ``articles`` are consumed once, a chunk at a time."""
        token = os.urandom(8).hex()

        def write_articles(stream: IO[bytes]) -> None:
            marshal.dump((_MAGIC, self.identity, token), stream)
            items = iter(articles)
            while record := tuple(islice(items, ARTICLES_PER_RECORD)):
                marshal.dump(marshal.dumps(record), stream)

        header = (
            _MAGIC,
            self.identity,
            token,
            state.publish_key,
            _output_columns(state.outputs),
            tuple(state.plans.items()),
            tuple(state.listings.items()),
            tuple(state.problems.items()),
        )

        def write_catalog(stream: IO[bytes]) -> None:
            # The seed records a chunk at a time after the header, and an
            # end: the whole catalog at once was a large build's peak.
            # The header as one bytes object: marshal reads a file an object
            # at a time, and a million articles' header is 250,000 of them.
            marshal.dump(marshal.dumps(header), stream)
            for chunk in _chunks(seeds, SEEDS_PER_CHUNK):
                marshal.dump(chunk, stream)
            marshal.dump(None, stream)

        # Articles first: a catalog is only ever next to the articles it names.
        if self._write(self.articles_path, write_articles):
            self._write(self.catalog_path, write_catalog)

    def _write(self, path: Path, write: Callable[[IO[bytes]], object]) -> bool:
        import tempfile  # only a build that read something writes the cache

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            with os.fdopen(descriptor, "wb") as stream:
                write(stream)
            os.replace(temp, path)
        except OSError as error:
            # A cache is an optimisation: failing to write one must not fail a build.
            _log().warning("cannot write the cache %s: %s", path, error.strerror)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temp)
            return False
        return True


def listings_of(
    records: Callable[[], Iterable[tuple[str, SeedRecord]]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The folder listings (by folder key) and the problems (by seed key)
    of the seed records ``records()`` gives, as `CacheState` keeps them; no
    listing for a folder where a fingerprint cannot have one."""
    # Made while a large build holds everything else, so it counts toward
    # its peak: the records come in name order (as discovered), and a folder
    # so listed is digested as it goes, no name kept. One listed otherwise
    # (seeds added while the daemon ran) is listed again, its names sorted.
    folders: dict[str, _Listing] = {}
    problems: dict[str, Any] = {}
    for key, record in records():
        folder, _, name = key.rpartition("/")
        listing = folders.get(folder)
        if listing is None:
            listing = folders[folder] = _Listing()
        listing.add(name, record)
        problem = problem_of(record)
        if problem is not None:
            problems[key] = problem
    unordered = {folder for folder, listing in folders.items() if not listing.ordered}
    if unordered:
        for folder, listing in _sorted_listings(records(), unordered).items():
            folders[folder] = listing
    listings: dict[str, Any] = {}
    for folder, listing in folders.items():
        made = listing.made()
        if made is not None:
            listings[folder + "/" if folder else ""] = made
    return listings, problems


class _Listing:
    """A `ListingMaker` given records one at a time, while names come in order."""

    __slots__ = ("_block", "_last", "_maker", "ordered")

    def __init__(self) -> None:
        self._maker = ListingMaker()
        self._block: list[tuple[str, int, int, int]] = []
        self._last: str | None = None
        self.ordered = True

    def add(self, name: str, record: SeedRecord) -> None:
        last, self._last = self._last, name
        if not self.ordered:
            return
        if last is not None and name <= last:
            self.ordered = False  # listed again, sorted (`_sorted_listings`)
            return
        self._block.append((name, record[0], record[1], record[2]))
        if len(self._block) >= _LISTING_BLOCK:
            self._flush()

    def _flush(self) -> None:
        if self._block:
            names, mtimes, sizes, inodes = zip(*self._block, strict=True)
            self._maker.add(names, mtimes, sizes, inodes)
            self._block = []

    def made(self) -> Listing | None:
        self._flush()
        return self._maker.made()


def _sorted_listings(
    records: Iterable[tuple[str, SeedRecord]], folders: set[str]
) -> dict[str, _Listing]:
    """The listings of ``folders``, their records gathered and sorted by name."""
    gathered: dict[str, list[tuple[str, SeedRecord]]] = {folder: [] for folder in folders}
    for key, record in records:
        folder, _, name = key.rpartition("/")
        if folder in gathered:
            gathered[folder].append((name, record))
    listings = {}
    for folder, items in gathered.items():
        listing = listings[folder] = _Listing()
        for name, record in sorted(items, key=itemgetter(0)):
            listing.add(name, record)
    return listings


def _chunks(items: Iterable[tuple[str, SeedRecord]], size: int) -> Iterator[bytes]:
    """``items`` as marshalled dicts of at most ``size`` entries."""
    iterator = iter(items)
    while chunk := dict(islice(iterator, size)):
        yield marshal.dumps(chunk)


def _next_record(stream: io.BufferedReader) -> bytes | None:
    """The next record of the articles file; None at its end (a record cut
    short raises EOFError)."""
    if not stream.peek(1):
        return None
    record = marshal.load(stream)  # noqa: S302 - checked to be bytes
    if not isinstance(record, bytes):
        raise TypeError("bad articles record")
    return record


def _header(data: object) -> object:
    """The catalog's header from its first object, as `ParseCache.save` wraps it."""
    # An older version's header is not wrapped: `_decode` then names its version.
    return marshal.loads(data) if isinstance(data, bytes) else data  # noqa: S302 - checked


def _decode(data: object, identity: str, *, written: bool = True) -> CacheState:
    """The catalog's header, checked (what the last publish wrote only with
    ``written``); the seed records follow it (`_seed_records`)."""
    if not (isinstance(data, tuple) and len(data) == 8):
        raise ValueError("not a feeds cache")
    magic, stored_identity, token, publish_key, stored, plans, listings, problems = data
    if magic != _MAGIC:
        raise ValueError(f"written by another version ({magic!r})")
    if stored_identity != identity or not isinstance(publish_key, str):
        raise ValueError("for other settings")
    if not isinstance(token, str):
        raise TypeError("bad token")
    # Checked first: the first fault is logged.
    checked_outputs = output_records(stored) if written else {}
    if not (isinstance(listings, tuple) and isinstance(problems, tuple)):
        raise TypeError("bad listings")
    return CacheState(
        listings=_pairs(listings),
        problems=_pairs(problems),
        publish_key=publish_key,
        outputs=checked_outputs,
        stored_outputs=None if written else stored,
        plans=_plan_records(plans) if written else {},
        token=token,
    )


def _output_columns(
    outputs: dict[str, tuple[int, int]],
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    """The output records as the catalog keeps them: names, sizes, mtimes."""
    names = tuple(outputs)
    sizes, mtimes = zip(*outputs.values(), strict=True) if outputs else ((), ())
    return names, sizes, mtimes


def output_count(stored: object) -> int:
    """How many output records ``stored`` holds (`CacheState.stored_outputs`),
    unchecked but for its shape. Raises TypeError."""
    return len(_output_columns_of(stored)[0])


def _output_columns_of(stored: object) -> tuple[tuple[Any, ...], ...]:
    if not (isinstance(stored, tuple) and len(stored) == 3):
        raise TypeError("bad output records")
    if not all(isinstance(column, tuple) for column in stored):
        raise TypeError("bad output records")
    return stored


def output_records(stored: object) -> dict[str, tuple[int, int]]:
    """The output records as stored, checked: (size, mtime_ns) by name.
    Raises TypeError or ValueError."""
    # Checked column by column, in C: thousands of files, read by every build.
    names, sizes, mtimes = _output_columns_of(stored)
    if not (set(map(type, names)) <= {str} and set(map(type, sizes + mtimes)) <= {int}):
        raise TypeError("bad output record")
    return dict(zip(names, zip(sizes, mtimes, strict=True), strict=True))


def _seed_records(stream: IO[bytes]) -> dict[str, object]:
    """The seed records after the header, chunk by chunk up to the end
    (a catalog cut short raises EOFError)."""
    records: dict[str, object] = {}
    while (chunk := marshal.load(stream)) is not None:  # noqa: S302 - checked to be bytes
        if not isinstance(chunk, bytes):
            raise TypeError("bad seed records")
        loaded = marshal.loads(chunk)  # noqa: S302 - each record checked where used
        if not isinstance(loaded, dict):
            raise TypeError("bad seed records")
        records.update(loaded)
    if stream.read(1):
        raise ValueError("more after the end")
    return records


def _pairs(items: tuple[object, ...]) -> dict[str, object]:
    """Keyed values, the keys checked (the values are, where used)."""
    if not set(map(type, items)) <= {tuple} or not set(map(len, items)) <= {2}:  # type: ignore[arg-type]
        raise TypeError("bad keyed records")
    pairs: dict[str, object] = dict(items)  # type: ignore[arg-type]
    if not set(map(type, pairs)) <= {str}:
        raise TypeError("bad keyed records")
    return pairs


def _plan_records(plans: Iterable[tuple[object, object]]) -> dict[str, str]:
    checked = {}
    for stem, digest in plans:
        if not (isinstance(stem, str) and isinstance(digest, str)):
            raise TypeError("bad plan record")
        checked[stem] = digest
    return checked


def identity_of(seeds: Path, reading: Mapping[str, object]) -> str:
    """What a cache is valid for: the seeds folder and the settings that shape parsing."""
    settings = ";".join(f"{key}={reading[key]!r}" for key in sorted(reading))
    return f"{seeds.absolute()}|{settings}"
