"""Fast paths skip the HTML sanitiser or the mojibake repair only where they change nothing."""

from __future__ import annotations

import html
import html.entities
import itertools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import ftfy
import ftfy.badness
import nh3
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.seeds import text


def _reference_sanitize(fragment: str, tags: set[str]) -> str:
    return text.strip_forbidden(
        nh3.clean(
            text.strip_forbidden(fragment),
            tags=tags,
            attributes=text._ATTRIBUTES,
            url_schemes=text._URL_SCHEMES,
            link_rel="noopener noreferrer",
        )
    )


def _reference_html_to_text(fragment: str) -> str:
    return text.clean_line(html.unescape(nh3.clean(fragment, tags=set())))


_any_text = st.text(st.characters(codec="utf-8") | st.sampled_from("<>&\r\u00a0\ufeff \"'"))


@settings(max_examples=400)
@given(_any_text)
@example("a &#1; b &#xFFFE; c")
@example("a\u00a0b")
@example("\ufeffbom")
@example("x\r\ny")
@example("plain text, with quotes \" and ' and = signs")
def test_the_fast_path_agrees_with_the_sanitiser(fragment: str) -> None:
    assert (
        text.sanitize_excerpt(fragment)
        == _reference_sanitize(fragment, set(text._EXCERPT_TAGS)).strip()
    )
    assert text.sanitize_content(fragment) == _reference_sanitize(fragment, set(text._CONTENT_TAGS))
    assert text.html_to_text(fragment) == _reference_html_to_text(fragment)


_spaced_text = st.text(
    st.characters(codec=None, exclude_categories=())
    | st.sampled_from(" \t\n\u00a0\u2028\u200b\u200c\u200d\ufeff\x00<>&")
)


@settings(max_examples=400)
@given(_spaced_text)
@example("\u200d a\u200b  b \u200c")
@example("a\u00ad\u200eb")
def test_a_cleaned_line_without_markup_is_its_own_excerpt_and_text(value: str) -> None:
    """What lets the reader skip sanitising a field's excerpt (`is_markup`)."""
    line = text.clean_line(value)
    if text.is_markup(line):
        return
    assert text.sanitize_excerpt(line) == line
    assert text.html_to_text(line) == line


def test_every_code_point_outside_the_markup_set_passes_the_sanitiser_unchanged() -> None:
    """The exhaustive check behind the fast path's character set."""
    characters = [chr(point) for point in range(0x110000) if not text._MARKUP.search(chr(point))]
    for start in range(0, len(characters), 4096):
        sample = text.strip_forbidden("a" + "b".join(characters[start : start + 4096]) + "b")
        assert nh3.clean(sample, tags=set()) == sample, f"block at {start}"


# --- what the sanitiser writes out: only characters XML allows ---------------------

_FORBIDDEN_REFERENCES = ["&#1;", "&#x8;", "&#X1b;", "&#xFFFE;", "&#65535;", "&#xD800;", "&#0;"]
_with_references = st.lists(
    st.sampled_from(["<b>", "</b>", '<a href="https://e.org/', '<a title="', '">', "&#", ";"])
    | st.sampled_from(_FORBIDDEN_REFERENCES)
    | st.characters(codec="utf-8"),
    max_size=30,
).map("".join)


@given(_with_references)
@example("bell &#7; and &#xFFFE; <b>&#xffff;</b>")
@example('<a href="https://e.org/&#1;" title="&#x8;">x</a>')
def test_no_character_xml_forbids_comes_out_of_the_sanitiser(fragment: str) -> None:
    """Character references stand for any character, and the sanitiser
    writes the character out: those XML forbids must go too (lxml refuses to
    put them in a feed, which stopped the build)."""
    for sanitize in (text.sanitize_excerpt, text.sanitize_content, text.html_to_text):
        clean = sanitize(fragment)
        assert text.strip_forbidden(clean) == clean, (sanitize.__name__, clean)


def test_no_named_character_reference_stands_for_a_character_xml_forbids() -> None:
    """Why only text with a numeric reference ("&#") is checked again after
    the sanitiser: checked for every name HTML has, in text and in attributes."""
    assert all(text.strip_forbidden(value) == value for value in html.entities.html5.values())
    for name in html.entities.html5:
        fragment = f'<a title="&{name} x">&{name} x</a><b>&{name}</b>'
        clean = nh3.clean(fragment, tags={"a", "b"}, attributes={"a": {"title"}})
        assert text.strip_forbidden(clean) == clean, name


# --- mojibake repair: typography that ftfy provably leaves as it is ---------------
#
# The proof reads ftfy's heuristic from ftfy.badness.BADNESS_RE, which ftfy does
# not document, with Python's own regular expression parser (re._parser and its
# kin, private too). The fast path in feeds.seeds.text is always on, so when either
# changes these tests fail, naming what changed; they never skip.

_PRINTABLE_ASCII = "".join(map(chr, range(0x20, 0x7F)))
_ALPHABET = _PRINTABLE_ASCII + text.TYPOGRAPHY
_WHAT_TO_DO = (
    "feeds.seeds.text.fix_mojibake skips ftfy for text of printable ASCII and "
    "feeds.seeds.text.TYPOGRAPHY only while that is proven here: redo the proof for this "
    "version, take the characters it now flags out of TYPOGRAPHY, or keep ftfy "
    "at a version the proof holds for."
)


def _badness_pattern() -> re.Pattern[str]:
    pattern = getattr(ftfy.badness, "BADNESS_RE", None)
    if not isinstance(pattern, re.Pattern):
        pytest.fail(
            f"ftfy {ftfy.__version__} has no ftfy.badness.BADNESS_RE, the regular "
            f"expression of its mojibake heuristic (found {pattern!r}). {_WHAT_TO_DO}"
        )
    return pattern


@dataclass(frozen=True)
class _ReInternals:
    compiler: Any
    parser: Any
    constants: Any
    looking: tuple[Any, ...]  # lookarounds, anchors, backreferences, any character
    one_character: tuple[Any, ...]
    repeats: tuple[Any, ...]


@cache
def _re_internals() -> _ReInternals:
    python = f"Python {sys.version.split()[0]}"
    try:
        import re._compiler as compiler  # type: ignore[import-not-found]
        import re._constants as constants  # type: ignore[import-not-found]
        import re._parser as parser  # type: ignore[import-not-found]
    except ImportError as error:
        pytest.fail(
            f"{python} has no {error.name}: the proof walks patterns with "
            f"re._parser, re._compiler and re._constants. {_WHAT_TO_DO}"
        )
    looking = ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS", "ANY")
    one_character = ("LITERAL", "NOT_LITERAL", "IN", "CATEGORY")
    repeats = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    names = (*looking, *one_character, *repeats, "SUBPATTERN", "BRANCH")
    missing = [name for name in names if not hasattr(constants, name)]
    missing += [name for name in ("SubPattern", "parse") if not hasattr(parser, name)]
    missing += [name for name in ("compile",) if not hasattr(compiler, name)]
    if missing:
        pytest.fail(
            f"{python}'s re._constants, re._parser or re._compiler lack {missing}. " + _WHAT_TO_DO
        )

    def ops(names: tuple[str, ...]) -> tuple[Any, ...]:
        return tuple(getattr(constants, name) for name in names)

    return _ReInternals(compiler, parser, constants, ops(looking), ops(one_character), ops(repeats))


def _can_match(items: Sequence[tuple[Any, Any]], alphabet: str, state: Any) -> bool:
    """Whether some string of ``alphabet`` might match the pattern ``items``.

    Over-approximates (lookarounds, anchors and any-character count as
    matching), so False is a proof that no such string matches.
    """
    return all(_item_can_match(op, argument, alphabet, state) for op, argument in items)


def _item_can_match(op: Any, argument: Any, alphabet: str, state: Any) -> bool:
    """`_can_match` for one item of a pattern: its operation and argument."""
    internals = _re_internals()
    if op in internals.looking:
        return True
    if op in internals.repeats:
        low, _high, repeated = argument
        return low <= 0 or _can_match(repeated, alphabet, state)
    if op is internals.constants.SUBPATTERN:
        return _can_match(argument[-1], alphabet, state)
    if op is internals.constants.BRANCH:
        return any(_can_match(branch, alphabet, state) for branch in argument[1])
    if op in internals.one_character:
        subpattern = internals.parser.SubPattern(state, [(op, argument)])
        one = internals.compiler.compile(subpattern, state.flags)
        return any(one.fullmatch(character) for character in alphabet)
    # Anything else might match: the answer stays "maybe".
    return True


def _never_looks_like_mojibake(alphabet: str, pattern: re.Pattern[str] | None = None) -> bool:
    pattern = pattern or _badness_pattern()
    parsed = _re_internals().parser.parse(pattern.pattern, pattern.flags)
    return not _can_match(list(parsed), alphabet, parsed.state)


def test_no_text_of_the_typography_can_look_like_mojibake_to_this_ftfy() -> None:
    assert _never_looks_like_mojibake(_ALPHABET), (
        f"under ftfy {ftfy.__version__} some text of printable ASCII and "
        f"feeds.seeds.text.TYPOGRAPHY may match ftfy.badness.BADNESS_RE. {_WHAT_TO_DO}"
    )


@settings(max_examples=300)
@given(st.text(st.characters(codec="utf-8") | st.sampled_from(text.TYPOGRAPHY + "â€™Ã©\x80")))
@example("cityâ€™s")
def test_the_proof_is_about_what_ftfy_decides_with(value: str) -> None:
    """The public heuristic is the regular expression the proof reads."""
    assert ftfy.badness.is_bad(value) == bool(_badness_pattern().search(value)), (
        f"ftfy {ftfy.__version__}'s is_bad no longer answers as BADNESS_RE does, so "
        f"the proof no longer covers what ftfy decides. {_WHAT_TO_DO}"
    )


def test_no_short_text_of_the_typography_is_bad_to_this_ftfy() -> None:
    """Every text of up to two characters, through the public heuristic alone."""
    flagged = [
        "".join(pair)
        for length in (1, 2)
        for pair in itertools.product(_ALPHABET, repeat=length)
        if ftfy.badness.is_bad("".join(pair))
    ]
    assert not flagged, f"ftfy {ftfy.__version__}'s is_bad flags {flagged[:10]}. {_WHAT_TO_DO}"


def test_the_proof_can_fail() -> None:
    # "â€™" is what "’" becomes when UTF-8 is read as Windows-1252.
    assert not _never_looks_like_mojibake(_ALPHABET + "â")
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
    assert not ftfy.badness.is_bad(value), f"{_WHAT_TO_DO} ({value!r})"
    assert ftfy.fix_text(value, text._FTFY) == value, f"{_WHAT_TO_DO} ({value!r})"
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


def test_a_heuristic_gone_from_ftfy_fails_the_proof_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(ftfy.badness, "BADNESS_RE")
    with pytest.raises(pytest.fail.Exception, match=r"ftfy \S+ has no ftfy\.badness\.BADNESS_RE"):
        _never_looks_like_mojibake(_ALPHABET)
