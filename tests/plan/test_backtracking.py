"""Seed text and file names against the project's own expressions: no input a
seed can hold makes one of them backtrack for long (custom feeds' expressions
are in tests/plan/test_custom_patterns.py).

Each case runs a real `feeds build` whose work would take minutes with the
backtracking behaviour; the timeout only keeps a regression from hanging the
suite.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from feeds.seeds import text
from tests.conftest import seed_text
from tests.daemon_harness import TIMEOUT
from tests.plan.test_custom_patterns import run_in_own_group

#: Joiners and spaces that never reach the end of the value: with the old
#: edge-trimming expression (`[\u200c\u200d\s]+$`) every one of them started
#: a run scanned to its end, so the cost grew with the square of the length.
_JOINER_RUN = "\u200c " * 40_000


def test_long_runs_of_joiners_and_spaces_are_cleaned_in_linear_time(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    topics = tuple(f"t{n}{_JOINER_RUN}x" for n in range(3))
    (seeds / "joiners.txt").write_text(
        seed_text(
            title=f"a{_JOINER_RUN}b",
            topics=topics,
            extra=f"excerpt: {json.dumps('c' + _JOINER_RUN + 'd')}\n",
        ),
        encoding="utf-8",
    )
    config = tmp_path / "feeds.yaml"
    config.write_text("seeds: seeds\noutput: output\n")

    done = run_in_own_group(
        [sys.executable, "-m", "feeds", "build", "--config", str(config)], timeout=TIMEOUT * 3
    )

    assert done.returncode == 0, done.stderr
    item = json.loads((tmp_path / "output" / "all.json").read_text())["items"][0]
    assert item["title"].startswith("a\u200c \u200c")
    assert len(item["tags"]) == 3


def test_many_stars_in_the_file_patterns_against_a_long_file_name(tmp_path: Path) -> None:
    # fnmatch makes each `*` an atomic group, so a name that almost matches
    # fails at once instead of trying every way to split it.
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / ("a" * 250)).write_text(seed_text(), encoding="utf-8")
    (seeds / ("a" * 200 + "b")).write_text(seed_text(link="https://e.org/b"), encoding="utf-8")
    config = tmp_path / "feeds.yaml"
    config.write_text(f"seeds: seeds\noutput: output\npatterns: [{'*a' * 30 + '*b'!r}]\n")

    done = run_in_own_group(
        [sys.executable, "-m", "feeds", "build", "--config", str(config)], timeout=TIMEOUT * 3
    )

    assert done.returncode == 0, done.stderr
    items = json.loads((tmp_path / "output" / "all.json").read_text())["items"]
    assert [item["url"] for item in items] == ["https://e.org/b"]


def test_edge_trimming_is_what_the_expression_did() -> None:
    old = re.compile("^[\u200c\u200d\\s]+|[\u200c\u200d\\s]+$")
    for value in ("\u200c a \u200d", " \u200d\u200c x", "x\u200c \u200d ", "a\u200cb", " "):
        assert text.clean_line(value) == old.sub("", re.sub(r"\s+", " ", value))
