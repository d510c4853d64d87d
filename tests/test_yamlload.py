"""YAML reasons, the same under every PyYAML (issue 12)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from feeds.yamlload import (
    MAX_DEPTH,
    describe_yaml_error,
    load_seed_yaml,
    load_yaml,
)
from tests import hostile

SECRET = hostile.MARKER
LOADS: list[Callable[[str], Any]] = [load_seed_yaml, load_yaml]


def reason(text: str, load: Callable[[str], Any] = load_seed_yaml) -> str:
    with pytest.raises(yaml.YAMLError) as caught:
        load(text)
    return describe_yaml_error(caught.value)


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
