"""The PyYAML behaviour feeds relies on that PyYAML does not document.

PyYAML documents ``yaml.parse``, ``Loader(stream)`` with ``check_node`` and
``get_node``, the node and event classes, and ``add_implicit_resolver``;
``feeds.seeds.yamlload`` keeps to those for every check it makes. What is here is
not promised: the methods a loader calls on itself (``resolve``,
``construct_object``, ``construct_mapping``) and ``construct_document``,
which turns a composed node into Python objects and has no documented
equivalent; and, for ``feeds.seeds.yamlplain``, which reads plain scalars
without a parser, ``resolve`` called on a loader given no document and the
tables it resolves by (``yaml_implicit_resolvers``, keyed by first
character, ``yaml_path_resolvers`` and ``DEFAULT_SCALAR_TAG``).
``tests/compat/test_pyyaml.py`` fails, naming the behaviour, when a PyYAML
release changes one of them.

Nothing here defends against hostile input: nesting, aliases and merge keys
are checked by ``feeds.seeds.yamlload`` on events and nodes before anything here
runs (and ``feeds.seeds.yamlplain`` reads no document that has any of them),
so a change in PyYAML can slow loading down but not let a bomb through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_STR = "tag:yaml.org,2002:str"
#: The YAML 1.1 "value key" (`=`): PyYAML reads it as the text "=".
_VALUE = "tag:yaml.org,2002:value"

#: Plain scalars remembered per loader class, and the longest remembered: a
#: bound for hostile input (past it the table starts over).
_CACHED_SCALARS = 4096
_CACHED_SCALAR_LENGTH = 100


class FastLoader(_BaseLoader):
    """PyYAML's safe loader with shortcuts for text, which is most of a seed.

    Every shortcut gives what PyYAML's own path gives; if PyYAML stops taking
    one, loading is slower and the same.
    """

    #: The tag each short plain scalar resolved to (see ``resolve``).
    _plain_tags: dict[str, str] = {}  # noqa: RUF012 - replaced per class, never shared
    #: What ``feeds.seeds.yamlplain`` read short scalars as (see ``plain_values``).
    _plain_values: dict[str, Any] = {}  # noqa: RUF012 - replaced per class, never shared

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_tags = {}  # each class resolves by its own resolvers
        cls._plain_values = {}

    @classmethod
    def add_implicit_resolver(cls, tag: str, regexp: re.Pattern[str], first: Any) -> None:
        super().add_implicit_resolver(tag, regexp, first)
        cls._plain_tags = {}
        cls._plain_values = {}

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> Any:
        # The same few plain scalars (keys above all) come up in every seed;
        # PyYAML tries its regular expressions on each one, every time.
        if kind is not ScalarNode or not implicit[0] or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        tags = self._plain_tags
        tag = tags.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(value) <= _CACHED_SCALAR_LENGTH:
                if len(tags) >= _CACHED_SCALARS:
                    tags.clear()
                tags[value] = tag
        return tag

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # PyYAML's bookkeeping for text (cache, recursion check, constructor
        # lookup) ends in ``node.value`` anyway: a scalar cannot be recursive,
        # and an alias of one gives the very same str object either way.
        if node.tag == _STR and type(node) is ScalarNode:
            return node.value
        return super().construct_object(node, deep)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """PyYAML's ``SafeConstructor.construct_mapping``, with text keys and
        values taken as they are (see ``construct_object``).

        Merge keys are gone by now (``feeds.seeds.yamlload`` applies them to the
        nodes), so PyYAML's ``flatten_mapping`` is not called; it would only
        have turned `=` keys into text, which the key shortcut does.
        """
        if not isinstance(node, MappingNode):
            return super().construct_mapping(node, deep)  # PyYAML's error
        mapping = {}
        for key_node, value_node in node.value:
            if type(key_node) is ScalarNode and key_node.tag in (_STR, _VALUE):
                key = key_node.value
            else:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, Hashable):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        "found unhashable key",
                        key_node.start_mark,
                    )
            if value_node.tag == _STR and type(value_node) is ScalarNode:
                mapping[key] = value_node.value
            else:
                mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def construct(loader: Any, node: Node) -> Any:
    """The Python objects for ``node``, composed by ``loader`` (an instance).

    This is the step ``yaml.load`` takes after composing; PyYAML offers no
    documented way to take it on a node already in hand.
    """
    return loader.construct_document(node)


def plain_resolver(loader: type[Any]) -> Callable[[str], str] | None:
    """The tag ``loader`` resolves each plain scalar to (by its implicit
    resolvers, as it would while composing), or None when it resolves by
    the path to a node as well, which only composing knows."""
    if loader.yaml_path_resolvers:
        return None
    resolver = _resolver(loader)
    # The tables as they are now: PyYAML keeps the implicit resolvers by the
    # first character they match (None: any), and FastLoader remembers short
    # scalars per class (see ``resolve``) until a resolver is added.
    firsts = loader.yaml_implicit_resolvers
    text: str | None = None if None in firsts else loader.DEFAULT_SCALAR_TAG
    known: Callable[[str], str | None] = loader.__dict__.get("_plain_tags", {}).get

    def resolve(value: str) -> str:
        if text is not None and value[:1] not in firsts:
            return text  # as PyYAML's resolve finds: no resolver to try
        tag = known(value)
        if tag is not None:
            return tag
        resolved: str = resolver.resolve(ScalarNode, value, (True, False))
        return resolved

    return resolve


def plain_values(loader: type[Any]) -> dict[str, Any]:
    """A table to keep what scalars were read as, for as long as ``loader``
    resolves as it does now (a FastLoader's is emptied when a resolver is
    added); for any other loader, a new table each time."""
    values: dict[str, Any] | None = loader.__dict__.get("_plain_values")
    return {} if values is None else values


#: One loader of no document per class: resolving reads only the class's tables.
_RESOLVERS: dict[type[Any], Any] = {}


def _resolver(loader: type[Any]) -> Any:
    resolver = _RESOLVERS.get(loader)
    if resolver is None:
        resolver = _RESOLVERS[loader] = loader("")
    return resolver
