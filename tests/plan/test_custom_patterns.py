"""Custom feeds' include/exclude expressions: operator's patterns on seeds' text.

An expression that backtracks without end in Python's ``re`` must neither stop
a build nor freeze the daemon; one RE2 cannot take is refused when the config
is loaded, naming the custom feed and the expression, in our own words.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from feeds.build.oneshot import build
from feeds.config import Config, load_config
from feeds.errors import ConfigError
from tests.conftest import seed_text
from tests.daemon_harness import TIMEOUT, RunningDaemon, http_get, titles, wait_for

ConfigFactory = Callable[..., Config]

#: With Python's re, `(a+)+$` against these titles takes about 2**n steps.
HOSTILE_TITLE = "a" * 40 + "!"
MATCHING_TITLE = "a" * 40
HOSTILE_FEED = """\
custom_feeds:
  - name: hostile
    include: ["(a+)+$"]
"""


def _site(root: Path, extra: str = "") -> Path:
    (root / "seeds").mkdir()
    config = root / "feeds.yaml"
    config.write_text(
        "seeds: seeds\noutput: output\ndebounce_ms: 50\nrescan_interval: 3600\n"
        + HOSTILE_FEED
        + extra
    )
    return config


def _write(root: Path, name: str, title: str) -> None:
    (root / "seeds" / name).write_text(seed_text(title=title, link=f"https://e.org/{name}"))


def run_in_own_group(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Runs ``args``; on timeout kills the whole process group (a build may fork)."""
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{' '.join(args[3:5])} did not finish within {timeout:.0f} s")
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


# --- hostile text meets a backtracking expression ---------------------------


def test_a_title_that_makes_the_expression_backtrack_does_not_stop_a_build(
    tmp_path: Path,
) -> None:
    config = _site(tmp_path)
    _write(tmp_path, "hostile.txt", HOSTILE_TITLE)
    _write(tmp_path, "matching.txt", MATCHING_TITLE)

    done = run_in_own_group(
        [sys.executable, "-m", "feeds", "build", "--config", str(config)], timeout=TIMEOUT * 3
    )

    assert done.returncode == 0, done.stderr
    custom = json.loads((tmp_path / "output" / "custom" / "hostile.json").read_text())
    assert [item["title"] for item in custom["items"]] == [MATCHING_TITLE]
    assert {HOSTILE_TITLE, MATCHING_TITLE} <= set(titles(tmp_path / "output" / "all.json"))


def test_the_daemon_keeps_serving_and_stops_on_sigterm_after_a_hostile_title(
    tmp_path: Path,
) -> None:
    config = _site(tmp_path)
    _write(tmp_path, "first.txt", "First")
    daemon = RunningDaemon(config)
    try:
        daemon.wait_ready()
        _write(tmp_path, "hostile.txt", HOSTILE_TITLE)
        _write(tmp_path, "matching.txt", MATCHING_TITLE)
        wait_for(
            lambda: HOSTILE_TITLE in titles(tmp_path / "output" / "all.json"),
            what="the hostile article published",
        )
        status, _, body = http_get(daemon.url("healthz"))
        assert status == 200, body
        assert json.loads(body)["ok"] is True
        custom = tmp_path / "output" / "custom" / "hostile.json"
        assert titles(custom) == [MATCHING_TITLE]
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=TIMEOUT) == 0, daemon.log
    finally:
        daemon.stop()
    assert "Traceback" not in daemon.log


# --- refused when the config is loaded --------------------------------------


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(police)\s+\1", r"backreferences such as \1 are not supported"),
        ("(?P<w>cop)(?P=w)", "backreferences such as (?P=name) are not supported"),
        ("police(?= ban)", "look-ahead (?=...) is not supported"),
        ("police(?! ban)", "look-ahead (?!...) is not supported"),
        ("(?<=the )police", "look-behind (?<=...) is not supported"),
        ("(?<!the )police", "look-behind (?<!...) is not supported"),
        ("(?>police)", "atomic groups (?>...) are not supported"),
        ("(a)?(?(1)b|c)", "conditional groups (?(...)...) are not supported"),
        ("polic(?#comment)e", "comments (?#...) are not supported"),
        ("a*+", "possessive repetitions such as *+ are not supported"),
        ("(?x) police", "the inline flag (?x) is not supported"),
        ("a{2000}", "a repetition count over 1000"),
        (r"\pL{1000}", "it is too large to compile"),
        ("(police", "a ( is not closed"),
        ("[police", "a [ is not closed"),
        ("*police", "* has nothing to repeat"),
        ("[z-a]", "z-a is not a valid range or class"),
        ("police\\", "it ends with a lone backslash"),
        (r"\N{NO SUCH CHARACTER}", r"\N{NO SUCH CHARACTER} names no Unicode character"),
    ],
)
def test_an_expression_re2_cannot_take_is_refused_naming_the_feed_and_index(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], pattern: str, reason: str
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "custom_feeds:\n"
        "  - name: fine\n"
        "    include: [police]\n"
        "  - name: picky\n"
        f"    exclude: [ok, {json.dumps(pattern)}]\n"
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    message = str(caught.value)
    prefix = f"{path}: custom_feeds.1.exclude: custom feed 'picky': exclude[1] {pattern!r}: "
    assert message.startswith(prefix + reason), message
    assert "\n" not in message
    # Our words, never the matching library's, and nothing printed by it.
    for library_words in ("invalid perl operator", "invalid escape", "bad repetition", "missing"):
        assert library_words not in message
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_a_long_refused_expression_is_shown_cut(tmp_path: Path) -> None:
    pattern = "police" * 20 + "(?=x)"
    path = tmp_path / "feeds.yaml"
    path.write_text(f"custom_feeds:\n  - name: long\n    include: [{json.dumps(pattern)}]\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert f"include[0] {pattern[:60]!r}…: look-ahead" in str(caught.value)


# --- what an expression means ------------------------------------------------


SEEDS = {
    "police.txt": ("Police ban facial recognition", "Cities vote on cameras"),
    "cafe.txt": ("CAFÉ owners meet", ""),
    "robots.txt": ("Robots learn to walk", "The lab in Zürich"),
}


def _picked(
    filters: str,
    write_seed: Callable[..., Path],
    output: Path,
    make_config: ConfigFactory,
) -> set[str]:
    for name, (title, excerpt) in SEEDS.items():
        extra = f"excerpt: {json.dumps(excerpt)}\n" if excerpt else ""
        write_seed(name, title=title, link=f"https://e.org/{name}", extra=extra)
    build(make_config(f"custom_feeds:\n  - name: picked\n    {filters}\n"))
    document = json.loads((output / "custom" / "picked.json").read_text())
    return {item["url"].removeprefix("https://e.org/") for item in document["items"]}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # Case-insensitive, beyond ASCII too.
        ("include: ['café']", {"cafe.txt"}),
        ("include: ['ZÜRICH']", {"robots.txt"}),
        # Title and summary, one line each, in that order.
        ("include: ['^police']", {"police.txt"}),
        ("include: ['cameras$']", {"police.txt"}),
        ("include: ['recognition\\ncities']", {"police.txt"}),
        # `$` and `\\Z` end the title when there is no summary.
        ("include: ['meet$']", {"cafe.txt"}),
        ("include: ['meet\\Z']", {"cafe.txt"}),
        # Python spellings that RE2 spells otherwise.
        ("include: ['caf\\u00e9']", {"cafe.txt"}),
        ("include: ['Z\\N{LATIN SMALL LETTER U WITH DIAERESIS}rich']", {"robots.txt"}),
        ("include: ['^x{,3}robots']", {"robots.txt"}),
        # A hostile expression on harmless text, in-process.
        ("include: ['(a+)+$', '(x+x+)+y', 'walk']", {"robots.txt"}),
        ("exclude: ['(p|po|pol)*lice']", {"cafe.txt", "robots.txt"}),
    ],
)
def test_expressions_keep_their_documented_meaning(
    filters: str,
    expected: set[str],
    write_seed: Callable[..., Path],
    output: Path,
    make_config: ConfigFactory,
) -> None:
    assert _picked(filters, write_seed, output, make_config) == expected


def test_the_bundled_example_expression_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("custom_feeds:\n  - name: police\n    include: ['police|cops']\n")
    assert load_config(path).custom_feeds[0].include == ("police|cops",)
