"""YAML defenses and reasons, the same under every PyYAML (issue 12).

Each defense is checked for what matters: the document is refused in the
project's own words, and nothing deeper than the limit reaches a parser that
recurses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from feeds import yamlload
from feeds.yamlload import (
    MAX_DEPTH,
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
        monkeypatch.setattr("feeds.yamlload.Loader", PurePythonLoader)
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
        "ours; lower MAX_DEPTH in feeds/yamlload.py"
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


# --- reasons -----------------------------------------------------------------------

#: Every reason a document can get from YAML loading: the project's words only.
_OURS = {
    "unreadable YAML text (check quotes, escapes and indentation)",
    "misplaced YAML structure (check indentation, '-', ':' and brackets)",
    "a value does not match its type",
    "an alias ('*') without its anchor ('&'), an anchor used twice, or more than one document",
    f"nested more than {MAX_DEPTH} levels deep",
    "merge keys ('<<') copy in too many entries",
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
    "unknown tag": (f"k: !{SECRET} x", " at line 1, column 4: a value does not match its type"),
    "wrong tag": (f"k: !!int {SECRET}", ": a value does not match its type"),
    "map tag on text": (f"k: !!map {SECRET}", " at line 1, column 4: a value does not match"),
    "list as key": (f"? [{SECRET}]\n: v", " at line 1, column 3: a value does not match"),
    "deep": (_DEEP["flow sequence"](MAX_DEPTH + 1), f": nested more than {MAX_DEPTH} levels"),
    "control character": (f"k: {SECRET}\x07", ": a character YAML does not allow, at offset 24"),
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
