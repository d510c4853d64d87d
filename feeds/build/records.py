"""The parse cache's records: a seed file's state, its version, its article and
the last publish, as plain data (tuples, strings, bytes and numbers).

The one module that knows their layout: `feeds.build.parsecache` frames and
stores them, the builder's parts and the reader's workers make and read them
here. Everything read back is checked, field by field, where it is used: a
damaged record is a file to read again, never an article to publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feeds.model import Article, Provider
from feeds.model.compact import Fields, Images, Related, provider_of, shared, shared_topics
from feeds.seeds.seedfile import Fingerprint

# --- file versions -----------------------------------------------------------

#: A fingerprint packed into one int: a tuple of three ints is ~160 bytes
#: per seed file, this ~50.
Version = int


def version_of(fingerprint: Fingerprint) -> Version:
    """One int for (mtime_ns, size, inode); size and inode are below 2**64,
    and a negative mtime (before 1970) still packs to a unique value."""
    mtime_ns, size, inode = fingerprint
    return (mtime_ns << 128) | (size << 64) | inode


def fingerprint_of(version: Version) -> Fingerprint:
    mask = (1 << 64) - 1
    return (version >> 128, (version >> 64) & mask, version & mask)


# --- seed records ------------------------------------------------------------

#: One seed file: (mtime_ns, size, inode, has_article, reason, warnings).
SeedRecord = tuple[int, int, int, bool, str | None, tuple[str, ...]]


@dataclass(slots=True)
class CachedSeed:
    fingerprint: Fingerprint
    has_article: bool  # its packed article is in the articles file
    reason: str | None  # why the file was rejected
    #: Why each of its dropped fields was dropped: a build with nothing to do
    #: still reports them, and strict mode rejects the file for them.
    warnings: tuple[str, ...] = ()


def article_record(fingerprint: Fingerprint, warnings: tuple[str, ...] = ()) -> SeedRecord:
    """A file whose article is kept (published, or held back by strict mode alone)."""
    return (*fingerprint, True, None, warnings)


def rejection_record(fingerprint: Fingerprint, reason: str) -> SeedRecord:
    return (*fingerprint, False, reason, ())


def cached_seed(raw: object) -> CachedSeed | None:
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


# --- the last publish --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastPublish:
    """What the last publish was made from and made: enough to tell a build
    with nothing to do, with the config and output files checked apart."""

    config_digest: str
    #: When its next embargoed article becomes due, if any.
    next_embargo: datetime | None
    articles: int
    feeds: int

    def key(self) -> str:
        embargo = self.next_embargo.isoformat() if self.next_embargo else ""
        return f"{self.config_digest}|{embargo}|{self.articles}|{self.feeds}"

    @staticmethod
    def from_key(key: str) -> LastPublish | None:
        """The publish a key records; None when there is none, or it is malformed."""
        try:
            digest, embargo, articles, feeds = key.split("|")
            due = datetime.fromisoformat(embargo) if embargo else None
            return LastPublish(digest, due, int(articles), int(feeds))
        except ValueError:
            return None


# --- articles ----------------------------------------------------------------

Packed = tuple[Any, ...]


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
