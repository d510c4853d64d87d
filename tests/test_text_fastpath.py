"""Plain text skips the HTML sanitiser only where the sanitiser would not change it."""

from __future__ import annotations

import html

import nh3
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds import text


def _reference_sanitize(fragment: str, tags: set[str]) -> str:
    return nh3.clean(
        text.strip_forbidden(fragment),
        tags=tags,
        attributes=text._ATTRIBUTES,
        url_schemes=text._URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def _reference_html_to_text(fragment: str) -> str:
    return text.clean_line(html.unescape(nh3.clean(fragment, tags=set())))


_any_text = st.text(st.characters(codec="utf-8") | st.sampled_from("<>&\r\u00a0\ufeff \"'"))


@settings(max_examples=400)
@given(_any_text)
@example("a\u00a0b")
@example("\ufeffbom")
@example("x\r\ny")
@example("plain text, with quotes \" and ' and = signs")
def test_the_fast_path_agrees_with_the_sanitiser(fragment: str) -> None:
    assert (
        text.sanitize_excerpt(fragment) == _reference_sanitize(fragment, text._EXCERPT_TAGS).strip()
    )
    assert text.sanitize_content(fragment) == _reference_sanitize(fragment, text._CONTENT_TAGS)
    assert text.html_to_text(fragment) == _reference_html_to_text(fragment)


def test_every_code_point_outside_the_markup_set_passes_the_sanitiser_unchanged() -> None:
    """The exhaustive check behind the fast path's character set."""
    characters = [chr(point) for point in range(0x110000) if not text._MARKUP.search(chr(point))]
    for start in range(0, len(characters), 4096):
        sample = text.strip_forbidden("a" + "b".join(characters[start : start + 4096]) + "b")
        assert nh3.clean(sample, tags=set()) == sample, f"block at {start}"
