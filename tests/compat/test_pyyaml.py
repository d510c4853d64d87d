"""What feeds.compat.pyyaml takes from PyYAML beyond its documentation.

Each test names the behaviour it needs, so a PyYAML release that changes one
fails here with a message saying what to rework, instead of loading quietly
slower (or not at all).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

from feeds.compat.pyyaml import FastLoader, construct, plain_resolver
from feeds.seeds import yamlload
from feeds.seeds.reader import _FRONT_MATTER
from tests.conftest import REPO

_WHAT = f"PyYAML {yaml.__version__}"
_DOCUMENT = "a: text\nb: [1, two, {c: 3.5, d: null}]\ne: {f: true}\n=: value\ng: &g {h: i}\nj: *g\n"


def _seed_fronts() -> list[str]:
    paths = sorted((REPO / "seeds").glob("*.txt"))
    return [_FRONT_MATTER.split(path.read_text(encoding="utf-8-sig"))[0] for path in paths]


def _load(loader: type[Any], text: str) -> Any:
    parser = loader(text)
    assert parser.check_node()
    return construct(parser, parser.get_node())


def test_a_composed_node_is_constructed_by_construct_document() -> None:
    assert hasattr(FastLoader, "construct_document"), (
        f"{_WHAT} has no construct_document: feeds.compat.pyyaml.construct needs another "
        "way to turn a composed node into Python objects"
    )
    assert _load(yamlload.Loader, _DOCUMENT)["b"][2] == {"c": 3.5, "d": None}


def test_plain_scalars_are_resolved_through_loader_resolve() -> None:
    class Fresh(yamlload.Loader):
        pass

    _load(Fresh, _DOCUMENT)
    assert Fresh._plain_tags.get("text") == "tag:yaml.org,2002:str", (
        f"{_WHAT} no longer resolves plain scalars through Loader.resolve(kind, value, "
        "implicit): FastLoader's cache of resolved scalars is never used (loading is "
        "slower, not wrong); rework or drop it"
    )


def test_nodes_and_mappings_are_constructed_through_the_loaders_methods() -> None:
    calls = {"construct_object": 0, "construct_mapping": 0}

    class Counting(yamlload.Loader):
        def construct_object(self, node: Node, deep: bool = False) -> Any:
            calls["construct_object"] += 1
            return super().construct_object(node, deep)

        def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
            calls["construct_mapping"] += 1
            return super().construct_mapping(node, deep)

    _load(Counting, _DOCUMENT)
    assert calls["construct_object"] >= 10, (
        f"{_WHAT} no longer constructs each node through Loader.construct_object: "
        "FastLoader's shortcut for text is never taken (slower, not wrong)"
    )
    assert calls["construct_mapping"] >= 4, (
        f"{_WHAT}'s mapping constructor no longer calls Loader.construct_mapping: "
        "FastLoader's shortcut for mappings is never taken (slower, not wrong)"
    )


def test_the_shortcuts_give_what_pyyaml_gives() -> None:
    """With the shortcuts and without: the same objects, for documents without
    merge keys (which feeds.seeds.yamlload applies before PyYAML sees them)."""

    class Plain(FastLoader.__bases__[0]):  # type: ignore[misc,name-defined]
        pass

    Plain.yaml_implicit_resolvers = yamlload.Loader.yaml_implicit_resolvers
    documents = [*_seed_fronts(), _DOCUMENT, "k: !!set {a, b}", "k: !!omap [a: 1, b: 2]"]
    for document in documents:
        shortcut, plain = _load(yamlload.Loader, document), _load(Plain, document)
        assert shortcut == plain
        assert repr(shortcut) == repr(plain)  # the same types and order as well


def test_merge_keys_are_left_to_feeds() -> None:
    """FastLoader does not expand merge keys: a document loaded around
    feeds.seeds.yamlload would fail loudly rather than be merged by PyYAML."""
    parser = yamlload.Loader("t: {<<: {a: 1}}")
    assert parser.check_node()
    node = parser.get_node()
    assert node is not None
    try:
        construct(parser, node)
    except yaml.constructor.ConstructorError:
        pass
    else:
        raise AssertionError("a merge key reached PyYAML's constructor and was expanded")


_PLAIN = [
    "text", "", "~", "null", "true", "no", "On", "1", "-1", "012", "0x1F", "1_000", "1:20",
    "1.5", ".inf", ".nan", "<<", "=", "2021-06-15T15:20:00Z", "2021-06-15", "t" * 150,
]  # fmt: skip


def _composed_tags(loader: type[Any]) -> list[str]:
    parser = loader("[" + ", ".join(value or "''" for value in _PLAIN) + "]")
    assert parser.check_node()
    items = parser.get_node().value
    return [item.tag if value else "" for item, value in zip(items, _PLAIN, strict=True)]


def test_a_loader_of_no_document_resolves_plain_scalars_as_composing_does() -> None:
    seed_loader = yamlload._plain_12(yamlload.Loader)
    for loader in (yamlload.Loader, seed_loader, yaml.SafeLoader):
        resolve = plain_resolver(loader)
        assert resolve is not None
        resolved = [resolve(value) if value else "" for value in _PLAIN]
        assert resolved == _composed_tags(loader), (
            f"{_WHAT} resolves plain scalars differently through Loader.resolve on a loader "
            "of no document, or keeps its implicit resolvers otherwise than in "
            "yaml_implicit_resolvers by first character: feeds.seeds.yamlplain would read "
            "values wrongly; rework feeds.compat.pyyaml.plain_resolver"
        )
        empty = loader("")
        assert resolve("") == empty.resolve(yaml.ScalarNode, "", (True, False))


def test_a_resolver_added_later_is_heeded() -> None:
    class Fresh(yamlload.Loader):
        pass

    resolve = plain_resolver(Fresh)
    assert resolve is not None
    assert resolve("text") == "tag:yaml.org,2002:str"
    Fresh.add_implicit_resolver("tag:example.org,2024:word", re.compile("^text$"), ["t"])
    resolve = plain_resolver(Fresh)
    assert resolve is not None
    assert resolve("text") == "tag:example.org,2024:word"


def test_a_loader_resolving_by_path_is_not_resolved_plainly() -> None:
    class ByPath(yamlload.Loader):
        pass

    ByPath.add_path_resolver("tag:yaml.org,2002:str", ["k"], yaml.ScalarNode)
    assert plain_resolver(ByPath) is None
