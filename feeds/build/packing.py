"""An article as the parse cache keeps it: plain data (tuples, strings,
bytes and numbers), packed by the reader's workers and unpacked, checked
field by field, where it is used: a damaged record is a file to read again,
never an article to publish. The seed records around it are
`feeds.build.records`'.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feeds.build.records import Packed
from feeds.model import Article, Provider
from feeds.model.compact import Fields, Images, Related, provider_of, shared, shared_topics


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
