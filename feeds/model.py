"""The values that flow between stages: immutable, hashable, comparable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Bump when what the reader accepts or repairs changes: articles cached
#: under older rules are read again.
READ_RULES = 2

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


@dataclass(frozen=True, slots=True)
class Article:
    """One seed file, validated. Holds only what may be published.

    ``source`` is the seed's path as the user named it: for messages and for
    breaking ties between duplicates, never for output.
    """

    id: str
    title: str
    link: str
    original_link: str | None
    published: datetime
    updated: datetime
    summary_html: str
    category: str | None
    topics: tuple[str, ...]
    provider: Provider | None
    images: tuple[Image, ...]
    related: tuple[RelatedArticle, ...]
    quality: float | None
    heat: float | None
    is_published: bool
    source: str

    @property
    def via_link(self) -> str | None:
        """The original's link, when it is somewhere other than the article itself."""
        if self.original_link and self.original_link != self.link:
            return self.original_link
        return None
