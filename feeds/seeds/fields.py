"""Reading one front-matter field by its kind: text, link, date, number, size, yes/no.

A required field of the wrong shape rejects the article (`FieldError`); an
optional one is dropped with a warning (`FieldReader.optional`), and the
article publishes without it. Messages name a field and the kind of value
found, never the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Self, TypeVar

from feeds.errors import kind_of
from feeds.seeds.dates import parse_datetime
from feeds.seeds.text import clean_line, fix_mojibake, has_invisible
from feeds.urls import check_http_url

if TYPE_CHECKING:  # the reader imports this module; only its type is named here
    from feeds.seeds.reader import ReadOptions

#: Characters of a text value read at least (more when summary_length is large).
MIN_TEXT_READ = 100_000

_YES_NO = {"yes": True, "on": True, "true": True, "no": False, "off": False, "false": False}

_T = TypeVar("_T")


class FieldError(ValueError):
    """A field's reason for rejecting the article (an ArticleError), or, for
    an optional field, for dropping it (a warning)."""


@dataclass
class FieldReader:
    """Reads the fields of one mapping (front matter, or an item of one of
    its lists) by kind: each method reads one key and raises `FieldError`
    when its value has the wrong shape."""

    data: Mapping[str, Any]
    tz: tzinfo
    options: ReadOptions
    _prefix: str = field(default="")
    #: Why each dropped field was dropped; shared with the nested readers.
    warnings: list[str] = field(default_factory=list)

    # --- dropping ------------------------------------------------------

    def optional(self, read: Callable[[str], _T | None], key: str) -> _T | None:
        """``read(key)``, or None when the field has the wrong shape: an
        optional field is dropped, with a warning, rather than the article."""
        try:
            return read(key)
        except FieldError as error:
            self.warn(str(error))
            return None

    def warn(self, reason: str) -> None:
        self.warnings.append(reason)

    # --- scalars -------------------------------------------------------

    def name(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def optional_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if type(value) is str and len(value) <= MIN_TEXT_READ:  # most values: nothing to cut
            if self.options.fix_text and not value.isascii():
                value = fix_mojibake(value)
            return clean_line(value) or None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FieldError(f"{self.name(key)}: expected text, got {kind_of(value)}")
        # Only so much of a text is ever shown (titles and names are cut, the
        # excerpt at summary_length): reading no further bounds what a huge
        # value, or twenty aliases of one, can cost.
        text = str(value)[: max(MIN_TEXT_READ, 100 * self.options.summary_length)]
        text = fix_mojibake(text) if self.options.fix_text else text
        # Whitespace is collapsed even in the excerpt: it is HTML, where runs of
        # spaces mean one space anyway, and sanitisers turn them into &nbsp;.
        return clean_line(text) or None

    def required_text(self, key: str) -> str:
        text = self.optional_text(key)
        if text is None:
            raise FieldError(f"missing {self.name(key)}")
        return text

    def optional_url(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if has_invisible(value):  # cleaning would change where it leads
            raise FieldError(f"{self.name(key)} is not a valid URL (it holds invisible characters)")
        text = self.optional_text(key)
        if text is None:
            return None
        try:
            return check_http_url(text)
        except ValueError as error:
            raise FieldError(f"{self.name(key)} {error}") from None

    def required_url(self, key: str) -> str:
        url = self.optional_url(key)
        if url is None:
            raise FieldError(f"missing {self.name(key)}")
        return url

    def optional_date(self, key: str) -> datetime | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        try:
            return parse_datetime(value, self.tz)
        except ValueError as error:
            raise FieldError(f"{self.name(key)}: {error}") from None

    def required_date(self, key: str) -> datetime:
        parsed = self.optional_date(key)
        if parsed is None:
            raise FieldError(f"missing {self.name(key)}")
        return parsed

    def optional_number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(f"{self.name(key)}: expected a number, got {kind_of(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise FieldError(f"{self.name(key)}: number too large") from None
        if not math.isfinite(number):
            raise FieldError(f"{self.name(key)}: expected a finite number")
        return number

    def optional_size(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FieldError(f"{self.name(key)}: expected a whole number of pixels")
        return value

    def optional_bool(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _YES_NO:
            return _YES_NO[value.strip().lower()]  # YAML 1.1 spellings, read as text
        raise FieldError(f"{self.name(key)}: expected true or false, got {kind_of(value)}")

    # --- lists of mappings ---------------------------------------------

    def mappings(self, key: str, limit: int, shape: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """The first ``limit`` items of a list, each with its name, where they
        are mappings; the rest are not read at all. Anything else is dropped
        with a warning that says what ``shape`` an item needs."""
        value = self.data.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            self.warn(f"{self.name(key)}: expected a list, got {kind_of(value)}")
            return
        for index, item in enumerate(value[:limit]):
            name = f"{self.name(key)}[{index}]"
            if isinstance(item, dict):
                yield name, item
            else:
                self.warn(f"{name}: expected {shape}")

    def nested(self, data: Mapping[str, Any], prefix: str = "") -> Self:
        """A reader of ``data``, an item of this one's, whose field names
        carry ``prefix`` and whose warnings are this one's."""
        return type(self)(data, self.tz, self.options, prefix, self.warnings)
