"""Fast paths skip the HTML sanitiser or the mojibake repair only where they change nothing."""

from __future__ import annotations

import html
import re._compiler as _re_compiler  # type: ignore[import-not-found]
import re._constants as _re  # type: ignore[import-not-found]
import re._parser as _re_parser  # type: ignore[import-not-found]
from collections.abc import Sequence
from typing import Any

import ftfy
import nh3
from ftfy.badness import BADNESS_RE
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


# --- mojibake repair: typography that ftfy provably leaves as it is ---------------

_PRINTABLE_ASCII = "".join(map(chr, range(0x20, 0x7F)))
_LOOKING = (_re.AT, _re.ASSERT, _re.ASSERT_NOT, _re.GROUPREF, _re.GROUPREF_EXISTS, _re.ANY)
_ONE_CHARACTER = (_re.LITERAL, _re.NOT_LITERAL, _re.IN, _re.CATEGORY)


def _can_match(items: Sequence[tuple[Any, Any]], alphabet: str, state: Any) -> bool:
    """Whether some string of ``alphabet`` might match the pattern ``items``.

    Over-approximates (lookarounds, anchors and any-character count as
    matching), so False is a proof that no such string matches.
    """
    for op, argument in items:
        if op in _LOOKING:
            continue
        if op in (_re.MAX_REPEAT, _re.MIN_REPEAT, _re.POSSESSIVE_REPEAT):
            low, _high, repeated = argument
            if low > 0 and not _can_match(repeated, alphabet, state):
                return False
        elif op is _re.SUBPATTERN:
            if not _can_match(argument[-1], alphabet, state):
                return False
        elif op is _re.BRANCH:
            if not any(_can_match(branch, alphabet, state) for branch in argument[1]):
                return False
        elif op in _ONE_CHARACTER:
            one = _re_compiler.compile(_re_parser.SubPattern(state, [(op, argument)]), state.flags)
            if not any(one.fullmatch(character) for character in alphabet):
                return False
        # Anything else might match: the answer stays "maybe".
    return True


def _never_looks_like_mojibake(alphabet: str) -> bool:
    parsed = _re_parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
    return not _can_match(list(parsed), alphabet, parsed.state)


def test_no_text_of_the_typography_can_look_like_mojibake_to_this_ftfy() -> None:
    # Bump text.FTFY_PROVEN only after this proof holds for the new version.
    assert ftfy.__version__ == text.FTFY_PROVEN
    assert text._typographic_only is not None
    assert _never_looks_like_mojibake(_PRINTABLE_ASCII + text.TYPOGRAPHY)


def test_the_proof_can_fail() -> None:
    # "â€™" is what "’" becomes when UTF-8 is read as Windows-1252.
    assert not _never_looks_like_mojibake(_PRINTABLE_ASCII + text.TYPOGRAPHY + "â")
    assert not _never_looks_like_mojibake(_PRINTABLE_ASCII + "\x80")  # a C1 control
    assert ftfy.fix_text("cityâ€™s", text._FTFY) == "city’s"
    assert text.fix_mojibake("cityâ€™s") == "city’s"  # so it still goes to ftfy


_typography_text = st.text(
    st.sampled_from(_PRINTABLE_ASCII) | st.sampled_from(text.TYPOGRAPHY), min_size=1
)


@settings(max_examples=500)
@given(_typography_text)
@example("King County Council’s ban is ‘misguided’ — “for now”…")
@example("«Le™» ‹x› • ′″ ·°©®")
def test_ftfy_leaves_typography_as_it_is(value: str) -> None:
    assert ftfy.fix_text(value, text._FTFY) == value
    assert text.fix_mojibake(value) == value


@settings(max_examples=300)
@given(st.text(st.characters(codec="utf-8") | st.sampled_from(text.TYPOGRAPHY + "â€™Ã©")))
def test_mojibake_repair_is_ftfys_on_any_text(value: str) -> None:
    expected = value if value.isascii() else ftfy.fix_text(value, text._FTFY)
    assert text.fix_mojibake(value) == expected


def test_the_typography_pattern_is_exactly_the_alphabet() -> None:
    assert text._TYPOGRAPHIC.fullmatch(_PRINTABLE_ASCII + text.TYPOGRAPHY)
    for outside in ("\t", "\n", "\x7f", "é", "â", "\u00a0"):
        assert not text._TYPOGRAPHIC.fullmatch(f"a{outside}b"), repr(outside)
