"""How the model's values are kept small: a daemon holds every article.

The model (`feeds.model`) says what the values are and gives them as plain
values; this module says how they are kept:

- Text that only rendering reads (an article's title and excerpt) is kept as
  UTF-8 bytes. News text is rarely all Latin-1 (’ “ — …), and Python keeps
  such a str at two bytes a character.
- An article's images and related articles are read only when its entries
  are built, yet as objects they were more than half of an article's
  memory: each list is kept as one blob of plain data (`Images`,
  `Related`), and related articles, long on titles and excerpts, deflated.
- Equal values that many articles carry (topics, categories, providers) are
  kept once (`shared`, `provider_of`).

What each saves is in bench/RESULTS.md ("Memory at 100,000 articles").
"""

from __future__ import annotations

import marshal
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar, overload

from feeds.model import Image, Provider, RelatedArticle

_Value = TypeVar("_Value", str, tuple[str, ...])

# --- equal values kept once --------------------------------------------------

#: Equal values that many articles carry (topics, categories; providers see
#: `provider_of`), each kept once rather than a copy per article.
_SHARED: dict[object, object] = {}
#: A bound for hostile input; past it the table starts over (sharing is
#: only a saving, never a meaning).
_SHARED_LIMIT = 100_000


def shared(value: _Value) -> _Value:
    """The one instance of ``value`` (an immutable, hashable value) in use."""
    known = _SHARED.setdefault(value, value)
    if len(_SHARED) > _SHARED_LIMIT:
        _SHARED.clear()
    return known  # type: ignore[return-value]  # equal, so of the same type


def shared_topics(topics: tuple[str, ...]) -> tuple[str, ...]:
    return shared(tuple(shared(topic) for topic in topics))


@lru_cache(maxsize=4096)
def provider_of(name: str, domain: str | None = None) -> Provider:
    """The one Provider of ``name`` and ``domain`` in use: a few providers
    recur in thousands of articles (and their related articles)."""
    return Provider(name, domain)


# --- tuples kept as one blob -------------------------------------------------

_Item = TypeVar("_Item")
#: One item as plain data (strings, numbers, None and tuples of them).
Fields = tuple[Any, ...]
#: One empty value per kind, shared.
_EMPTY: dict[type, Any] = {}


class Compact(Sequence[_Item], Generic[_Item]):
    """A tuple of small frozen values, kept as one blob of plain data.

    Behaves as the tuple of its items: equal to it, and equal to another
    compact tuple of the same kind exactly when their items are equal.
    A kind says how an item becomes plain fields and back (`fields_of`,
    `item_of`).
    """

    __slots__ = ("_blob", "_length")
    #: marshal version 0 writes equal values as equal bytes (later versions
    #: mark shared and interned objects), so equal blobs mean equal items.
    _MARSHAL_VERSION: ClassVar[int] = 0
    #: Whether the blob is zlib-compressed (deterministic, so still comparable).
    _COMPRESSED: ClassVar[bool] = False

    def __new__(cls, items: Iterable[_Item] = ()) -> Any:
        fields = tuple(cls.fields_of(item) for item in items)
        return cls.from_fields(fields)

    @classmethod
    def from_fields(cls, fields: Iterable[Fields]) -> Any:
        """From plain fields as ``fields()`` gives them (trusted: our own)."""
        items = tuple(fields)
        if not items:  # most articles have no images or no related articles
            return _EMPTY.setdefault(cls, cls._made(items))
        return cls._made(items)

    @classmethod
    def from_blob(cls, blob: bytes, check: Callable[[tuple[Fields, ...]], None]) -> Any:
        """From what ``blob`` gave (kept as it is, not encoded again). Raises
        ValueError or TypeError when it is not such a blob or when ``check``
        refuses its fields (and never inflates more than `MAX_BLOB` bytes)."""
        try:
            data = _inflate(blob, bounded=True) if cls._COMPRESSED else blob
            fields = marshal.loads(data)  # noqa: S302 - checked below
        except (zlib.error, EOFError) as error:
            raise ValueError("not a blob") from error
        if not isinstance(fields, tuple):
            raise TypeError("not a blob")
        check(fields)
        if marshal.dumps(fields, cls._MARSHAL_VERSION) != data:
            raise ValueError("not a blob as written")  # equal blobs must mean equal items
        if not fields:
            return _EMPTY.setdefault(cls, cls._made(fields))
        compact = object.__new__(cls)
        compact._blob, compact._length = blob, len(fields)
        return compact

    @classmethod
    def own_blob(cls, blob: bytes, length: int) -> Any:
        """From a blob of ours as ``blob`` gave it, with its length: for a
        store only this process writes (`feeds.build.bodies`), not checked."""
        compact = object.__new__(cls)
        compact._blob, compact._length = blob, length
        return compact

    @property
    def blob(self) -> bytes:
        return self._blob

    @classmethod
    def _made(cls, fields: tuple[Fields, ...]) -> Any:
        compact = object.__new__(cls)
        compact._set(fields)
        return compact

    def _set(self, fields: tuple[Fields, ...]) -> None:
        blob = marshal.dumps(fields, self._MARSHAL_VERSION)
        self._blob = _deflate(blob) if self._COMPRESSED else blob
        self._length = len(fields)

    def fields(self) -> tuple[Fields, ...]:
        blob = _inflate(self._blob) if self._COMPRESSED else self._blob
        result: tuple[Fields, ...] = marshal.loads(blob)  # noqa: S302 - our own bytes
        return result

    @staticmethod
    def fields_of(item: Any) -> Fields:
        raise NotImplementedError

    @staticmethod
    def item_of(fields: Fields) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[_Item]:
        return (self.item_of(fields) for fields in self.fields())

    @overload
    def __getitem__(self, index: int) -> _Item: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[_Item, ...]: ...
    def __getitem__(self, index: int | slice) -> _Item | tuple[_Item, ...]:
        return tuple(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Compact):
            return type(self) is type(other) and self._blob == other._blob
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._blob)

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).from_fields, (self.fields(),))


#: Raw deflate with a 4 KiB window: with zlib.compress's 32 KiB window and
#: full memory level, setting up cost far more than compressing one small
#: blob, and made it no smaller.
_WINDOW_BITS = 12


#: The most a blob from elsewhere (the parse cache) may inflate to: an
#: article's 20 related articles with long links are well under it.
MAX_BLOB = 1 << 20


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, -_WINDOW_BITS, memLevel=4)
    return packer.compress(data) + packer.flush()


def _inflate(blob: bytes, *, bounded: bool = False) -> bytes:
    if not bounded:
        return zlib.decompress(blob, -_WINDOW_BITS)
    unpacker = zlib.decompressobj(-_WINDOW_BITS)
    data = unpacker.decompress(blob, MAX_BLOB)
    if unpacker.unconsumed_tail or unpacker.unused_data or not unpacker.eof:
        raise ValueError("not a whole blob, or too large")
    return data


# --- the model's kinds -------------------------------------------------------


class Images(Compact[Image]):
    """An article's images, as `Article.images` keeps them."""

    __slots__ = ()

    @staticmethod
    def fields_of(item: Image) -> Fields:
        return Images.item_fields(item.url, item.width, item.height)

    @staticmethod
    def item_fields(url: str, width: int | None, height: int | None) -> Fields:
        """The fields of the image these make (see `Image`)."""
        return (url, width, height)

    @staticmethod
    def item_of(fields: Fields) -> Image:
        return Image(*fields)


class Related(Compact[RelatedArticle]):
    """An article's related articles, as `Article.related` keeps them."""

    __slots__ = ()
    #: Titles and excerpts deflate to well under half, for a little time
    #: when an entry is built.
    _COMPRESSED = True

    @staticmethod
    def fields_of(item: RelatedArticle) -> Fields:
        title, link, published = item.title, item.link, item.published
        return Related.item_fields(title, link, published, item.provider, item.summary)

    @staticmethod
    def item_fields(
        title: str,
        link: str,
        published: datetime | None,
        provider: Provider | None,
        summary: str | None,
    ) -> Fields:
        """The fields of the related article these make (see `RelatedArticle`):
        the reader keeps them so, without making the article first."""
        return (
            title,
            link,
            published.isoformat() if published else None,
            (provider.name, provider.domain) if provider else None,
            summary,
        )

    @staticmethod
    def item_of(fields: Fields) -> RelatedArticle:
        title, link, published, provider, summary = fields
        return RelatedArticle(
            title,
            link,
            datetime.fromisoformat(published) if published else None,
            provider_of(*provider) if provider else None,
            summary,
        )
