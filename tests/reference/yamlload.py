"""YAML loading shared by the config and the article reader.

Uses libyaml's ``CSafeLoader`` when present (about ten times faster than the
pure-Python loader). Timestamps are *not* resolved by YAML: the reader parses
dates itself so that quoted and unquoted dates behave the same and a bad date
gets a clear reason.
"""

# Frozen copy of feeds/seeds/yamlload.py as of commit ec15e57: the reference for
# tests/seeds/test_read_sameness.py. Do not optimise or fix it.

from __future__ import annotations

import re
from functools import cache
from typing import Any

import yaml
from yaml.nodes import MappingNode, SequenceNode

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


#: Entries that merge keys (``<<``) may copy in one document. Each level of
#: merges can multiply the copies ("billion laughs" with ``<<: [*a, *a, ...]``):
#: seven levels cost PyYAML minutes, so the copying is counted and stopped.
MAX_MERGED_ENTRIES = 10_000


class Loader(_BaseLoader):
    """Safe loader without implicit timestamps, with a budget for merge keys."""

    _merged = 0

    def flatten_mapping(self, node: MappingNode) -> None:
        # Flatten what is merged first and count it: PyYAML's own pass then
        # finds nothing left to expand, so its copying stays within the budget.
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                continue
            merged = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for subnode in merged:
                if isinstance(subnode, MappingNode):
                    self.flatten_mapping(subnode)
                    self._merged += len(subnode.value)
                if self._merged > MAX_MERGED_ENTRIES:
                    raise yaml.constructor.ConstructorError(
                        None, None, "merge keys ('<<') copy in too many entries", node.start_mark
                    )
        super().flatten_mapping(node)


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
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


def load_seed_yaml(text: str) -> Any:
    """`load_yaml` for a seed's front matter: YAML 1.2 booleans and numbers."""
    return load_yaml(text, _plain_12(Loader))


def load_yaml(text: str, loader: type[Loader] | None = None) -> Any:
    """Parses one YAML document. Raises ``yaml.YAMLError`` and nothing else.

    PyYAML's constructors raise plain Python errors for a value that does not
    fit its tag (``!!int abc``) or a number too long for ``int()``, and their
    text quotes the value, which may be a secret: replace them with a
    ``YAMLError`` that says what is wrong without the value.
    """
    try:
        return yaml.load(text, Loader=loader or Loader)
    except yaml.YAMLError:
        raise
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        raise yaml.YAMLError("a value does not match its type") from None


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """A one-line reason with line and column, but never the offending text.

    PyYAML's own message quotes the line it choked on; in a seed file that line
    may be the ``secured`` secret, so only the position and the problem are kept.
    """
    if isinstance(error, yaml.reader.ReaderError):
        # The character itself may be anything; its position is what helps.
        return f"invalid YAML: a character YAML does not allow, at offset {error.position}"
    if isinstance(error, yaml.MarkedYAMLError):
        problem = error.problem or error.context or "invalid YAML"
        mark = error.problem_mark or error.context_mark
        if mark is not None:
            return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
        return f"invalid YAML: {problem}"
    detail = str(error) if type(error) is yaml.YAMLError else ""
    return f"invalid YAML: {detail}" if detail else "invalid YAML"
