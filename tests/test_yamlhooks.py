"""What feeds.yamlhooks takes from PyYAML beyond its documentation.

Each test names the behaviour it needs, so a PyYAML release that changes one
fails here with a message saying what to rework, instead of loading quietly
slower.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

from feeds import yamlload
from feeds.reader import _FRONT_MATTER
from feeds.yamlhooks import FastLoader
from tests.conftest import REPO

_WHAT = f"PyYAML {yaml.__version__}"
_DOCUMENT = "a: text\nb: [1, two, {c: 3.5, d: null}]\ne: {f: true}\n=: value\ng: &g {h: i}\nj: *g\n"


def _seed_fronts() -> list[str]:
    paths = sorted((REPO / "seeds").glob("*.txt"))
    return [_FRONT_MATTER.split(path.read_text(encoding="utf-8-sig"))[0] for path in paths]


def _load(loader: type[Any], text: str) -> Any:
    return yaml.load(text, Loader=loader)


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
    """With the shortcuts and without: the same objects."""

    class Plain(FastLoader.__bases__[0]):  # type: ignore[misc,name-defined]
        pass

    Plain.yaml_implicit_resolvers = yamlload.Loader.yaml_implicit_resolvers
    documents = [*_seed_fronts(), _DOCUMENT, "k: !!set {a, b}", "k: !!omap [a: 1, b: 2]"]
    for document in documents:
        shortcut, plain = _load(yamlload.Loader, document), _load(Plain, document)
        assert shortcut == plain
        assert repr(shortcut) == repr(plain)  # the same types and order as well
