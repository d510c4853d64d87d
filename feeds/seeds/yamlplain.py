"""The front matter nearly every seed has, loaded without PyYAML's node graph.

Pipelines write seeds in one narrow shape: block mappings and lists, keys that
are plain words, and each value on its own line, plain or quoted. Loading that
shape through PyYAML means composing a node per value and walking the nodes
again to construct them, which was half the time spent reading a seed. This
module reads the shape line by line and builds the values at once.

It reads nothing else. Whenever a document holds anything outside the shape
(anchors, aliases, tags, flow collections, block scalars, a scalar over more
than one line, an escape or a number written an unusual way, tabs, carriage
returns, characters YAML does not allow, more than a few levels of nesting)
``load_plain`` answers ``None`` and the caller loads the document the full way,
with every check (``feeds.seeds.yamlload``). So nothing hostile is ever read
here: the shape has no aliases, no merge keys, no tags and a fixed depth, and
a document that is not valid YAML is never valid in the shape. What it does
read, it reads exactly as PyYAML does, plain scalars resolved by the loader's
own resolvers (tests/seeds/test_yamlplain.py compares the two on generated
documents).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from feeds.compat.pyyaml import plain_resolver, plain_values

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"

#: Levels of nesting read here; a seed has four at most. Deeper documents
#: are the full loader's (and its depth limit's) to judge.
MAX_LEVELS = 12

#: Any of these sends the document the full way: what YAML refuses (controls,
#: U+FFFE/U+FFFF, surrogates), tabs and carriage returns, the line breaks
#: YAML 1.1 knows besides LF (U+0085, U+2028, U+2029), and the byte order mark.
_UNUSUAL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
#: Each line: its indentation, a list item's dash and the spaces after it, a
#: key and the rest ('' for what the line lacks). A key is a plain word; any
#: other key (quoted, spaced, `<<`, `?`) is not read here.
_LINES = re.compile(
    r"^( *)(-(?: +|$))?(?:([A-Za-z_][A-Za-z0-9_]{0,99}):(?: +|$))?(.*)$", re.MULTILINE
)
#: A quoted scalar that ends on its line, then at most a comment.
_DOUBLE = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"(?: *| +#.*)')
_SINGLE = re.compile(r"'([^']*(?:''[^']*)*)'(?: *| +#.*)")
#: The escapes read here, and what each stands for (the same in libyaml and
#: in PyYAML's own scanner); `\x`, `\u` and `\U` give a code point.
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
#: How a plain scalar may begin: not with an indicator (`-` before a digit,
#: as in `-1`, is a number), nor a quote, nor a comment.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
#: Numbers written the usual way; others (`1_000`, `0x1F`, `.inf`) go the full way.
_SIMPLE_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,40})")
_SIMPLE_FLOAT = re.compile(r"[-+]?[0-9]{1,40}\.[0-9]{0,40}(?:[eE][-+][0-9]{1,3})?")


#: Scalars remembered (see ``_Document._known``), and the longest remembered.
_KNOWN_SCALARS = 4096
_KNOWN_LENGTH = 100
_UNKNOWN = object()


class _Unsure(Exception):
    """The document holds something this module does not read."""


def load_plain(text: str, loader: type[Any], fields: Collection[str] | None) -> Any:
    """``text``'s values when it is a mapping in the shape read here (with
    ``fields``, only the top-level entries it names), else None: load it the
    full way."""
    # Most documents are printable throughout, which is quicker to ask.
    if not text.replace("\n", " ").isprintable() and _UNUSUAL.search(text) is not None:
        return None
    resolve = plain_resolver(loader)
    if resolve is None:
        return None
    try:
        values = _Document(resolve, plain_values(loader)).read(text)
    except _Unsure:
        return None
    if fields is None:
        return values
    return {key: value for key, value in values.items() if key in fields}


class _Document:
    """One document's lines, read into Python values.

    ``_stack`` holds the open collections, innermost last, each with the
    column its entries start at and whether it is a list written at its
    key's own indentation (`key:` over `- item`); at the bottom, a holder of
    the document's value at column -1. A line that ends at a key or a dash
    with nothing after it opens a value (``_opened``), which the next line
    either begins, more indented, or leaves empty.
    """

    def __init__(self, resolve: Any, known: dict[str, Any]) -> None:
        self._resolve = resolve
        #: What short scalars, as written, were read as: the same few (names,
        #: numbers, `true`) recur in every seed.
        self._known = known
        self._holder: list[Any] = [None]
        self._stack: list[tuple[int, Any, bool]] = [(-1, self._holder, False)]
        #: The value a line left open: its collection, its key or index, the
        #: column of the line, and whether a key opened it.
        self._opened: tuple[Any, Any, int, bool] | None = (self._holder, 0, -1, False)

    def read(self, text: str) -> dict[str, Any]:
        stack = self._stack
        lines = _LINES.findall(text)
        for indent, dash, key, rest in lines:
            if not (dash or key):
                if rest and rest[0] != "#":
                    raise _Unsure  # a scalar on a line of its own
                continue  # a blank line or a comment
            column = len(indent)
            top = stack[-1]
            if self._opened is not None or column != top[0] or top[2]:
                top = self._enter(column, bool(dash))
            if dash:
                self._item(top[1], key, rest, column, column + len(dash))
            elif type(top[1]) is dict:
                self._entry(top[1], key, rest, column)
            else:
                raise _Unsure  # a key where an item belongs
        root = self._holder[0]
        if type(root) is not dict:
            raise _Unsure  # a seed's front matter is a mapping
        self._check_keys({key for _, _, key, _ in lines if key})
        return root

    def _check_keys(self, keys: set[str]) -> None:
        """Raises `_Unsure` unless every key is text: `true:`, `null:` are not."""
        known = self._known
        for key in keys:
            # A key is a plain word, which reads as itself exactly when it is text.
            if known.get(key) != key:
                if self._resolve(key) != _STR:
                    raise _Unsure
                self._remember(key, key)

    def _enter(self, column: int, dash: bool) -> tuple[int, Any, bool]:
        """The collection the line at ``column`` belongs to, made innermost."""
        opened, self._opened = self._opened, None
        if opened is not None:
            collection, slot, where, by_key = opened
            if column > where or (column == where and dash and by_key):
                child: Any = [] if dash else {}
                collection[slot] = child
                return self._push(column, child, column == where)
        stack = self._stack
        while column < stack[-1][0] or (column == stack[-1][0] and stack[-1][2] and not dash):
            stack.pop()
        if stack[-1][0] != column:
            raise _Unsure
        return stack[-1]

    def _push(self, column: int, collection: Any, indentless: bool) -> tuple[int, Any, bool]:
        if len(self._stack) > MAX_LEVELS:
            raise _Unsure
        frame = (column, collection, indentless)
        self._stack.append(frame)
        return frame

    def _item(self, items: Any, key: str, rest: str, column: int, content: int) -> None:
        if type(items) is not list:
            raise _Unsure  # an item where a key belongs
        if key:
            mapping: dict[str, Any] = {}
            items.append(mapping)
            self._push(content, mapping, False)
            self._entry(mapping, key, rest, content)
        elif rest and rest[0] != "#":
            items.append(self._scalar(rest))
        else:
            items.append(None)
            self._opened = (items, len(items) - 1, column, False)

    def _entry(self, mapping: dict[str, Any], key: str, rest: str, column: int) -> None:
        if not rest or rest[0] == "#":
            mapping[key] = None
            self._opened = (mapping, key, column, True)
        elif rest[0] == '"' and rest.find('"', 1) == len(rest) - 1 and "\\" not in rest:
            mapping[key] = rest[1:-1]  # the usual value: quoted, unescaped, nothing after
        else:
            mapping[key] = self._scalar(rest)

    def _scalar(self, rest: str) -> Any:
        value = self._known.get(rest, _UNKNOWN)
        if value is _UNKNOWN:
            value = _scalar(rest, self._resolve)
            self._remember(rest, value)
        return value

    def _remember(self, written: str, value: Any) -> None:
        if len(written) <= _KNOWN_LENGTH:
            if len(self._known) >= _KNOWN_SCALARS:
                self._known.clear()  # a bound for hostile input
            self._known[written] = value


def _scalar(rest: str, resolve: Any) -> Any:
    first = rest[0]
    if first == '"':
        return _double_quoted(rest)
    if first == "'":
        match = _SINGLE.fullmatch(rest)
        if match is None:
            raise _Unsure
        return match.group(1).replace("''", "'")
    if first in _INDICATORS and not (first == "-" and rest[1:2].isdigit()):
        raise _Unsure
    comment = rest.find(" #")
    value = (rest if comment < 0 else rest[:comment]).rstrip(" ")
    if ": " in value or value[-1] == ":":
        raise _Unsure  # YAML would read a key here, or refuse the line
    tag = resolve(value)
    return value if tag == _STR else _typed(tag, value)


def _typed(tag: str, value: str) -> Any:
    """The value of a plain scalar that is not text, as PyYAML constructs it."""
    if tag == _NULL:
        return None
    if tag == _INT and _SIMPLE_INT.fullmatch(value):
        return int(value)
    if tag == _FLOAT and _SIMPLE_FLOAT.fullmatch(value):
        return float(value)
    if tag == _BOOL and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _Unsure


def _double_quoted(rest: str) -> str:
    last = len(rest) - 1
    if rest[last] == '"' and rest.find('"', 1) == last and "\\" not in rest:
        return rest[1:last]  # the usual value: quoted, unescaped, nothing after
    match = _DOUBLE.fullmatch(rest)
    if match is None:
        raise _Unsure  # not closed on this line, or followed by more than a comment
    body = match.group(1)
    return _ESCAPE.sub(_unescaped, body) if "\\" in body else body


def _unescaped(escape: re.Match[str]) -> str:
    short = escape.group(4)
    if short is not None:
        if short not in _ESCAPES:
            raise _Unsure
        return _ESCAPES[short]
    code = int(escape.group(1) or escape.group(2) or escape.group(3), 16)
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        raise _Unsure  # libyaml refuses these, PyYAML's own scanner does not
    return chr(code)
