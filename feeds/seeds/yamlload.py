"""YAML loading shared by the config and the article reader.

Uses libyaml's ``CSafeLoader`` when present (much faster than the
pure-Python loader). Timestamps are *not* resolved by YAML: the reader parses
dates itself so that quoted and unquoted dates behave the same and a bad date
gets a clear reason.

Hostile documents are refused by this module's own checks, made on what the
parser emits through PyYAML's documented interface: nesting depth on parser
events, before anything recursive runs; merge keys and aliases on the
composed nodes, before any Python object is made. PyYAML has changed both
under us (6.0.4's libyaml stops deep nesting with its own words, and its
``flatten_mapping`` copies merges differently), so no defense rests on a
PyYAML internal; the few internals used for speed are in ``feeds.compat.pyyaml``.
Every reason is this module's own text, the same whichever PyYAML is installed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from functools import cache
from itertools import chain
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from feeds.compat.pyyaml import FastLoader, construct
from feeds.seeds.yamlplain import load_plain

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
#: The tags a document may carry: YAML's own types. Any other (`!secret`,
#: `!!python/object`, a %TAG handle's) is refused in our words, never with
#: the tag itself, which may be the very value a seed keeps secret.
_SUPPORTED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in (
        "str", "int", "float", "bool", "null", "seq", "map", "omap", "pairs", "set",
        "binary", "timestamp", "merge", "value",
    )
)  # fmt: skip


class Loader(FastLoader):
    """Safe loader without implicit timestamps.

    Load through ``load_yaml``: that is where documents are checked and merge
    keys applied; on its own this loader refuses a merge key rather than let
    PyYAML expand it unchecked.
    """


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in FastLoader.yaml_implicit_resolvers.items()
}


# Seed files read plain scalars the YAML 1.2 way where 1.1 surprises authors:
# `no`, `yes`, `on`, `off` stay text (a topic called "no" is not false), `012`
# stays text (not octal ten) and `1:20` stays text (not eighty). The reader
# still takes yes/no/on/off for its one true/false field.
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_PLAIN_12 = (
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_INT, r"^(?:[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?0o[0-7_]+)$", "-+0123456789"),
    (
        _FLOAT,
        r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        "-+0123456789.",
    ),
)


@cache
def _plain_12(base: type[Loader]) -> type[Loader]:
    """``base`` with YAML 1.2 booleans and numbers (built on first use, so a
    test that swaps ``Loader`` for the pure-Python one swaps this one too)."""

    class SeedLoader(base):  # type: ignore[valid-type,misc]
        pass

    replaced = {tag for tag, _, _ in _PLAIN_12}
    SeedLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in replaced]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    for tag, pattern, firsts in _PLAIN_12:
        SeedLoader.add_implicit_resolver(tag, re.compile(pattern, re.VERBOSE), list(firsts))
    return SeedLoader


class YAMLRefused(yaml.YAMLError):
    """A document refused for a reason of this project's own, with where."""

    def __init__(self, reason: str, mark: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        #: 1-based line and column, when the reason has a place.
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None

    def __str__(self) -> str:
        return describe_yaml_error(self)


_UNREADABLE = "unreadable YAML text (check quotes, escapes and indentation)"
_MISMATCH = "a value does not match its type"


def load_seed_yaml(text: str, fields: Collection[str] | None = None) -> Any:
    """`load_yaml` for a seed's front matter: YAML 1.2 booleans and numbers.

    With ``fields``, the top-level entries under any other key are dropped as
    soon as they are composed: what is never read (``secured``, unknown
    fields) can neither reject the article (a tag, a bad value) nor cost the
    checks and the construction.
    """
    return load_yaml(text, _plain_12(Loader), fields)


def load_yaml(
    text: str, loader: type[Loader] | None = None, fields: Collection[str] | None = None
) -> Any:
    """Parses one YAML document. Raises ``yaml.YAMLError`` and nothing else
    (but ``MemoryError`` and what is not an ``Exception``, such as
    ``KeyboardInterrupt``: those say nothing about the document).

    PyYAML raises plain Python errors too, and which ones is not promised:
    its constructors raise whatever a value that does not fit its tag makes
    them raise (``!!int abc``, an empty ``!!int``, a number too long for
    ``int()``), and that text quotes the value, which may be a secret. So any
    error from PyYAML's parsing, composing or constructing is replaced with
    a ``YAMLError`` in this project's words, without the value.
    """
    loader = loader or Loader
    values = load_plain(text, loader, fields)
    if values is not None:  # the shape nearly every seed has (see yamlplain)
        return values
    return load_composed(text, loader, fields)


def load_composed(text: str, loader: type[Loader], fields: Collection[str] | None) -> Any:
    """`load_yaml` the full way: composed by PyYAML, checked, constructed."""
    try:
        _refuse_deep_nesting(text, loader)
        parser = loader(text)
        node = _only_document(parser, text, loader)
    except (yaml.YAMLError, MemoryError):
        raise
    except Exception as error:
        raise _in_our_words(error, _UNREADABLE) from None
    if node is None:
        return None
    _prepare(node, text, fields)
    try:
        return construct(parser, node)
    except (yaml.YAMLError, MemoryError):
        raise
    except Exception as error:
        raise _in_our_words(error, _MISMATCH) from None


def _in_our_words(error: Exception, reason: str) -> yaml.YAMLError:
    """The ``YAMLError`` to raise for ``error``, which PyYAML raised.

    Running out of stack is the document's nesting. (Running out of memory
    is not caught at all: it says nothing about the document, and a
    rejection is remembered for the file until the file changes.)
    """
    if isinstance(error, RecursionError):
        return YAMLRefused(_TOO_DEEP)
    return YAMLRefused(reason)


def _only_document(parser: Loader, text: str, loader: type[Loader]) -> Node | None:
    """The document's composed node (None for an empty stream); a second
    document is refused."""
    if not parser.check_node():
        return None
    node = parser.get_node()
    if node is None:
        return None
    if parser.check_node():
        raise YAMLRefused("more than one document", _second_document(text, loader))
    return node


def _prepare(node: Node, text: str, fields: Collection[str] | None) -> None:
    """Checks ``node`` and makes it what is constructed: unread fields
    dropped, merges and aliases expanded within budget, tags refused."""
    if fields is not None:
        _keep_only(node, fields)
    merges = _may_merge(text)
    if merges or _may_alias(text):
        _expand_within_budget(node, _Merges() if merges else None)
        if merges and fields is not None:
            _keep_only(node, fields)  # and what the merges brought in
    if "!" in text:  # every explicit tag, and every %TAG, is written with one
        _refuse_unsupported_tags(node)


def _keep_only(node: Node, fields: Collection[str]) -> None:
    if isinstance(node, MappingNode):
        node.value = [
            (key, value)
            for key, value in node.value
            if not (type(key) is ScalarNode and key.tag == _STR and key.value not in fields)
        ]


def _refuse_unsupported_tags(root: Node) -> None:
    """Raises ``YAMLRefused`` at the first node whose tag is not YAML's own."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in _SUPPORTED_TAGS:
            raise YAMLRefused("unsupported YAML tag", node.start_mark)
        if isinstance(node, MappingNode):
            stack.extend(chain.from_iterable(node.value))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


def _second_document(text: str, loader: type[Loader]) -> Any:
    """Where the second document starts (its events are not composed)."""
    starts = (e for e in yaml.parse(text, Loader=loader) if isinstance(e, yaml.DocumentStartEvent))
    next(starts, None)
    second = next(starts, None)
    return second.start_mark if second is not None else None


# --- nesting ------------------------------------------------------------------

#: Deeper documents are refused before they are composed: libyaml's composer
#: recurses in C, and a small file of nothing but "- " nests deep enough to
#: overflow the stack, a segfault that would end a build or the daemon. The limit is
#: well below the one libyaml has had since PyYAML 6.0.4 (1,000 levels by its
#: own count), so this check speaks first and in our words, and below where
#: the pure-Python composer, which recurses in Python, would run out of stack.
#: Seeds and configs nest a few levels.
MAX_DEPTH = 300
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
_INDICATORS = "-?:[{"
_OPENING = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSING = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _surely_shallow(text: str) -> bool:
    """True when ``text`` cannot nest deeper than ``MAX_DEPTH``: true of
    nearly every document, which then needs no walk over its events."""
    # Every list or mapping has an indicator of its own: few of them, few levels.
    if sum(map(text.count, _INDICATORS)) <= MAX_DEPTH:
        return True
    # Block collections that begin on different lines nest by indentation, so
    # each begins at its own column, and at most two share one (a mapping and
    # the list that is its value, `k:` over `- x`): the deepest indentation
    # bounds them. Any other level opens with a character counted here.
    widest = (MAX_DEPTH - _levels_opened_by_indicators(text)) // 2 - 1
    return widest >= 0 and " " * (widest + 1) not in text


def _levels_opened_by_indicators(text: str) -> int:
    """An upper bound on the levels that characters, not indentation, open:
    a block collection begins mid-line only after `- `, `? ` or `: `."""
    levels = text.count("- ") + text.count(": ")
    if "?" in text:
        levels += text.count("? ")
    if "\t" in text:
        levels += text.count("-\t") + text.count("?\t") + text.count(":\t")
    if "{" in text:
        levels += text.count("{")
    if "[" in text:
        levels += text.count("[") + text.count(":")  # `[a: b]` holds a mapping
    return levels


def _refuse_deep_nesting(text: str, loader: type[Loader]) -> None:
    """Raises ``YAMLRefused`` for a document nested deeper than ``MAX_DEPTH``."""
    if _surely_shallow(text):
        return
    try:
        deep = _deeper_than_limit(yaml.parse(text, Loader=loader))
    except yaml.YAMLError:
        # Loading says what is wrong with it. (Asking the pure-Python parser,
        # which has no nesting limit, whether libyaml stopped at its own would
        # read every broken document again, many times slower: a large one
        # would hold a worker. MAX_DEPTH stays below libyaml's limit instead.)
        return
    if deep:
        raise YAMLRefused(_TOO_DEEP)


def _deeper_than_limit(events: Iterable[yaml.Event]) -> bool:
    depth = 0
    for event in events:
        if isinstance(event, _OPENING):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif isinstance(event, _CLOSING):
            depth -= 1
    return False


# --- merge keys and aliases ---------------------------------------------------

#: Entries that merge keys (``<<``) may copy in one document. Each level of
#: merges can multiply the copies ("billion laughs" with ``<<: [*a, *a, ...]``),
#: so they are counted before they are made.
MAX_MERGED_ENTRIES = 10_000
#: Values that aliases (and the merges above) may repeat in one document,
#: counting a repeated list or mapping as everything in it. PyYAML shares one
#: object per anchor, but whatever walks the result (the config's validation,
#: a caller's loop) visits every repetition: ten levels of nine aliases would
#: be 3.5 billion values.
MAX_REPEATED_VALUES = 100_000


#: What may stand before an anchor (`&name`): it begins a token.
_BEFORE_ANCHOR = "[{,?:\ufeff"


def _may_alias(text: str) -> bool:
    """False when ``text`` has no alias (`*name`) of an anchor (`&name`).

    Cheap, so that most documents skip the walk over their nodes: an `&`
    inside a word or a link (`?a=1&b=2`) cannot begin an anchor.
    """
    if "*" not in text:
        return False
    index = text.find("&")
    while index >= 0:
        if index == 0 or text[index - 1].isspace() or text[index - 1] in _BEFORE_ANCHOR:
            return True
        index = text.find("&", index + 1)
    return False


def _may_merge(text: str) -> bool:
    """False when no key of ``text`` can be a merge key: one is written `<<`,
    or tagged merge explicitly (`!!merge`, `!<tag:yaml.org,2002:merge>`, or
    through a %TAG handle or %-escapes)."""
    return "<<" in text or ("!" in text and ("merge" in text or "%" in text))


def _expand_within_budget(root: Node, merges: _Merges | None) -> None:
    """Applies merge keys to the nodes (unless ``merges`` is None: the text
    has none) and counts what aliases repeat.

    Raises ``YAMLRefused`` past either budget, before any Python object is
    made; each node is visited once, however often it is repeated.
    """
    #: The number of values a node stands for when written out, once known.
    sizes: dict[int, int] = {}
    repeated = 0
    path = {id(root)}
    stack: list[tuple[Node, Iterator[Node], list[int]]] = [(root, _children(root, merges), [1])]
    while stack:
        node, children, size = stack[-1]
        for child in children:
            key = id(child)
            known = sizes.get(key)
            if known is None:
                if type(child) is ScalarNode:
                    sizes[key] = 1
                    size[0] += 1
                    continue
                if key not in path:
                    path.add(key)
                    stack.append((child, _children(child, merges), [1]))
                    break
                known = 1  # PyYAML makes a collection within itself one object
            repeated += known
            size[0] += known
            if repeated > MAX_REPEATED_VALUES:
                raise YAMLRefused("aliases ('*') repeat too many values", node.start_mark)
        else:
            stack.pop()
            path.discard(id(node))
            sizes[id(node)] = size[0]
            if stack:
                stack[-1][2][0] += size[0]


def _children(node: Node, merges: _Merges | None) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        if merges is not None:
            merges.apply(node)
        return chain.from_iterable(node.value)
    if isinstance(node, SequenceNode):
        return iter(node.value)
    return iter(())


class _Merges:
    """Merge keys applied to the nodes, as YAML defines them and PyYAML up
    to 6.0.3 did: a mapping's own keys win over merged ones, and of merged
    mappings the earlier in a `<<: [...]` list wins. (PyYAML 6.0.4 lets later
    ones win.) Once applied, no merge key is left for PyYAML to expand."""

    def __init__(self) -> None:
        self.copied = 0
        self.done: set[int] = set()

    def apply(self, mapping: MappingNode) -> None:
        if id(mapping) in self.done:
            return
        # Merged mappings are applied before they are copied; a chain of them
        # can be long, so this walks it with a stack rather than recursion.
        pending = {id(mapping)}
        stack = [(mapping, iter(_merged_mappings(mapping)))]
        while stack:
            node, sources = stack[-1]
            for source in sources:
                if id(source) in self.done:
                    continue
                if id(source) in pending:
                    raise YAMLRefused(
                        "merge keys ('<<') merge a mapping into itself", node.start_mark
                    )
                pending.add(id(source))
                stack.append((source, iter(_merged_mappings(source))))
                break
            else:
                stack.pop()
                self._flatten(node)
                self.done.add(id(node))

    def _flatten(self, node: MappingNode) -> None:
        merged: list[tuple[Node, Node]] = []
        own: list[tuple[Node, Node]] = []
        for key, value in node.value:
            if key.tag != _MERGE:
                own.append((key, value))
                continue
            for source in _merge_order(value):
                self.copied += len(source.value)
                if self.copied > MAX_MERGED_ENTRIES:
                    raise YAMLRefused("merge keys ('<<') copy in too many entries", node.start_mark)
                merged.extend(source.value)
        if len(own) < len(node.value):
            node.value = merged + own


def _merged_mappings(node: MappingNode) -> Iterator[MappingNode]:
    for key, value in node.value:
        if key.tag == _MERGE:
            yield from _merge_order(value)


def _merge_order(value: Node) -> list[MappingNode]:
    """The mappings a merge key's value names, in the order they are copied:
    later copies win, so a list is copied last to first."""
    if isinstance(value, MappingNode):
        return [value]
    if isinstance(value, SequenceNode):
        for item in value.value:
            if not isinstance(item, MappingNode):
                raise YAMLRefused(_MERGE_SHAPE, item.start_mark)
        return list(reversed(value.value))
    raise YAMLRefused(_MERGE_SHAPE, value.start_mark)


_MERGE_SHAPE = "a merge key ('<<') must name a mapping or a list of mappings"


# --- reasons --------------------------------------------------------------------

#: What each kind of PyYAML error means, in this project's words: PyYAML's own
#: text differs between versions, and some of it quotes the document (an
#: anchor's name, a tag).
_PROBLEMS: tuple[tuple[type[yaml.MarkedYAMLError], str], ...] = (
    (yaml.scanner.ScannerError, _UNREADABLE),
    (
        yaml.parser.ParserError,
        "misplaced YAML structure (check indentation, '-', ':' and brackets)",
    ),
    (
        yaml.composer.ComposerError,
        "an alias ('*') without its anchor ('&'), or an anchor used twice",
    ),
    (yaml.constructor.ConstructorError, _MISMATCH),
)


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """A one-line reason with line and column, but never the offending text.

    PyYAML's own message quotes the line it choked on; in a seed file that line
    may be the ``secured`` secret, so only the position and the kind of
    problem are kept.
    """
    if isinstance(error, YAMLRefused):
        return _where(error.reason, error.line, error.column)
    if isinstance(error, yaml.reader.ReaderError):
        # The character itself may be anything; its position is what helps.
        return f"invalid YAML: a character YAML does not allow, at offset {error.position}"
    if isinstance(error, yaml.MarkedYAMLError):
        problem = next((text for kind, text in _PROBLEMS if isinstance(error, kind)), None)
        mark = error.problem_mark or error.context_mark
        if mark is not None:
            return _where(problem, mark.line + 1, mark.column + 1)
        return _where(problem, None, None)
    return "invalid YAML"


def _where(problem: str | None, line: int | None, column: int | None) -> str:
    place = f" at line {line}, column {column}" if line is not None else ""
    return f"invalid YAML{place}: {problem}" if problem else f"invalid YAML{place}"
