"""YAML defenses and reasons, the same under every PyYAML (issue 12).

Each defense is checked for what matters: the document is refused in the
project's own words, nothing is constructed from it, and the work done is
bounded (nodes visited, entries copied). Nothing here is timed; a generous
alarm only keeps a regression from hanging the suite.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from yaml.nodes import MappingNode, Node

from feeds.seeds import yamlload
from feeds.seeds.yamlload import (
    MAX_DEPTH,
    MAX_MERGED_ENTRIES,
    MAX_REPEATED_VALUES,
    describe_yaml_error,
    load_seed_yaml,
    load_yaml,
)
from tests import hostile
from tests.test_hostile_properties import yamlish

SECRET = hostile.MARKER
LOADS: list[Callable[[str], Any]] = [load_seed_yaml, load_yaml]


def reason(text: str, load: Callable[[str], Any] = load_seed_yaml) -> str:
    with pytest.raises(yaml.YAMLError) as caught:
        load(text)
    return describe_yaml_error(caught.value)


@contextmanager
def _unless_hung(seconds: int = 120) -> Iterator[None]:
    """Fails instead of hanging if the work is not bounded after all."""

    def give_up(_signal: int, _frame: FrameType | None) -> None:
        raise AssertionError(f"still working after {seconds} s: the work is not bounded")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class PurePythonLoader(yaml.SafeLoader):
    """What feeds falls back to without libyaml: its composer recurses in Python."""


# --- nesting -------------------------------------------------------------------

_DEEP = {
    "block sequence": lambda depth: "- " * depth + "x",
    "flow sequence": lambda depth: "[" * depth + "]" * depth,
    "flow mapping": lambda depth: "{a: " * depth + "x" + "}" * depth,
    "block mapping": lambda depth: (
        "".join(f"{'  ' * level}k:\n" for level in range(depth)) + "  " * depth + "x"
    ),
    "sequence in sequence value": lambda depth: "- k:\n  " + "- " * (depth - 2) + "x",
}
TOO_DEEP = f"invalid YAML: nested more than {MAX_DEPTH} levels deep"


@pytest.mark.parametrize("parser", ["libyaml", "pure-python"])
@pytest.mark.parametrize("shape", sorted(_DEEP))
def test_one_level_past_the_limit_reads_the_same_from_either_parser(
    shape: str, parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if parser == "pure-python":
        monkeypatch.setattr("feeds.seeds.yamlload.Loader", PurePythonLoader)
    for load in LOADS:
        assert reason(_DEEP[shape](MAX_DEPTH + 1), load) == TOO_DEEP
        assert load(_DEEP[shape](MAX_DEPTH)) is not None  # the limit itself loads


def test_libyaml_leaves_the_nesting_limit_to_us() -> None:
    """PyYAML 6.0.4's libyaml refuses deep nesting itself, in its own words:
    ours must come first, with room for its scanner's lookahead."""
    get = getattr(getattr(yaml, "_yaml", None), "_get_max_nest_level", None)
    if get is None or get() == -1:
        pytest.skip("this libyaml has no nesting limit of its own")
    assert get() >= MAX_DEPTH + 10, (
        f"PyYAML {yaml.__version__}'s libyaml stops nesting at {get()} levels, not far "
        f"enough past MAX_DEPTH ({MAX_DEPTH}): deep documents would get its reason, not "
        "ours; lower MAX_DEPTH in feeds/seeds/yamlload.py"
    )


def test_libyaml_stopping_first_still_refuses_in_our_words() -> None:
    """Its limit is process-wide and any library may lower it below ours:
    the document is then still refused, in the project's words."""
    get = getattr(getattr(yaml, "_yaml", None), "_get_max_nest_level", None)
    if get is None or get() == -1:
        pytest.skip("this libyaml has no nesting limit of its own")
    default = get()
    yaml._yaml._set_max_nest_level(50)  # type: ignore[attr-defined]
    try:
        for load in LOADS:
            for shape in sorted(_DEEP):
                refusal = reason(_DEEP[shape](MAX_DEPTH + 1), load)
                assert refusal == TOO_DEEP or refusal.endswith(
                    ": unreadable YAML text (check quotes, escapes and indentation)"
                ), refusal
    finally:
        yaml._yaml._set_max_nest_level(default)  # type: ignore[attr-defined]


def _depth(text: str) -> int:
    """How deep ``text`` nests, as far as the pure-Python parser reads it."""
    depth = deepest = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    return deepest


_plain = st.text(st.sampled_from("ab -?:[]{},#&*!|>'\"\n\t"), max_size=6)
_nested = st.recursive(
    st.none() | st.integers() | _plain,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_plain, inner, max_size=3),
    max_leaves=25,
)
_dumped = st.builds(
    lambda value, flow, indent: yaml.safe_dump(value, default_flow_style=flow, indent=indent),
    _nested,
    st.sampled_from([False, True, None]),
    st.integers(2, 9),
)
_compact = st.lists(st.sampled_from(["- ", "? ", ": ", "-\t", "[", "{", "a: ", "\n", "  "])).map(
    lambda parts: "".join(parts) + "x"
)


@given(yamlish | _dumped | _compact)
@example("- - - x")
@example(": : : x")
@example("? - ? - x")
@example("[a: [b: [c: d]]]")
@example("k:\n- - k2:\n  - x")
@example("k:\n- k2:\n  - k3:\n    - x")
def test_the_cheap_bounds_on_nesting_hold(text: str) -> None:
    """What lets nearly every document skip the walk over its events must
    never let a deep one through."""
    depth = _depth(text)
    assert depth <= sum(map(text.count, "-?:[{"))
    longest_indent = max((len(run) for run in re.findall(" +", text)), default=0)
    assert depth <= yamlload._levels_opened_by_indicators(text) + 2 * (longest_indent + 1)


@pytest.mark.parametrize("shape", sorted(_DEEP))
def test_nothing_past_the_limit_passes_for_shallow(shape: str) -> None:
    assert not yamlload._surely_shallow(_DEEP[shape](MAX_DEPTH + 1))


# --- merge keys and aliases -------------------------------------------------------


def _merge_bomb(levels: int, width: int = 9) -> str:
    lines = ["m0: &m0 {" + ", ".join(f"k{index}: {index}" for index in range(width)) + "}"]
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*m{level - 1}"] * width)
        lines.append(f"m{level}: &m{level}\n  <<: [{aliases}]")
    return "\n".join(lines) + "\n"


def _alias_bomb(levels: int, width: int = 9) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _hostile_front(name: str) -> str:
    return (hostile.CORPUS / name).read_text(encoding="utf-8").split("---\n")[1]


MERGED_TOO_MUCH = "merge keys ('<<') copy in too many entries"
REPEATED_TOO_MUCH = "aliases ('*') repeat too many values"
BOMBS = {
    "merge bomb (corpus)": (_hostile_front("reject-merge-key-bomb.txt"), MERGED_TOO_MUCH),
    "merge bomb, 60 levels": (_merge_bomb(60), MERGED_TOO_MUCH),
    "billion laughs (corpus)": (_hostile_front("reject-billion-laughs.txt"), REPEATED_TOO_MUCH),
    "alias bomb, 60 levels": (_alias_bomb(60), REPEATED_TOO_MUCH),
    "alias bomb, 60 levels of 2": (_alias_bomb(60, width=2), REPEATED_TOO_MUCH),
    "aliases within merges": (
        _alias_bomb(4)
        + "m: &m {k: *l4}\nn: &n {<<: [*m, *m]}\no: ["
        + ", ".join(["*n"] * 20)
        + "]\n",
        REPEATED_TOO_MUCH,
    ),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_bomb_is_refused_before_anything_is_constructed(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, expected = BOMBS[name]
    visited: list[int] = []
    copied: list[int] = []
    children, merges = yamlload._children, yamlload._Merges

    def count_visits(node: Node, applied: Any) -> Iterator[Node]:
        visited.append(id(node))
        return children(node, applied)

    class CountedMerges(merges):  # type: ignore[misc,valid-type]
        def _flatten(self, node: MappingNode) -> None:
            before = len(node.value)
            try:
                super()._flatten(node)
            finally:
                copied.append(len(node.value) - before)

    def constructed(*_args: object) -> None:
        raise AssertionError("a refused document reached construction")

    monkeypatch.setattr(yamlload, "_children", count_visits)
    monkeypatch.setattr(yamlload, "_Merges", CountedMerges)
    monkeypatch.setattr(yamlload, "construct", constructed)
    for load in LOADS:
        visited.clear()
        copied.clear()
        with _unless_hung():
            refusal = reason(text, load)
        assert re.fullmatch(
            rf"invalid YAML at line \d+, column \d+: {re.escape(expected)}", refusal
        )
        assert len(visited) == len(set(visited)), "a node was walked more than once"
        assert sum(copied) <= MAX_MERGED_ENTRIES


def test_up_to_the_budgets_documents_load() -> None:
    defaults = "defaults: &d {" + ", ".join(f"s{index}: {index}" for index in range(20)) + "}\n"
    feeds = "".join(f"f{index}: {{<<: *d, name: feed {index}}}\n" for index in range(450))
    data = load_yaml(defaults + feeds)  # 9,000 merged entries
    assert data["f449"] == {**data["defaults"], "name": "feed 449"}
    assert sum(len(value) for value in data.values()) == 20 + 450 * 21

    hundred = "h: &h [" + ", ".join(["x"] * 99) + "]\n"
    repeated = "r: [" + ", ".join(["*h"] * (MAX_REPEATED_VALUES // 100 - 1)) + "]\n"
    data = load_yaml(hundred + repeated)  # 99,900 values repeated
    assert len(data["r"]) == MAX_REPEATED_VALUES // 100 - 1
    assert all(item is data["h"] for item in data["r"])  # one object, as before

    aliased = load_seed_yaml(_hostile_front("repair-aliased-topics.txt"))
    assert set(aliased["topics"]) == {"AI"}


def test_a_long_chain_of_merges_is_applied_without_recursion() -> None:
    chain = "m0: &m0 {a: 1}\n" + "".join(
        f"m{index}: &m{index} {{<<: *m{index - 1}}}\n" for index in range(1, 5000)
    )
    assert load_yaml(chain)["m4999"] == {"a": 1}


# The merge key spelled every way YAML allows, including those the check for
# merges on the raw text (``_may_merge``) must not miss.
_SPELLINGS = {
    "plain": "<<",
    "!!merge": "!!merge x",
    "verbatim": "!<tag:yaml.org,2002:merge> x",
    "escaped": "!!m%65rge x",
    "%TAG handle": "!m!merge x",
    "%TAG split": "!n!rge x",
}
_DIRECTIVES = "%TAG !m! tag:yaml.org,2002:\n%TAG !n! tag:yaml.org,2002:me\n---\n"


@pytest.mark.parametrize("spelling", sorted(_SPELLINGS))
def test_merge_keys_are_applied_as_yaml_says_however_spelled(spelling: str) -> None:
    key = _SPELLINGS[spelling]
    document = (
        "x: &x {a: from x, b: from x}\n"
        "y: &y {a: from y, c: from y}\n"
        f"t: {{{key}: [*x, *y], b: own}}\n"
    )
    if "!m!" in key or "!n!" in key:
        document = _DIRECTIVES + document
    for load in LOADS:
        # Own keys win over merged ones; of merged mappings, the first listed.
        assert load(document)["t"] == {"a": "from x", "b": "own", "c": "from y"}


def test_later_merge_keys_win_over_earlier_ones() -> None:
    document = "x: &x {a: from x}\ny: &y {a: from y}\nt:\n  <<: *x\n  <<: *y\n"
    assert load_yaml(document)["t"] == {"a": "from y"}  # as PyYAML always did


def test_a_merge_into_a_mapping_that_holds_the_merged_one_is_read() -> None:
    data = load_yaml("a: &a {k: {<<: *a}}")
    inner = data["a"]["k"]
    assert inner == {"k": inner}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("a: &a {<<: *a}", "at line 1, column 4: merge keys ('<<') merge a mapping into itself"),
        (
            "m: {<<: text}",
            "at line 1, column 9: a merge key ('<<') must name a mapping or a list of mappings",
        ),
        (
            "x: &x {a: 1}\nm: {<<: [*x, text]}",
            "at line 2, column 14: a merge key ('<<') must name a mapping or a list of mappings",
        ),
    ],
)
def test_merge_keys_that_cannot_be_applied_are_refused(document: str, expected: str) -> None:
    for load in LOADS:
        assert reason(document, load) == f"invalid YAML {expected}"


def _tags_and_repeats(root: Node) -> tuple[set[str], bool]:
    tags: set[str] = set()
    seen: set[int] = set()
    repeated = False
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            repeated = True
            continue
        seen.add(id(node))
        tags.add(node.tag)
        if isinstance(node, MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node.value, list):
            stack.extend(node.value)
    return tags, repeated


@given(yamlish | _dumped | st.text(st.sampled_from("&*ab:[]{},?!<>% \n-"), max_size=30))
@example("&a x")
@example("[?&a x, *a]")
@example("{k:&a x, j: *a}")
@example("- &a x\n- *a")
@example("k:\t&a x\nj: *a")
@example("{!!merge k: {a: 1}}")
@example("%TAG !m! tag:yaml.org,2002:me\n--- {!m!rge k: {a: 1}}")
def test_the_cheap_checks_for_aliases_and_merges_miss_none(text: str) -> None:
    """Documents they rule out skip the walk over their nodes, so they must
    not rule out one with a repeated node or a merge key."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return
    if root is None:
        return
    tags, repeated = _tags_and_repeats(root)
    assert yamlload._may_alias(text) or not repeated
    assert yamlload._may_merge(text) or "tag:yaml.org,2002:merge" not in tags


# --- reasons -----------------------------------------------------------------------

#: Every reason a document can get from YAML loading: the project's words only.
_OURS = {
    "unreadable YAML text (check quotes, escapes and indentation)",
    "misplaced YAML structure (check indentation, '-', ':' and brackets)",
    "an alias ('*') without its anchor ('&'), or an anchor used twice",
    "a value does not match its type",
    "more than one document",
    f"nested more than {MAX_DEPTH} levels deep",
    MERGED_TOO_MUCH,
    REPEATED_TOO_MUCH,
    "merge keys ('<<') merge a mapping into itself",
    "a merge key ('<<') must name a mapping or a list of mappings",
    "unsupported YAML tag",
}
_REASON = re.compile(
    r"invalid YAML: a character YAML does not allow, at offset \d+"
    r"|invalid YAML(?: at line \d+, column \d+)?: (?P<problem>.*)"
)

#: Broken documents of every kind, most with the secret where PyYAML would quote it.
BROKEN = {
    "unclosed quote": (f'k: "{SECRET}: [\n', " at line 2, column 1: unreadable YAML text"),
    "bad escape": (f'k: "{SECRET} \\q"', " at line 1, column 27: unreadable YAML text"),
    "value after value": (f"k: {SECRET}: [\n", " at line 1, column 25: unreadable YAML text"),
    "unclosed flow": (f"k: [{SECRET}\n", " at line 2, column 1: misplaced YAML structure"),
    "undefined alias": (f"k: *{SECRET}", " at line 1, column 4: an alias ('*') without"),
    "anchor twice": (f"a: &{SECRET} 1\nb: &{SECRET} 2", " at line 2, column 4: an alias ('*')"),
    "unknown tag": (f"k: !{SECRET} x", " at line 1, column 4: unsupported YAML tag"),
    "python tag": (f"k: !!python/name:{SECRET} x", " at line 1, column 4: unsupported YAML tag"),
    "tag handle": (
        f"%TAG !e! tag:{SECRET},2000:\n---\nk: !e!x y",
        " at line 3, column 4: unsupported",
    ),
    "wrong tag": (f"k: !!int {SECRET}", ": a value does not match its type"),
    "empty int": ("k: !!int", ": a value does not match its type"),
    "empty float": ("k: !!float", ": a value does not match its type"),
    "map tag on text": (f"k: !!map {SECRET}", " at line 1, column 4: a value does not match"),
    "list as key": (f"? [{SECRET}]\n: v", " at line 1, column 3: a value does not match"),
    "two documents": (f"k: {SECRET}\n---\nk: 2", " at line 2, column 1: more than one document"),
    "control character": (f"k: {SECRET}\x07", ": a character YAML does not allow, at offset 24"),
    "deep": (_DEEP["flow sequence"](MAX_DEPTH + 1), f": nested more than {MAX_DEPTH} levels"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_reason_is_the_projects_own_and_quotes_nothing(name: str) -> None:
    document, expected = BROKEN[name]
    for load in LOADS:
        refusal = reason(document, load)
        match = _REASON.fullmatch(refusal)
        assert match is not None, refusal
        assert match["problem"] is None or match["problem"] in _OURS, refusal
        assert refusal.startswith(f"invalid YAML{expected}"), refusal
        assert SECRET[:8] not in refusal


#: A document outside the shape `feeds.seeds.yamlplain` reads (a flow list):
#: it is composed and constructed by PyYAML, the path these tests are about.
FULL_WAY = "k: [v]"


class _Surprise(Exception):
    """An error no PyYAML raises today: the defense must not depend on which."""


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("get_node", "invalid YAML: unreadable YAML text"),
        ("construct_document", "invalid YAML: a value does not match its type"),
    ],
)
def test_any_error_pyyaml_raises_is_refused_in_our_words(
    monkeypatch: pytest.MonkeyPatch, step: str, expected: str
) -> None:
    def surprise(*_args: Any) -> Any:
        raise _Surprise(SECRET)

    surprising = type("Surprising", (yamlload.Loader,), {step: surprise})
    monkeypatch.setattr(yamlload, "Loader", surprising)
    for load in LOADS:
        refusal = reason(FULL_WAY, load)
        assert refusal.startswith(expected), refusal
        assert SECRET[:8] not in refusal


@pytest.mark.parametrize("error", [MemoryError, KeyboardInterrupt])
def test_what_says_nothing_about_the_document_is_not_a_refusal(
    monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    """Running out of memory, or being interrupted, is no reason to reject a
    file: a rejection is remembered until the file changes."""

    def fail(*_args: Any) -> Any:
        raise error

    monkeypatch.setattr(yamlload, "construct", fail)
    for load in LOADS:
        with pytest.raises(error):
            load(FULL_WAY)


def test_pyyaml_errors_described_directly_keep_only_their_kind_and_place() -> None:
    mark = yaml.Mark("x", 10, 2, 4, "", 0)
    for kind, problem in [
        (yaml.scanner.ScannerError, "unreadable YAML text (check quotes, escapes and indentation)"),
        (yaml.constructor.ConstructorError, "a value does not match its type"),
        (yaml.MarkedYAMLError, None),
    ]:
        error = kind("while doing something with " + SECRET, mark, f"found {SECRET}", mark)
        described = describe_yaml_error(error)
        assert described == "invalid YAML at line 3, column 5" + (f": {problem}" if problem else "")
    assert describe_yaml_error(yaml.YAMLError(SECRET)) == "invalid YAML"
