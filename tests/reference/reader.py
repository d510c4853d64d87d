"""The reader's parsing path as of commit ec15e57, frozen: the reference the faster
reader must agree with (tests/seeds/test_read_sameness.py). Do not optimise or fix this copy."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from feeds.errors import ArticleError, kind_of
from feeds.model import (
    MAX_IMAGES,
    MAX_LABEL_LENGTH,
    MAX_RELATED,
    MAX_TOPICS,
    Article,
    Image,
    Provider,
    RelatedArticle,
)
from feeds.model.compact import shared, shared_topics
from feeds.seeds.dates import parse_datetime
from feeds.seeds.seedfile import read_seed_bytes
from tests.reference.text import (
    clean_line,
    fix_mojibake,
    has_invisible,
    html_to_text,
    sanitize_excerpt,
    shorten,
    shorten_label,
    topic_names,
)
from tests.reference.urls import check_http_url, entry_id, is_host_name
from tests.reference.yamlload import describe_yaml_error, load_seed_yaml

_FRONT_MATTER = YAMLHandler()

#: Titles longer than this are cut: a feed reader's list is no place for an essay.
MAX_TITLE_LENGTH = 300
#: Characters of a text value read at least (more when summary_length is large).
MIN_TEXT_READ = 100_000
#: A related article's excerpt is a teaser under its link, not a second article.
RELATED_SUMMARY_LENGTH = 300


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How text is tidied on the way in (from the config)."""

    fix_text: bool = True
    summary_length: int = 1000
    #: Symbolic links to files outside this folder are refused (when set).
    seeds: Path | None = None


DEFAULT_OPTIONS = ReadOptions()


@dataclass(frozen=True, slots=True)
class ReadResult:
    articles: tuple[Article, ...]
    errors: tuple[ArticleError, ...]


def read_all(
    paths: Sequence[Path],
    tz: tzinfo,
    progress: Callable[[Sequence[Path]], Iterable[Path]] | None = None,
    options: ReadOptions = DEFAULT_OPTIONS,
) -> ReadResult:
    articles: list[Article] = []
    errors: list[ArticleError] = []
    for path in paths if progress is None else progress(paths):
        try:
            articles.append(read_article(path, tz, options))
        except ArticleError as error:
            errors.append(error)
    return ReadResult(tuple(articles), tuple(errors))


def read_article(path: Path, tz: tzinfo, options: ReadOptions = DEFAULT_OPTIONS) -> Article:
    """Reads and validates one seed file. Raises ``ArticleError(path, reason)``."""
    return parse_article(read_seed_bytes(path, options.seeds), path, tz, options)


def parse_article(
    raw: bytes, path: Path | str, tz: tzinfo, options: ReadOptions = DEFAULT_OPTIONS
) -> Article:
    """Turns a seed file's bytes into an Article. Raises ``ArticleError``."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ArticleError(
            path, f"not UTF-8 text (undecodable byte at offset {error.start})"
        ) from None
    data = _front_matter(text, path)
    try:
        return _FieldReader(data, tz, options).article(str(path))
    except _FieldError as error:
        raise ArticleError(path, str(error)) from None


def _front_matter(text: str, path: Path | str) -> Mapping[str, Any]:
    if not _FRONT_MATTER.detect(text):
        raise ArticleError(path, "no front matter: the file must begin with a '---' line")
    try:
        front, _body = _FRONT_MATTER.split(text)
    except ValueError:
        raise ArticleError(path, "front matter is not closed by a '---' line") from None
    try:
        data = load_seed_yaml(front)
    except yaml.YAMLError as error:
        raise ArticleError(path, describe_yaml_error(error)) from None
    if data is None:
        raise ArticleError(path, "front matter is empty")
    if not isinstance(data, dict):
        raise ArticleError(path, f"front matter must be a mapping of fields, got {kind_of(data)}")
    return data


_YES_NO = {"yes": True, "on": True, "true": True, "no": False, "off": False, "false": False}


class _FieldError(ValueError):
    """A field's reason for rejecting the article; becomes an ArticleError."""


@dataclass
class _FieldReader:
    """Pulls the known fields out of one front-matter mapping.

    Only known fields are read, so ``secured`` and unknown fields cannot
    reach an Article, a feed or a message; messages name a field and the
    kind of value found, never the value.
    """

    data: Mapping[str, Any]
    tz: tzinfo
    options: ReadOptions
    _prefix: str = field(default="")

    def article(self, source: str) -> Article:
        title = shorten(self.required_text("title"), MAX_TITLE_LENGTH)
        link, original = self.links()
        published = self.required_date("publishedDateTime")
        updated = self.optional_date("updatedDateTime") or published
        published_flag = self.optional_bool("published")
        return Article(
            id=entry_id(link),
            title_utf8=title.encode(),
            link=link,
            original_link=original,
            published=published,
            updated=max(updated, published),
            summary_utf8=self.summary().encode(),
            category=_shared_label(shorten_label(self.optional_text("category"))),
            topics=self.topics(),
            provider=self.provider("provider"),
            images=self.images(),
            related=self.related(),
            quality=self.optional_number("quality"),
            heat=self.optional_number("heat"),
            is_published=True if published_flag is None else published_flag,
            source=source,
        )

    # --- scalars -------------------------------------------------------

    def name(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def optional_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _FieldError(f"{self.name(key)}: expected text, got {kind_of(value)}")
        # Only so much of a text is ever shown (titles and names are cut, the
        # excerpt at summary_length): reading no further bounds what a huge
        # value, or twenty aliases of one, can cost.
        text = str(value)[: max(MIN_TEXT_READ, 100 * self.options.summary_length)]
        text = fix_mojibake(text) if self.options.fix_text else text
        # Whitespace is collapsed even in the excerpt: it is HTML, where runs of
        # spaces mean one space anyway, and sanitisers turn them into &nbsp;.
        return clean_line(text) or None

    def related_summary(self) -> str | None:
        text = html_to_text(sanitize_excerpt(self.optional_text("excerpt") or ""))
        return shorten(text, RELATED_SUMMARY_LENGTH) if text else None

    def summary(self) -> str:
        """The excerpt as safe HTML; past the configured length, plain text cut at a word."""
        summary = sanitize_excerpt(self.optional_text("excerpt") or "")
        text = html_to_text(summary)
        limit = self.options.summary_length
        return html.escape(shorten(text, limit), quote=False) if len(text) > limit else summary

    def required_text(self, key: str) -> str:
        text = self.optional_text(key)
        if text is None:
            raise _FieldError(f"missing {self.name(key)}")
        return text

    def optional_url(self, key: str) -> str | None:
        if has_invisible(self.data.get(key)):  # cleaning would change where it leads
            raise _FieldError(
                f"{self.name(key)} is not a valid URL (it holds invisible characters)"
            )
        text = self.optional_text(key)
        if text is None:
            return None
        try:
            return check_http_url(text)
        except ValueError as error:
            raise _FieldError(f"{self.name(key)} {error}") from None

    def links(self) -> tuple[str, str | None]:
        web = self.optional_url("webUrl")
        original = self.optional_url("originalUrl")
        link = web or original
        if link is None:
            raise _FieldError(f"missing link: set {self.name('webUrl')} or originalUrl")
        return link, original

    def optional_date(self, key: str) -> datetime | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        try:
            return parse_datetime(value, self.tz)
        except ValueError as error:
            raise _FieldError(f"{self.name(key)}: {error}") from None

    def required_date(self, key: str) -> datetime:
        parsed = self.optional_date(key)
        if parsed is None:
            raise _FieldError(f"missing {self.name(key)}")
        return parsed

    def optional_number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _FieldError(f"{self.name(key)}: expected a number, got {kind_of(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise _FieldError(f"{self.name(key)}: number too large") from None
        if not math.isfinite(number):
            raise _FieldError(f"{self.name(key)}: expected a finite number")
        return number

    def optional_size(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _FieldError(f"{self.name(key)}: expected a whole number of pixels")
        return value

    def optional_bool(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _YES_NO:
            return _YES_NO[value.strip().lower()]  # YAML 1.1 spellings, read as text
        raise _FieldError(f"{self.name(key)}: expected true or false, got {kind_of(value)}")

    # --- structures ----------------------------------------------------

    def topics(self) -> tuple[str, ...]:
        value = self.data.get("topics")
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value  # `topics: AI` means one topic
        if not isinstance(items, list):
            raise _FieldError(f"topics: expected a list of topics, got {kind_of(value)}")
        for index, item in enumerate(items):
            if item is not None and (
                isinstance(item, bool) or not isinstance(item, str | int | float)
            ):
                raise _FieldError(f"topics[{index}]: expected text, got {kind_of(item)}")
        # None is a blank `- ` line; repeats are dropped before any cleaning,
        # so a thousand aliases of one huge text cost one clean.
        distinct = dict.fromkeys(str(item) for item in items if item is not None)
        return shared_topics(topic_names(distinct, MAX_TOPICS, MAX_LABEL_LENGTH))

    def provider(self, key: str) -> Provider | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str):  # `provider: Reuters` names the provider alone
            label = shorten_label(clean_line(value))
            return Provider(name=label) if label else None
        if not isinstance(value, dict):
            raise _FieldError(f"{self.name(key)}: expected a mapping with name and domain")
        nested = self.nested(value, f"{key}.")
        domain = nested.optional_text("domain")
        if domain is not None:
            domain = domain.lower()
            if not is_host_name(domain):
                raise _FieldError(f"{self.name(key)}.domain: not a domain name")
        name = shorten_label(nested.optional_text("name")) or domain
        return Provider(name=name, domain=domain) if name else None

    def images(self) -> tuple[Image, ...]:
        return tuple(
            Image(
                url=self._required_url(item, "url"),
                width=item.optional_size("width"),
                height=item.optional_size("height"),
            )
            for item in self.mappings("images", MAX_IMAGES)
        )

    def related(self) -> tuple[RelatedArticle, ...]:
        related = []
        for item in self.mappings("related", MAX_RELATED):
            web = item.optional_url("webUrl")
            link = web or item.optional_url("originalUrl")
            if link is None:
                raise _FieldError(f"missing {item.name('webUrl')}")
            related.append(
                RelatedArticle(
                    title=shorten(item.required_text("title"), MAX_TITLE_LENGTH),
                    link=link,
                    published=item.optional_date("publishedDateTime"),
                    provider=item.provider("provider"),
                    summary=item.related_summary(),
                )
            )
        return tuple(related)

    def mappings(self, key: str, limit: int) -> Iterator[_FieldReader]:
        """The first ``limit`` mappings of a list; the rest are not read at all."""
        value = self.data.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            raise _FieldError(f"{self.name(key)}: expected a list, got {kind_of(value)}")
        for index, item in enumerate(value[:limit]):
            if not isinstance(item, dict):
                raise _FieldError(
                    f"{self.name(key)}[{index}]: expected a mapping, got {kind_of(item)}"
                )
            yield self.nested(item, f"{self.name(key)}[{index}].")

    def nested(self, data: Mapping[str, Any], prefix: str) -> _FieldReader:
        return _FieldReader(data, self.tz, self.options, prefix)

    @staticmethod
    def _required_url(item: _FieldReader, key: str) -> str:
        url = item.optional_url(key)
        if url is None:
            raise _FieldError(f"missing {item.name(key)}")
        return url


def _shared_label(label: str | None) -> str | None:
    return None if label is None else shared(label)
