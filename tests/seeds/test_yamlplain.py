"""The usual front matter, read without PyYAML's node graph, reads exactly as
PyYAML reads it; anything else is left to the full loader.

The oracle is `yamlload.load_composed`, the full way (PyYAML's parser, our
checks, PyYAML's constructors): whenever `load_plain` gives values, they are
the values, types and order the full way gives for the same document and
loader; whenever the full way refuses a document, `load_plain` gives None.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from bench.corpus import article as corpus_article
from feeds.errors import ArticleError
from feeds.seeds import reader, yamlload
from feeds.seeds.reader import _FRONT_MATTER, SEED_FIELDS
from feeds.seeds.yamlplain import MAX_LEVELS, load_plain
from tests import hostile
from tests.conftest import SAMPLES
from tests.seeds.test_yamlload import _dumped
from tests.test_hostile_properties import json_like, yamlish


class PurePythonLoader(yaml.SafeLoader):
    """What feeds falls back to without libyaml (resolving as `yamlload.Loader`)."""


PurePythonLoader.yaml_implicit_resolvers = yamlload.Loader.yaml_implicit_resolvers

SEED_LOADER = yamlload._plain_12(yamlload.Loader)
#: Each loader the plain path may stand in for, with the fields it keeps.
LOADERS: list[tuple[type[Any], frozenset[str] | None]] = [
    (SEED_LOADER, SEED_FIELDS),
    (SEED_LOADER, None),
    (yamlload.Loader, None),  # the config's: YAML 1.1 booleans and numbers
    (yamlload._plain_12(PurePythonLoader), SEED_FIELDS),
]


def full(text: str, loader: type[Any], fields: frozenset[str] | None) -> str:
    try:
        return repr(yamlload.load_composed(text, loader, fields))
    except yaml.YAMLError:
        return "refused"


def assert_plain_reads_as_composed(text: str) -> None:
    for loader, fields in LOADERS:
        plain = load_plain(text, loader, fields)
        if plain is not None:
            assert repr(plain) == full(text, loader, fields), (text, loader, fields)


# --- generated documents --------------------------------------------------------

#: Keys: the real fields, words YAML reads as something other than text, and
#: keys outside the shape.
_KEYS = st.sampled_from(
    [
        "title", "topics", "provider", "name", "secured", "related", "a", "_k", "x1",
        "true", "null", "Null", "NO", "on", "1", "a b", "<<", "=", "? a", '"q"', "&a k",
    ]
)  # fmt: skip
#: Scalars as written: plain, quoted, escaped, odd numbers, indicators,
#: comments, and what starts anything other than a scalar.
_ODD = [
    "news", "Topic 04", "2020-01-27T08:44:00Z", "https://x.org/a?b=1&c=2", "a#b", "a #b",
    "a: b", "a:b", "x:", "x :", "C#", "-1", "-x", "- x", "-", "--", "---", "...", "+1", "0",
    "-0", "012", "0o17", "0x1F", "1_000", "1:20", "1.5", "-1.5e+3", "1.", ".5", "1e5",
    ".inf", "-.inf", ".nan", "yes", "no", "on", "true", "False", "TRUE", "~", "null", "NULL",
    "<<", "=", "'it''s'", "'a' # c", "'a'#c", "'open", '"a" # c', '"a"#c', '"open',
    '"\\u00e9\\t\\"\\\\\\/"', '"\\x41\\N\\_\\L\\P\\0\\e"', '"\\ud800"', '"\\U0010ffff"',
    '"\\U00110000"', '"\\q"', '"\\\'"', "&a x", "*a", "!!str x", "!!int 1", "!x y", "[a]",
    "{a: b}", "|", ">-", "%x", "@x", "`x", "?", "? x", ":x", ",x", "]", "#c", "a  b", "\xa0x",
    "x\xa0#y", "é", "\u200d", "\ufeff", "\t", "x\ty", "\r", "\x85", "\u2028", "\x01", "a ",
    "1" * 60, "9" * 5000,
]  # fmt: skip
_scalar = st.sampled_from(_ODD) | st.text(max_size=12) | st.text(max_size=12).map(json.dumps)
_indent = st.sampled_from(["", "", "", " ", "  ", "   ", "    ", "      "])
_line = st.one_of(
    st.tuples(_indent, _KEYS, _scalar).map(lambda p: f"{p[0]}{p[1]}: {p[2]}"),
    st.tuples(_indent, _KEYS).map(lambda p: f"{p[0]}{p[1]}:"),
    st.tuples(_indent, _scalar).map(lambda p: f"{p[0]}- {p[1]}"),
    st.tuples(_indent, _KEYS, _scalar).map(lambda p: f"{p[0]}- {p[1]}: {p[2]}"),
    st.tuples(_indent, _KEYS).map(lambda p: f"{p[0]}-   {p[1]}:"),
    _indent.map(lambda indent: f"{indent}-"),
    st.tuples(_indent, _scalar).map(lambda p: f"{p[0]}{p[1]}"),
    st.sampled_from(["", "  ", "# note", "   # note", "key:  # note", "- # note"]),
)
#: Line by line: mostly the shape, often just outside it.
lines = st.lists(_line, min_size=1, max_size=14).map("\n".join)


def _seed_fronts() -> list[str]:
    rng = random.Random(17)
    fronts = [path.read_text(encoding="utf-8-sig") for path in sorted(SAMPLES.glob("*.txt"))]
    fronts += [corpus_article(rng, index) for index in range(20)]
    return [_FRONT_MATTER.split(front)[0] for front in fronts]


SEED_FRONTS = _seed_fronts()


@st.composite
def mutated_seed(draw: st.DrawFn) -> str:
    """A real seed's front matter with a few lines moved, changed or added."""
    rows = draw(st.sampled_from(SEED_FRONTS)).split("\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(rows) - 1))
        change = draw(st.sampled_from(["indent", "outdent", "insert", "drop", "swap"]))
        if change == "indent":
            rows[at] = draw(st.sampled_from([" ", "  ", "- "])) + rows[at]
        elif change == "outdent":
            rows[at] = rows[at][draw(st.integers(1, 3)) :]
        elif change == "insert":
            rows.insert(at, draw(_line))
        elif change == "drop":
            del rows[at]
        else:
            rows[at] = rows[at].split(":")[0] + ": " + draw(_scalar)
    return "\n".join(rows)


@given(lines | mutated_seed() | yamlish | _dumped)
@example("k:\n- a\n- b\nc: 1")
@example("- k:\n  - a\n  b: 1")
@example("k:\n  - a\n  b: 1")
@example("k:\n-\n  a: 1\n- b")
@example("k:\n - a\n- b")
@example("a: 1\n  b: 2")
@example("  a: 1\nb: 2")
@example("a:\n  b\n")
@example("a: x\n  y")
@example("a: 1\na: 2")
@example("a:\n  b: 1\na: 2")
@example("title: t\nsecured: !secret x")
@example("title: t\nsecured: *undefined")
def test_what_is_read_plainly_is_what_pyyaml_reads(text: str) -> None:
    assert_plain_reads_as_composed(text)


@given(json_like)
def test_json_and_dumped_values_read_as_pyyaml_reads_them(value: Any) -> None:
    for flow in (False, None):
        for width in (80, 10_000):
            text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True, width=width)
            assert_plain_reads_as_composed(text)


def test_every_sample_and_benchmark_seed_is_read_plainly() -> None:
    """The shape is the one seeds have: were it not taken, reading would be
    as slow as before, and nothing else would say so."""
    for front in SEED_FRONTS:
        for loader, fields in LOADERS:
            plain = load_plain(front, loader, fields)
            assert plain is not None, front
            assert repr(plain) == full(front, loader, fields)


_SHAPES = {
    "a list at its key's indentation": "topics:\n- a\n- b\ntitle: t",
    "the same, in a list item": "related:\n  - topics:\n    - a\n    title: t\n  - title: u",
    "items left empty": "topics:\n  -\n  - # none\n  - a",
    "an item on the lines below its dash": "images:\n  -\n    url: u\n    width: 1",
    "a key left empty": "provider:\ntitle: t\nheat:",
    "comments": "# a seed\ntitle: t # the title\n  # aside\nheat: 1 # warm",
    "quotes and escapes": "title: 'it''s'\nexcerpt: \"caf\\u00e9 \\\"x\\\" a\\/b\"",
    "numbers and truth": "quality: -1.5\nheat: +3\npublished: True\nx: ~\ny: 0",
    "a mapping indented as a whole": "  title: t\n  provider:\n     name: n",
}


@pytest.mark.parametrize("name", sorted(_SHAPES))
def test_the_shape_is_read_plainly_in_all_its_forms(name: str) -> None:
    text = _SHAPES[name]
    for loader, fields in LOADERS:
        plain = load_plain(text, loader, fields)
        assert plain is not None, (name, loader)
        assert repr(plain) == full(text, loader, fields)


def test_what_was_remembered_is_forgotten_when_a_resolver_is_added() -> None:
    class Fresh(yamlload._plain_12(yamlload.Loader)):  # type: ignore[misc]
        pass

    assert load_plain("k: word", Fresh, None) == {"k": "word"}
    Fresh.add_implicit_resolver("tag:yaml.org,2002:null", re.compile("^word$"), ["w"])
    assert load_plain("k: word", Fresh, None) == {"k": None}
    assert yamlload.load_composed("k: word", Fresh, None) == {"k": None}


# --- what is never read here -------------------------------------------------------

_OUTSIDE = {
    "an anchor": "a: &x 1\nb: 2",
    "an alias": "a: 1\nb: *x",
    "an anchored mapping": "a: &x\n  b: 1",
    "a merge key": "a: 1\n<<: {b: 2}",
    "a tag": "a: !!str 1",
    "a local tag": "secured: !secret x",
    "a flow list": "a: [1, 2]",
    "a flow mapping": "a: {b: 1}",
    "a block scalar": "a: |\n  text",
    "a folded scalar": "a: >-\n  text",
    "a scalar over two lines": "a: some\n  text",
    "a quoted scalar over two lines": 'a: "some\n  text"',
    "a document marker": "---\na: 1",
    "a directive": "%YAML 1.1\n---\na: 1",
    "two documents": "a: 1\n---\nb: 2",
    "a tab": "a:\t1",
    "a carriage return": "a: 1\r\nb: 2",
    "a control character": "a: x\x01y",
    "a byte order mark": "\ufeffa: 1",
    "a list at the top": "- a\n- b",
    "a scalar at the top": "text",
    "nothing": "# only a comment\n",
    "a complex key": "? a\n: 1",
    "a quoted key": '"a": 1',
    "a key that is not text": "1: a\ntrue: b",
    "a number written oddly": "a: 1_000",
    "a surrogate escape": 'a: "\\ud83d\\ude00"',
}


@pytest.mark.parametrize("name", sorted(_OUTSIDE))
def test_what_is_outside_the_shape_is_left_to_the_full_loader(name: str) -> None:
    for loader, fields in LOADERS:
        assert load_plain(_OUTSIDE[name], loader, fields) is None


def test_nesting_past_a_few_levels_is_left_to_the_full_loader() -> None:
    def nested(levels: int) -> str:
        return "".join(f"{'  ' * level}k:\n" for level in range(levels)) + "  " * levels + "k: x"

    assert load_plain(nested(MAX_LEVELS - 1), SEED_LOADER, None) is not None
    assert load_plain(nested(MAX_LEVELS + 1), SEED_LOADER, None) is None
    deep = "- " * (yamlload.MAX_DEPTH + 1) + "x"
    assert load_plain(f"k:\n  {deep}", SEED_LOADER, None) is None


@pytest.mark.parametrize("name", sorted(path.name for path in hostile.CORPUS.glob("*.txt")))
def test_no_hostile_seed_that_needs_a_defense_is_read_plainly(name: str) -> None:
    """Bombs, tags and bad characters all go the full way, to its checks."""
    text = (hostile.CORPUS / name).read_bytes().decode("utf-8-sig", "surrogatepass")
    front = _FRONT_MATTER.split(text)[0]
    plain = load_plain(front, SEED_LOADER, SEED_FIELDS)
    if name.startswith(("reject-billion", "reject-merge", "repair-unread-merge", "warn-recursive")):
        assert plain is None
    if plain is not None:
        assert repr(plain) == full(front, SEED_LOADER, SEED_FIELDS)


# --- a whole seed, either way ------------------------------------------------------


@contextmanager
def _composed_only() -> Iterator[None]:
    with mock.patch.object(yamlload, "load_plain", return_value=None):
        yield


def _outcome(raw: bytes) -> str:
    try:
        reading = reader.parse_seed(raw, "x.txt", UTC)
    except ArticleError as error:
        return f"rejected: {error.reason}"
    return repr((reading.article, reading.warnings))


@given(
    st.one_of(
        (lines | mutated_seed() | yamlish).map(lambda front: f"---\n{front}\n---\n".encode()),
        st.sampled_from(SEED_FRONTS).map(lambda front: f"---\n{front}\n---\n".encode()),
        st.tuples(st.sampled_from(SEED_FRONTS), st.binary(min_size=1, max_size=4)).map(
            lambda pair: f"---\n{pair[0]}".encode() + pair[1] + b"\n---\n"
        ),
    )
)
@example(b"---\ntitle: caf\xe9\n---\n")  # not UTF-8
def test_a_seed_reads_the_same_either_way(raw: bytes) -> None:
    plain = _outcome(raw)
    with _composed_only():
        assert plain == _outcome(raw)
