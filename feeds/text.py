"""Text hygiene: what may reach an XML document or an HTML reader."""

from __future__ import annotations

import html
import re

import ftfy
import nh3

# XML 1.0 allows TAB, LF, CR and everything from U+0020 except the surrogates
# and U+FFFE/U+FFFF. lxml refuses the rest outright, so strip them first.
_XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WHITESPACE = re.compile(r"\s+")

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


def clean_line(text: str) -> str:
    """A single-line plain text value: forbidden characters gone, whitespace collapsed."""
    return _WHITESPACE.sub(" ", strip_forbidden(text)).strip()


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
