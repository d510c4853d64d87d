"""Text hygiene: what may reach an XML document or an HTML reader."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import cache

import ftfy
import nh3

from feeds.model import MAX_LABEL_LENGTH, XML_FORBIDDEN

_WHITESPACE = re.compile(r"\s+")
# Invisible characters that carry no meaning in a title or a topic but can
# hide or reorder text (bidi "Trojan source" spoofing, tag-character
# smuggling): bidi embeddings, overrides and isolates, zero-width space, word
# joiner and invisible operators, BOM, interlinear annotations, deprecated
# format controls, the Mongolian vowel separator and Unicode tags. Left alone:
# LRM/RLM/ALM (non-nesting direction marks that mixed Arabic or Hebrew text
# needs), soft hyphens, and ZWJ/ZWNJ inside text (emoji sequences, Persian and
# Indic spelling); ZWJ/ZWNJ at either end of a value are dropped.
_INVISIBLE = re.compile(
    "[\u180e\u200b\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
# Stripped with `str.strip`, not a regex: `[...]+$` tries every start of a run
# that does not reach the end, so a long run of joiners and spaces inside a
# seed's title cost time quadratic in its length, with the GIL held. Once the
# whitespace is collapsed, a plain space is the only whitespace left.
_EDGE_JOINERS = " \u200c\u200d"

# Tags an excerpt may keep: inline formatting and simple structure, nothing
# that loads, embeds or runs anything.
_EXCERPT_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "i", "li",
    "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "u", "ul",
})  # fmt: skip
_CONTENT_TAGS = _EXCERPT_TAGS | {"div", "figure", "figcaption", "h3", "img", "span", "time"}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "time": {"datetime"},
    "abbr": {"title"},
}
_URL_SCHEMES = {"http", "https", "mailto"}


def strip_forbidden(text: str) -> str:
    """Remove characters that XML 1.0 forbids (controls, lone surrogates)."""
    if text.isprintable():  # most text: none of them is printable
        return text
    return XML_FORBIDDEN.sub("", text)


def strip_invisible(text: str) -> str:
    """Remove invisible formatting characters that can hide or reorder text."""
    return _INVISIBLE.sub("", text)


def has_invisible(value: object) -> bool:
    """Whether ``value`` is text holding an invisible formatting character."""
    # None of them is ASCII, and most links are.
    return isinstance(value, str) and not value.isascii() and _INVISIBLE.search(value) is not None


def clean_line(text: str) -> str:
    """A single-line plain text value: forbidden and invisible characters gone,
    whitespace collapsed."""
    if _is_clean_line(text):  # most values: four regex passes would return them as they are
        return text
    text = _WHITESPACE.sub(" ", strip_invisible(strip_forbidden(text)))
    return text.strip(_EDGE_JOINERS)


def _is_clean_line(text: str) -> bool:
    """Whether ``clean_line`` would return ``text`` unchanged.

    A printable string holds no control, format (invisible), surrogate,
    unassigned or separator character other than the plain space, so only
    doubled and edge spaces are left to find (tests/seeds/test_read_sameness.py
    checks every code point).
    """
    return text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def has_word(text: str) -> bool:
    """Whether ``text`` holds a letter or a digit (a topic of only "!!!" does not)."""
    return any(char.isalnum() for char in text)


def sanitize_excerpt(fragment: str) -> str:
    """An excerpt as safe HTML: it may hold a little markup, never scripts or handlers."""
    return _sanitize(fragment, _EXCERPT_TAGS).strip()


def sanitize_content(fragment: str) -> str:
    """The last gate before HTML content reaches a feed."""
    return _sanitize(fragment, _CONTENT_TAGS)


#: Text without these characters is the same after sanitising (found by trying
#: every code point; tests/seeds/test_text_fastpath.py holds the property): most excerpts are
#: plain text, and nh3 is most of the time spent reading an article.
_MARKUP = re.compile("[<>&\r\u00a0\ufeff]")


def is_markup(text: str) -> bool:
    """Whether sanitising could change ``text``, which `clean_line` returns as
    it is (so it holds nothing XML forbids and no edge space): else
    `sanitize_excerpt` and `html_to_text` both return it as it is."""
    return _MARKUP.search(text) is not None


def _sanitize(fragment: str, tags: frozenset[str]) -> str:
    text = strip_forbidden(fragment)
    if _MARKUP.search(text) is None:
        return text
    clean = _cleaner(tags).clean(text)
    # The sanitiser writes out the characters that references stand for, and
    # a numeric one may stand for a character XML forbids (`&#1;`, `&#xFFFE;`);
    # no named one does (tests/seeds/test_text_fastpath.py checks them all).
    return strip_forbidden(clean) if "&#" in text else clean


@cache
def _cleaner(tags: frozenset[str]) -> nh3.Cleaner:
    """One sanitiser per set of tags: nh3 converts its rules on every call of
    ``nh3.clean``, a quarter of the time of a short fragment."""
    return nh3.Cleaner(
        tags=set(tags),
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, for formats whose summary is text only."""
    if _MARKUP.search(fragment) is None:
        return clean_line(fragment)
    return clean_line(html.unescape(nh3.clean(fragment, tags=set())))


# Repair encoding mistakes only; typography (curly quotes, ligatures, widths)
# and HTML entities are the author's choice, not damage.
_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    uncurl_quotes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    explain=False,
)


#: Besides printable ASCII, characters with which ftfy provably returns a text
#: as it is: the typography of news text. Every encoding repair starts from
#: ftfy's mojibake heuristic (the public `ftfy.badness.is_bad`), which no string
#: of these characters can satisfy, and none of them is a control, a line
#: break or changed by NFC. tests/seeds/test_text_fastpath.py proves this for the
#: ftfy installed, and fails, saying what changed, for one where it cannot.
#: Worth it: ftfy is slow next to the rest of reading an article.
TYPOGRAPHY = "’‘“”–—…•«»‹›′″·°©®™"
_TYPOGRAPHIC = re.compile(f"[\x20-\x7e{re.escape(TYPOGRAPHY)}]*")
_typographic_only = _TYPOGRAPHIC.fullmatch


def fix_mojibake(text: str) -> str:
    """Repairs text decoded with the wrong encoding ("cityâ€™s" -> "city’s")."""
    if text.isascii():  # nothing to repair; by far the most common case
        return text
    if _typographic_only(text):
        return text
    return ftfy.fix_text(text, _FTFY)


def shorten(text: str, limit: int) -> str:
    """``text`` cut at the last word boundary before ``limit`` characters, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    boundary = cut.rstrip().rfind(" ")
    if boundary > limit // 2:
        cut = cut[:boundary]
    return cut.rstrip(" ,;:.-–—") + "…"


def shorten_label(text: str | None, limit: int = MAX_LABEL_LENGTH) -> str | None:
    """A name (topic, category, provider) cut at a word past ``limit`` characters."""
    return shorten(text, limit) if text else text


def topic_names(raw: Iterable[str], limit: int, length: int) -> tuple[str, ...]:
    """Cleaned topics in order: invisible characters gone, those without a letter
    or digit dropped, each cut at ``length``, repeats dropped, at most ``limit``.

    Stops reading at the ``limit``-th topic, so the rest cost nothing.
    """
    topics: dict[str, None] = {}  # ordered and without repeats
    for item in raw:
        topic = clean_line(item)
        if has_word(topic):
            topics[shorten(topic, length)] = None
            if len(topics) == limit:
                break
    return tuple(topics)
