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
import logging
import marshal
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import IO, Any

from feeds import __version__
from feeds.model import Article, Provider
from feeds.model.compact import Fields, Images, Related, provider_of, shared, shared_topics
from feeds.system.regular import open_regular, read_regular

log = logging.getLogger("feeds.cache")

#: Bump when the layout of the index or of a cached article changes.
FORMAT = 10
#: Articles per record of the articles file. Saving and loading hold one
#: record's packed articles at a time: packing and marshalling the whole
#: file at once was most of a large build's peak memory.
ARTICLES_PER_RECORD = 1000
#: Seed records per chunk of the index, for the same reason.
SEEDS_PER_CHUNK = 10_000
_MAGIC = f"feeds-parse-cache/{FORMAT}/{__version__}"

Fingerprint = tuple[int, int, int]
Packed = tuple[Any, ...]


def default_cache_dir() -> Path:
    """systemd's CacheDirectory=, else $XDG_CACHE_HOME/feeds, else ~/.cache/feeds."""
    systemd = os.environ.get("CACHE_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0])
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "feeds"


@dataclass(slots=True)
class CachedSeed:
    fingerprint: Fingerprint
    has_article: bool  # its packed article is in the articles file
    reason: str | None  # why the file was rejected
    #: Why each of its dropped fields was dropped: a build with nothing to do
    #: still reports them, and strict mode rejects the file for them.
    warnings: tuple[str, ...] = ()


#: One seed file in the index: (mtime_ns, size, inode, has_article, reason, warnings).
SeedRecord = tuple[int, int, int, bool, str | None, tuple[str, ...]]


def seed_record(raw: object) -> CachedSeed | None:
    """One seed's record as loaded, checked; None when absent or malformed
    (its file is then read again, never trusted)."""
    if not (isinstance(raw, tuple) and len(raw) == 6):
        return None
    mtime, size, inode, has_article, reason, warnings = raw
    if not (isinstance(mtime, int) and isinstance(size, int) and isinstance(inode, int)):
        return None
    if not isinstance(has_article, bool) or not (reason is None or isinstance(reason, str)):
        return None
    if not isinstance(warnings, tuple) or not all(isinstance(w, str) and w for w in warnings):
        return None
    return CachedSeed((mtime, size, inode), has_article, reason, warnings)


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
    #: The seeds as loaded, by seed key: (mtime_ns, size, inode, has_article,
    #: reason, warnings), unchecked; read each one through `seed_record`. Checking
    #: every record up front was much of a build with nothing to do.
    records: dict[str, object] = field(default_factory=dict)
    #: What the last publish wrote, to recognise a build with nothing to do.
    publish_key: str = ""
    outputs: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: A digest of each feed document's inputs as last written, by stem.
    plans: dict[str, str] = field(default_factory=dict)
    #: Pairs an index with the articles file written with it.
    token: str = ""


class ParseCache:
    """Two files: a small index (fingerprints, what was written) read by every
    build, and the packed articles, read only when something must be rebuilt.
    A build with nothing to do never pays for the articles."""

    def __init__(self, folder: Path, identity: str) -> None:
        digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        self.path = folder / f"parse-{digest}.cache"
        self.articles_path = folder / f"parse-{digest}.articles"
        self._identity = identity
        self._token = ""

    def load(self) -> CacheState:
        try:
            raw = read_regular(self.path)
        except FileNotFoundError:
            return CacheState()
        except OSError as error:
            log.warning("cannot read the cache %s (%s); rebuilding it", self.path, error.strerror)
            return CacheState()
        try:
            state = _decode(marshal.loads(raw), self._identity)  # noqa: S302 - validated below
        except (ValueError, TypeError, EOFError, KeyError, IndexError) as error:
            log.info("discarding the cache %s: %s", self.path, error or "unreadable")
            return CacheState()
        self._token = state.token
        return state

    def load_articles(self) -> Iterator[tuple[str, Packed]]:
        """The packed articles saved with the index last loaded, by seed key.

        Stops (and logs why) where the file is unusable; articles not yielded
        are for the caller to read again from their seed files.
        """
        try:
            with os.fdopen(open_regular(self.articles_path)[0], "rb") as stream:
                magic, identity, token = marshal.load(stream)  # noqa: S302 - validated
                if (magic, identity, token) != (_MAGIC, self._identity, self._token) or not token:
                    raise ValueError("not the articles of this index")
                while record := _next_record(stream):
                    for item in marshal.loads(record):  # noqa: S302 - validated
                        key, packed = item
                        if not (isinstance(key, str) and isinstance(packed, tuple)):
                            raise TypeError("bad article record")
                        yield key, packed
        except (OSError, ValueError, TypeError, EOFError) as error:
            log.info("discarding the cached articles %s: %s", self.articles_path, error)

    def save(
        self,
        state: CacheState,
        seeds: Iterable[tuple[str, SeedRecord]],
        articles: Iterable[tuple[str, Packed]],
    ) -> None:
        """Writes the articles file (record by record), then the index naming
        it. ``seeds`` and ``articles`` are consumed once, a chunk at a time."""
        token = os.urandom(8).hex()

        def write_articles(stream: IO[bytes]) -> None:
            marshal.dump((_MAGIC, self._identity, token), stream)
            items = iter(articles)
            while record := tuple(islice(items, ARTICLES_PER_RECORD)):
                marshal.dump(marshal.dumps(record), stream)

        index = marshal.dumps(
            (
                _MAGIC,
                self._identity,
                token,
                state.publish_key,
                tuple((name, size, mtime) for name, (size, mtime) in state.outputs.items()),
                tuple(_chunks(seeds, SEEDS_PER_CHUNK)),
                tuple(state.plans.items()),
            )
        )
        # Articles first: an index is only ever next to the articles it names.
        if self._write(self.articles_path, write_articles):
            self._write(self.path, lambda stream: stream.write(index))

    def _write(self, path: Path, write: Callable[[IO[bytes]], object]) -> bool:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            with os.fdopen(descriptor, "wb") as stream:
                write(stream)
            os.replace(temp, path)
        except OSError as error:
            # A cache is an optimisation: failing to write one must not fail a build.
            log.warning("cannot write the cache %s: %s", path, error.strerror)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temp)
            return False
        return True


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


def _decode(data: object, identity: str) -> CacheState:
    if not (isinstance(data, tuple) and len(data) == 7):
        raise ValueError("not a feeds cache")
    magic, stored_identity, token, publish_key, outputs, seeds, plans = data
    if magic != _MAGIC:
        raise ValueError(f"written by another version ({magic!r})")
    if stored_identity != identity or not isinstance(publish_key, str):
        raise ValueError("for other settings")
    if not isinstance(token, str):
        raise TypeError("bad token")
    state = CacheState(publish_key=publish_key, token=token)
    for name, size, mtime in outputs:
        if not (isinstance(name, str) and isinstance(size, int) and isinstance(mtime, int)):
            raise TypeError("bad output record")
        state.outputs[name] = (size, mtime)
    if not isinstance(seeds, tuple):
        raise TypeError("bad seed records")
    for chunk in seeds:
        records = marshal.loads(chunk)  # noqa: S302 - each record checked where used
        if not isinstance(records, dict):
            raise TypeError("bad seed records")
        state.records.update(records)
    for stem, digest in plans:
        if not (isinstance(stem, str) and isinstance(digest, str)):
            raise TypeError("bad plan record")
        state.plans[stem] = digest
    return state


# --- articles as plain data ------------------------------------------------


def pack(article: Article) -> Packed:
    return (
        article.id,
        article.title_utf8,
        article.link,
        article.original_link,
        article.published.isoformat(),
        article.updated.isoformat(),
        article.summary_utf8,
        article.category,
        article.topics,
        _pack_provider(article.provider),
        _blob(Images, article.images),
        _blob(Related, article.related),
        article.quality,
        article.heat,
        article.is_published,
        article.source,
    )


def _blob(kind: type[Images] | type[Related], items: Sequence[Any]) -> bytes:
    """The items as the article keeps them (see `compact.Images`), as they are."""
    compact = items if isinstance(items, kind) else kind(items)
    return compact.blob


def unpack(packed: Packed, *, source: str | None = None) -> Article:
    """Rebuilds an Article; raises TypeError/ValueError on anything malformed.
    ``source`` names its seed file as the caller knows it (the caller's
    string is then shared, not copied)."""
    (
        id_, title, link, original, published, updated, summary, category, topics,
        provider, images, related, quality, heat, is_published, packed_source,
    ) = packed  # fmt: skip
    published_at = datetime.fromisoformat(_text(published))
    article = Article(
        id=_text(id_),
        title_utf8=_utf8(title),
        link=_text(link),
        original_link=link if original == link else _optional_text(original),
        published=published_at,
        updated=published_at if updated == published else datetime.fromisoformat(_text(updated)),
        summary_utf8=_utf8(summary),
        category=None if category is None else shared(_text(category)),
        topics=shared_topics(tuple(_text(topic) for topic in topics)),
        provider=_unpack_provider(provider),
        images=Images.from_blob(_bytes(images), _check_images),
        related=Related.from_blob(_bytes(related), _check_related),
        quality=_optional_float(quality),
        heat=_optional_float(heat),
        is_published=bool(is_published),
        source=_text(packed_source) if source is None else source,
    )
    if article.published.tzinfo is None:
        raise ValueError("naive date in cache")
    return article


def _pack_provider(provider: Provider | None) -> tuple[str, str | None] | None:
    return None if provider is None else (provider.name, provider.domain)


def _unpack_provider(packed: object) -> Provider | None:
    checked = _checked_provider(packed)
    return None if checked is None else provider_of(*checked)


def _check_images(fields: tuple[Fields, ...]) -> None:
    for url, width, height in fields:
        _text(url)
        _optional_int(width)
        _optional_int(height)


def _check_related(fields: tuple[Fields, ...]) -> None:
    for title, link, published, provider, summary in fields:
        _text(title)
        _text(link)
        _optional_text(summary)
        _checked_provider(provider)
        if published is not None:
            datetime.fromisoformat(_text(published))


def _bytes(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError("expected bytes")
    return value


def _utf8(value: object) -> bytes:
    """Text kept as UTF-8 (see `model.Article`): bytes that decode."""
    data = _bytes(value)
    if not data.isascii():
        data.decode()  # UnicodeDecodeError is a ValueError
    return data


def _checked_provider(packed: object) -> tuple[str, str | None] | None:
    if packed is None:
        return None
    if not isinstance(packed, tuple) or len(packed) != 2:
        raise TypeError("bad provider")
    return (_text(packed[0]), _optional_text(packed[1]))


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _optional_int(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError("expected a whole number")


def _optional_float(value: object) -> float | None:
    if value is None or isinstance(value, float):
        return value
    raise TypeError("expected a number")


def identity_of(seeds: Path, reading: Mapping[str, object]) -> str:
    """What a cache is valid for: the seeds folder and the settings that shape parsing."""
    settings = ";".join(f"{key}={reading[key]!r}" for key in sorted(reading))
    return f"{seeds.absolute()}|{settings}"
