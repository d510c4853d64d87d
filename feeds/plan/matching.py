"""Custom feeds' ``include`` and ``exclude`` expressions, matched by RE2.

The expressions come from the operator, the text they run on from seeds.
Python's ``re`` backtracks: ``(a+)+$`` against a title of a few dozen ``a``
and a ``!`` runs for hours, holding the GIL, so a daemon stops serving and
ignores SIGTERM. RE2 takes time linear in the text whatever the expression,
and releases the GIL while it matches. It has no look-around and no
backreferences (they need backtracking); an expression using them is refused
when the config is loaded, with a reason in our own words.

A few spellings of Python's syntax that RE2 lacks are rewritten to RE2's so
they keep their meaning: ``\\Z``, ``\\uXXXX``, ``\\UXXXXXXXX``, ``\\N{NAME}``,
``{,n}``. What cannot be rewritten is documented in the README.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

#: Longest expression quoted back in an error message.
_SHOWN_LENGTH = 60

# RE2's error kinds (the text before ": " in its message), in our words. The
# offending piece of the expression (after ": ") is quoted where it helps.
_FEATURES = {
    "(?=": "look-ahead (?=...) is not supported",
    "(?!": "look-ahead (?!...) is not supported",
    "(?<=": "look-behind (?<=...) is not supported",
    "(?<!": "look-behind (?<!...) is not supported",
    "(?>": "atomic groups (?>...) are not supported",
    "(?(": "conditional groups (?(...)...) are not supported",
    "(?#": "comments (?#...) are not supported",
    "(?P=": "backreferences such as (?P=name) are not supported",
}


class PatternError(ValueError):
    """An expression RE2 cannot take; the message says why, in our words."""


class Pattern:
    """One compiled expression: case-insensitive, searched anywhere in a text."""

    __slots__ = ("_regexp", "source")

    def __init__(self, source: str, regexp: Any) -> None:
        self.source = source
        self._regexp = regexp

    def search(self, text: str) -> bool:
        return self._regexp.search(text) is not None


@cache
def compile_pattern(source: str) -> Pattern:
    """``source`` compiled for RE2, case-insensitively; `PatternError` if it cannot be."""
    import re2  # a build without custom feeds never loads it

    options = re2.Options()
    options.case_sensitive = False
    # Otherwise RE2 writes each refusal to stderr itself, past our message.
    options.log_errors = False
    try:
        regexp = re2.compile(_rewritten(source), options)
    except re2.error as error:
        raise PatternError(_reason(error, source)) from None
    return Pattern(source, regexp)


def shown(source: str) -> str:
    """``source`` quoted for a message, cut when long."""
    if len(source) <= _SHOWN_LENGTH:
        return repr(source)
    return repr(source[:_SHOWN_LENGTH]) + "…"


def _rewritten(source: str) -> str:
    """Python spellings RE2 does not know, in RE2's spelling of the same thing."""
    out: list[str] = []
    in_class = False
    index = 0
    length = len(source)
    while index < length:
        char = source[index]
        if char == "\\" and index + 1 < length:
            escape, index = _escape(source, index, in_class)
            out.append(escape)
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            index += 1
            # A `]` first in a class (after an optional `^`) is a literal.
            if index < length and source[index] == "^":
                out.append("^")
                index += 1
            if index < length and source[index] == "]":
                out.append("]")
                index += 1
            continue
        elif char == "{" and source.startswith("{,", index):
            # Python reads `{,n}` as `{0,n}`; RE2 would match it literally.
            end = source.find("}", index)
            bound = source[index + 2 : end] if end != -1 else "x"
            if bound == "" or (bound.isascii() and bound.isdecimal()):
                out.append("{0," + bound + "}")
                index = end + 1
                continue
        out.append(char)
        index += 1
    return "".join(out)


def _escape(source: str, index: int, in_class: bool) -> tuple[str, int]:
    """The escape at ``index`` (a backslash and what follows), and the index after it."""
    letter = source[index + 1]
    if letter == "Z" and not in_class:
        return r"\z", index + 2
    if letter in "uU":
        digits = 4 if letter == "u" else 8
        code = source[index + 2 : index + 2 + digits]
        if len(code) == digits and all(c in "0123456789abcdefABCDEF" for c in code):
            return _code_point(int(code, 16)), index + 2 + digits
    if letter == "N" and source.startswith("{", index + 2):
        end = source.find("}", index + 3)
        if end != -1:
            try:
                character = unicodedata.lookup(source[index + 3 : end])
            except KeyError:
                raise PatternError(
                    f"\\N{{{source[index + 3 : end]}}} names no Unicode character"
                ) from None
            return _code_point(ord(character)), end + 1
    return source[index : index + 2], index + 2


def _code_point(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _reason(error: Exception, source: str) -> str:
    raw = error.args[0] if error.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    kind, _, piece = text.partition(": ")
    if kind == "invalid perl operator":
        return _operator_reason(piece, source)
    if kind == "invalid escape sequence":
        if len(piece) == 2 and piece[1] in "123456789":
            return f"backreferences such as {piece} are not supported"
        return f"the escape {piece} is not supported"
    if kind == "bad repetition operator":
        if piece.endswith("+") and len(piece) == 2:
            return f"possessive repetitions such as {piece} are not supported"
        return f"{piece} repeats a repetition"
    return _other_reason(kind, piece)


def _operator_reason(piece: str, source: str) -> str:
    """Why a group RE2 calls an invalid operator (``piece`` opens it) is refused."""
    if piece == "(?P" and "(?P=" in source:  # RE2 quotes no more than "(?P"
        piece = "(?P="
    for start, reason in _FEATURES.items():
        if piece.startswith(start):
            return reason
    if piece[2:].isalpha() and not piece.startswith("(?P"):
        return (
            f"the inline flag {piece}) is not supported (i, m, s and U are;"
            " every expression is case-insensitive already)"
        )
    return f"the group syntax {piece}...) is not supported"


def _other_reason(kind: str, piece: str) -> str:
    reasons = {
        "invalid repetition size": (
            f"a repetition count over 1000, alone or multiplied by nesting ({piece})"
        ),
        "pattern too large - compile failed": (
            "it is too large to compile; split it into several expressions"
        ),
        "missing )": "a ( is not closed",
        "unexpected )": "a ) closes nothing",
        "missing ]": "a [ is not closed",
        "trailing \\": "it ends with a lone backslash",
        "no argument for repetition operator": f"{piece} has nothing to repeat",
        "invalid character class range": f"{piece} is not a valid range or class",
        "invalid character class": f"{piece} is not a valid character class",
        "invalid named capture group": f"{piece} is not a valid group name",
        "invalid UTF-8": "it is not valid text",
    }
    return reasons.get(kind, "it is not an expression feeds can match")
