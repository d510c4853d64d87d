"""YAML loading shared by the config and the article reader.

Uses libyaml's ``CSafeLoader`` when present (about ten times faster than the
pure-Python loader). Timestamps are *not* resolved by YAML: the reader parses
dates itself so that quoted and unquoted dates behave the same and a bad date
gets a clear reason.
"""

from __future__ import annotations

from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class Loader(_BaseLoader):
    """Safe loader without implicit timestamps."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    """Parses one YAML document. Raises ``yaml.YAMLError`` and nothing else.

    PyYAML's constructors raise plain Python errors for a value that does not
    fit its tag (``!!int abc``) or a number too long for ``int()``, and their
    text quotes the value, which may be a secret: replace them with a
    ``YAMLError`` that says what is wrong without the value.
    """
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader
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
