"""The values that flow between stages: immutable, hashable, comparable.

Their properties give plain values (text, dates, tuples); how they are kept
small in memory is `feeds.model.compact`'s business.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple, Protocol

#: What no text a feed carries may hold: XML 1.0 allows TAB, LF, CR and
#: everything from U+0020 but the surrogates and U+FFFE/U+FFFF.
XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

#: Bump when what the reader accepts or repairs changes: articles cached
#: under older rules are read again.
READ_RULES = 5  # 5: characters XML forbids removed from excerpts after nh3

# What one article may carry at most. Past these, the extra is dropped, not the
# article: one seed with thousands of topics would otherwise add thousands of
# feeds, and a huge name would be repeated in every entry.
#: Topics kept per article: the first ones given, after cleaning and repeats.
MAX_TOPICS = 50
#: Characters kept of a topic, category or provider name (cut at a word).
MAX_LABEL_LENGTH = 100
#: Images read per article (the first is the lead image); the rest are ignored.
MAX_IMAGES = 10
#: Related articles read per article; the rest are ignored.
MAX_RELATED = 20


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    domain: str | None = None

    @property
    def url(self) -> str | None:
        return f"https://{self.domain}/" if self.domain else None


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class RelatedArticle:
    title: str
    link: str
    published: datetime | None = None
    provider: Provider | None = None
    #: Plain text, already cut to a sensible length.
    summary: str | None = None


# How an article keeps its images and related articles. Imported here, once
# the values it keeps are defined: it makes them again when they are read.
from feeds.model import compact  # noqa: E402


class BodySizes(NamedTuple):
    """What a body's size is made of, known without reading it back."""

    #: Bytes of the title and the summary, as UTF-8.
    text: int
    images: int
    related: int
    #: Characters of the link.
    link: int


@dataclass(frozen=True, slots=True)
class Body:
    """The parts of an article only rendering reads: the most of its bytes
    (planning reads their `sizes`).

    A daemon over a large seeds folder keeps them out of memory
    (`feeds.build.bodies`); an `Article` holds either a Body or a stand-in
    for one kept elsewhere, and reads through ``value()`` alike.
    """

    #: The title as UTF-8 (`compact` says why not text).
    title_utf8: bytes
    #: The summary's HTML as UTF-8.
    summary_utf8: bytes
    #: Given as any sequence (a tuple), kept compact (see `compact.Compact`).
    images: Sequence[Image]
    related: Sequence[RelatedArticle]
    link: str
    original_link: str | None

    def __post_init__(self) -> None:
        if not isinstance(self.images, compact.Images):
            object.__setattr__(self, "images", compact.Images(self.images))
        if not isinstance(self.related, compact.Related):
            object.__setattr__(self, "related", compact.Related(self.related))

    def value(self) -> Body:
        return self

    def sizes(self) -> BodySizes:
        text = len(self.title_utf8) + len(self.summary_utf8)
        return BodySizes(text, len(self.images), len(self.related), len(self.link))


class _Unset(enum.Enum):
    """An original link not given (None is an article without one)."""

    UNSET = enum.auto()


_UNSET = _Unset.UNSET


class KeptBody(Protocol):
    """A body kept elsewhere: equal to the Body it stands for, hashed alike."""

    def value(self) -> Body: ...

    def sizes(self) -> BodySizes: ...


@dataclass(frozen=True, slots=True, init=False)
class Article:
    """One seed file, validated. Holds only what may be published.

    ``source`` is the seed's path as the user named it: for messages and for
    breaking ties between duplicates, never for output. The title, summary,
    images, related articles and links are its `Body`, read through the
    properties of the same names wherever the body is kept.
    """

    id: str
    published: datetime
    updated: datetime
    category: str | None
    topics: tuple[str, ...]
    provider: Provider | None
    quality: float | None
    heat: float | None
    is_published: bool
    source: str
    body: Body | KeptBody

    def __init__(
        self,
        *,
        id: str,
        published: datetime,
        updated: datetime,
        category: str | None,
        topics: tuple[str, ...],
        provider: Provider | None,
        quality: float | None,
        heat: float | None,
        is_published: bool,
        source: str,
        body: Body | KeptBody | None = None,
        title_utf8: bytes | None = None,
        summary_utf8: bytes | None = None,
        images: Sequence[Image] | None = None,
        related: Sequence[RelatedArticle] | None = None,
        link: str | None = None,
        original_link: str | _Unset | None = _UNSET,
    ) -> None:
        """Takes the body whole (``body``), or in parts; parts given with a
        body replace its own (as `dataclasses.replace` passes them)."""
        setattr_ = object.__setattr__
        for name, value in (
            ("id", id), ("published", published), ("updated", updated), ("category", category),
            ("topics", topics), ("provider", provider), ("quality", _shared(quality)),
            ("heat", _shared(heat)), ("is_published", is_published), ("source", source),
        ):  # fmt: skip
            setattr_(self, name, value)
        parts = _Parts(title_utf8, summary_utf8, images, related, link, original_link)
        setattr_(self, "body", body if body is not None and parts.none() else _body_of(body, parts))

    @property
    def title_utf8(self) -> bytes:
        return self.body.value().title_utf8

    @property
    def summary_utf8(self) -> bytes:
        return self.body.value().summary_utf8

    @property
    def images(self) -> Sequence[Image]:
        return self.body.value().images

    @property
    def related(self) -> Sequence[RelatedArticle]:
        return self.body.value().related

    @property
    def link(self) -> str:
        return self.body.value().link

    @property
    def original_link(self) -> str | None:
        return self.body.value().original_link

    def rewritten(
        self,
        *,
        title_utf8: bytes | None = None,
        summary_utf8: bytes | None = None,
        images: Sequence[Image] | None = None,
        related: Sequence[RelatedArticle] | None = None,
        link: str | None = None,
        original_link: str | _Unset | None = _UNSET,
    ) -> Article:
        """This article with the parts of its body given replaced."""
        parts = _Parts(title_utf8, summary_utf8, images, related, link, original_link)
        return replace(self, body=_body_of(self.body, parts))

    def sizes(self) -> BodySizes:
        """The body's sizes, without reading it back from where it is kept."""
        return self.body.sizes()

    @property
    def title(self) -> str:
        return self.title_utf8.decode()

    @property
    def summary_html(self) -> str:
        return self.summary_utf8.decode()

    @property
    def via_link(self) -> str | None:
        """The original's link, when it is somewhere other than the article itself."""
        if self.original_link and self.original_link != self.link:
            return self.original_link
        return None


#: Aggregators score articles in whole numbers of a small range: one float
#: object per score, not one per article (24 bytes each, twice an article).
_SCORES = {float(number): float(number) for number in range(-100, 1001)}


def _shared(score: float | None) -> float | None:
    """The shared float equal to ``score``, if there is one. Zeros are kept
    as they are: -0.0 equals 0.0."""
    return _SCORES.get(score, score) if score else score


class _Parts(NamedTuple):
    """Parts of a body given apart (None, or for the original link
    `_UNSET`: not given)."""

    title_utf8: bytes | None
    summary_utf8: bytes | None
    images: Sequence[Image] | None
    related: Sequence[RelatedArticle] | None
    link: str | None
    original_link: str | _Unset | None

    def none(self) -> bool:
        return self.original_link is _UNSET and all(part is None for part in self[:5])


def _body_of(body: Body | KeptBody | None, parts: _Parts) -> Body:
    if body is None:
        if parts.title_utf8 is None or parts.summary_utf8 is None or parts.link is None:
            raise TypeError("an article needs a body, or its title, summary and link")
        original = None if isinstance(parts.original_link, _Unset) else parts.original_link
        return Body(
            parts.title_utf8, parts.summary_utf8, parts.images or (), parts.related or (),
            parts.link, original,
        )  # fmt: skip
    old = body.value()
    return Body(
        old.title_utf8 if parts.title_utf8 is None else parts.title_utf8,
        old.summary_utf8 if parts.summary_utf8 is None else parts.summary_utf8,
        old.images if parts.images is None else parts.images,
        old.related if parts.related is None else parts.related,
        old.link if parts.link is None else parts.link,
        old.original_link if isinstance(parts.original_link, _Unset) else parts.original_link,
    )
