"""Text hygiene: what may reach an XML document or an HTML reader."""

# Frozen copy of feeds/seeds/text.py as of commit ec15e57: the reference for
# tests/seeds/test_read_sameness.py. Do not optimise or fix it.

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import ftfy
import nh3

from feeds.model import MAX_LABEL_LENGTH

# XML 1.0 allows TAB, LF, CR and everything from U+0020 except the surrogates
# and U+FFFE/U+FFFF. lxml refuses the rest outright, so strip them first.
_XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
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
_EDGE_JOINERS = re.compile("^[\u200c\u200d\\s]+|[\u200c\u200d\\s]+$")

# Tags an excerpt may keep: inline formatting and simple structure, nothing
# that loads, embeds or runs anything.
_EXCERPT_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "em", "i", "li",
    "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "u", "ul",
}  # fmt: skip
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
    return _XML_FORBIDDEN.sub("", text)


def strip_invisible(text: str) -> str:
    """Remove invisible formatting characters that can hide or reorder text."""
    return _INVISIBLE.sub("", text)


def has_invisible(value: object) -> bool:
    """Whether ``value`` is text holding an invisible formatting character."""
    return isinstance(value, str) and _INVISIBLE.search(value) is not None


def clean_line(text: str) -> str:
    """A single-line plain text value: forbidden and invisible characters gone,
    whitespace collapsed."""
    text = _WHITESPACE.sub(" ", strip_invisible(strip_forbidden(text)))
    return _EDGE_JOINERS.sub("", text)


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
#: every code point; tests/test_text.py holds the property): most excerpts are
#: plain text, and nh3 is most of the time spent reading an article.
_MARKUP = re.compile("[<>&\r\u00a0\ufeff]")


def _sanitize(fragment: str, tags: set[str]) -> str:
    text = strip_forbidden(fragment)
    if _MARKUP.search(text) is None:
        return text
    return nh3.clean(
        text,
        tags=tags,
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


def fix_mojibake(text: str) -> str:
    """Repairs text decoded with the wrong encoding ("cityâ€™s" -> "city’s")."""
    if text.isascii():  # nothing to repair; by far the most common case
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
