"""The values that flow between stages: immutable, hashable, comparable.

Their properties give plain values (text, dates, tuples); how they are kept
small in memory is `feeds.model.compact`'s business.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True, slots=True)
class Article:
    """One seed file, validated. Holds only what may be published.

    ``source`` is the seed's path as the user named it: for messages and for
    breaking ties between duplicates, never for output.
    """

    id: str
    #: The title as UTF-8 (``title`` gives it as text; `compact` says why).
    title_utf8: bytes
    link: str
    original_link: str | None
    published: datetime
    updated: datetime
    #: The summary's HTML as UTF-8 (``summary_html`` gives it as text).
    summary_utf8: bytes
    category: str | None
    topics: tuple[str, ...]
    provider: Provider | None
    #: Given as any sequence (a tuple), kept compact (see `compact.Compact`).
    images: Sequence[Image]
    related: Sequence[RelatedArticle]
    quality: float | None
    heat: float | None
    is_published: bool
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.images, compact.Images):
            object.__setattr__(self, "images", compact.Images(self.images))
        if not isinstance(self.related, compact.Related):
            object.__setattr__(self, "related", compact.Related(self.related))

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
