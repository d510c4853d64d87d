"""The hostile-input corpus through the reader, a real `feeds build` and a running daemon.

Each case in tests/data/hostile/manifest.yaml is repaired (it publishes, and
the manifest says to what), published with warnings (without the fields it
gets wrong, each named) or rejected with a named reason. None may stop a build
or the daemon, and the secret marker in every file never shows.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from feeds.errors import ArticleError, ArticleWarning, shown_path
from feeds.seeds.reader import Reading, ReadOptions, read_seed
from tests.conftest import SAMPLES
from tests.daemon_harness import RunningDaemon, http_get, read_json, wait_for
from tests.hostile import CORPUS, MARKER, Case, manifest, populate

CASES = manifest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("hostile")
    return root / "seeds", populate(root / "seeds", root / "outside")


def outcome_of(path: Path, seeds: Path) -> Reading | ArticleError:
    try:
        return read_seed(path, UTC, ReadOptions(seeds=seeds))
    except ArticleError as error:
        return error


def check(case: Case, reading: Reading | ArticleError) -> None:
    if case.outcome == "rejected":
        assert isinstance(reading, ArticleError), f"{case.name} was accepted"
        assert reading.reason.startswith(case.reason), reading.reason
        assert "\n" not in str(reading)
        return
    assert isinstance(reading, Reading), f"{case.name} was rejected: {reading}"
    assert reading.warnings == case.warnings, f"{case.name}: {reading.warnings}"
    outcome = reading.article
    expect = case.expect
    labels = [
        *outcome.topics,
        outcome.category or "",
        outcome.provider.name if outcome.provider else "",
    ]
    checks: dict[str, Callable[[Any], bool]] = {
        "title": lambda value: outcome.title == value,
        "topics": lambda value: list(outcome.topics) == value,
        "category": lambda value: outcome.category == value,
        "provider": lambda value: outcome.provider is not None and outcome.provider.name == value,
        "is_published": lambda value: outcome.is_published is value,
        "related": lambda value: len(outcome.related) == value,
        "topic_count": lambda value: len(outcome.topics) == value,
        "title_max": lambda value: len(outcome.title) <= value,
        "label_max": lambda value: all(len(label) <= value for label in labels),
        "summary_max": lambda value: 0 < len(html.unescape(outcome.summary_html)) <= value,
        "summary_excludes": lambda value: all(
            word not in outcome.summary_html.lower() for word in value
        ),
        "images": lambda value: len(outcome.images) == value,
        "absent": lambda value: all(getattr(outcome, name) in (None, "", ()) for name in value),
        "updated_is_published": lambda value: (outcome.updated == outcome.published) is value,
    }
    for key, value in expect.items():
        assert checks[key](value), f"{case.name}: {key} should be {value!r}: {outcome!r}"[:2000]


def test_every_corpus_file_is_in_the_manifest_and_every_case_exists() -> None:
    files = {path.name for path in CORPUS.iterdir() if path.name != "manifest.yaml"}
    committed = {name for name, case in CASES.items() if not case.generated}
    assert files == committed
    assert {case.outcome for case in CASES.values()} == {"rejected", "repaired", "warned"}
    for case in CASES.values():  # a file's name says what becomes of it
        prefix = {"rejected": "reject-", "repaired": "repair-", "warned": "warn-"}[case.outcome]
        assert case.generated or case.name.startswith(prefix), case.name
        assert bool(case.warnings) == (case.outcome == "warned"), case.name


def test_every_committed_case_carries_the_secret_marker() -> None:
    for name, case in CASES.items():
        if not case.generated:
            assert MARKER.encode() in (CORPUS / name).read_bytes(), name


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_repaired_warned_or_rejected_as_the_manifest_says(
    corpus: tuple[Path, dict[str, Path]], name: str
) -> None:
    seeds, paths = corpus
    outcome = outcome_of(paths[name], seeds)

    check(CASES[name], outcome)
    if isinstance(outcome, ArticleError):
        shown = str(outcome)
    else:
        warnings = [str(ArticleWarning(str(paths[name]), reason)) for reason in outcome.warnings]
        shown = repr(outcome.article) + "\n".join(warnings)
    assert MARKER not in shown


def test_the_checks_can_fail(corpus: tuple[Path, dict[str, Path]]) -> None:
    # Guards the guard: a case's expectations must be able to fail.
    seeds, paths = corpus
    reading = outcome_of(paths["repair-yaml11-scalars.txt"], seeds)
    with pytest.raises(AssertionError):
        check(Case("x", "repaired", expect={"topics": ["no", "yes", "10"]}), reading)
    with pytest.raises(AssertionError):
        check(Case("x", "rejected", reason="anything"), reading)
    with pytest.raises(AssertionError):
        check(Case("x", "warned", warnings=("title: anything",)), reading)
    name = "warn-wrong-type-provider.txt"
    warned = outcome_of(paths[name], seeds)
    with pytest.raises(AssertionError):
        check(Case("x", "repaired"), warned)  # a warning where none is expected
    with pytest.raises(AssertionError):
        check(
            Case("x", "warned", warnings=CASES[name].warnings, expect={"absent": ["title"]}), warned
        )


# --- a real `feeds build` over the corpus and the samples --------------------

CONFIG = """\
title: "Hostile"
seeds: seeds
output: output
cache_dir: cache
max_items: 1000
debounce_ms: 50
rescan_interval: 3600
"""


def _site(root: Path) -> dict[str, Path]:
    paths = populate(root / "seeds", root / "outside")
    for sample in SAMPLES.glob("*.txt"):
        (root / "seeds" / sample.name).write_bytes(sample.read_bytes())
    (root / "feeds.yaml").write_text(CONFIG, encoding="utf-8")
    return paths


def _expected_titles(paths: dict[str, Path], seeds: Path) -> set[str]:
    titles = set()
    for path in paths.values():
        outcome = outcome_of(path, seeds)
        if isinstance(outcome, Reading):
            titles.add(outcome.article.title)
    return titles


def _problem_lines(paths: dict[str, Path]) -> list[str]:
    """The line for each rejected case and each warning, as the build prints them."""
    lines = []
    for name, case in CASES.items():
        if case.outcome == "rejected":
            lines.append(f"{shown_path(str(paths[name]))}: {case.reason}")
        lines += [str(ArticleWarning(str(paths[name]), reason)) for reason in case.warnings]
    return lines


def _feed_titles(output: Path) -> set[str]:
    document = read_json(output / "all.json")
    return {item["title"] for item in document["items"]} if document else set()


def assert_outputs_are_sound(root: Path, *texts: str) -> None:
    """Every document parses; the marker is in no output, cache file or message."""
    files = [path for path in (root / "output").rglob("*") if path.is_file()]
    assert files
    for path in files:
        if path.name.endswith((".xml", ".opml")):
            etree.fromstring(path.read_bytes())  # raises on anything not well-formed
        elif path.suffix == ".json":
            json.loads(path.read_bytes())
    cache = [path for path in (root / "cache").rglob("*") if path.is_file()]
    assert cache, "the build should have written its parse cache"
    for path in files + cache:
        assert MARKER.encode() not in path.read_bytes(), path
    for text in texts:
        assert MARKER not in text
        assert "Traceback" not in text


def test_a_build_over_the_corpus_publishes_every_good_article_and_names_each_bad_one(
    tmp_path: Path,
) -> None:
    paths = _site(tmp_path)
    seeds = tmp_path / "seeds"

    result = subprocess.run(
        [sys.executable, "-m", "feeds", "build", "--config", str(tmp_path / "feeds.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    expected = _problem_lines(paths)
    assert len(lines) == len(expected), result.stderr
    for line in expected:  # a rejection's reason as the manifest begins it
        assert any(shown.startswith(line) for shown in lines), line
    assert all(line.startswith(str(seeds)) for line in lines)  # one line each, path first
    samples = {name: seeds / name for name in (path.name for path in SAMPLES.glob("*.txt"))}
    assert _feed_titles(tmp_path / "output") == _expected_titles(paths | samples, seeds)
    assert len(_feed_titles(tmp_path / "output")) == 2 + sum(
        case.published for case in CASES.values()
    )
    rejected = sum(case.outcome == "rejected" for case in CASES.values())
    warnings = sum(len(case.warnings) for case in CASES.values())
    assert f" {rejected} rejected, {warnings} warnings in " in result.stdout
    assert result.stdout.count("\n") == 1
    assert_outputs_are_sound(tmp_path, result.stdout, result.stderr)


# --- a running daemon into which the corpus is dropped -----------------------


@pytest.fixture
def daemon_site(tmp_path: Path) -> Iterator[tuple[Path, RunningDaemon]]:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "feeds.yaml").write_text(CONFIG, encoding="utf-8")
    sample = next(SAMPLES.glob("*.txt"))
    (tmp_path / "seeds" / sample.name).write_bytes(sample.read_bytes())
    running = RunningDaemon(tmp_path / "feeds.yaml")
    try:
        running.wait_ready()
        yield tmp_path, running
    finally:
        running.stop()


def test_the_daemon_takes_the_whole_corpus_and_keeps_publishing(
    daemon_site: tuple[Path, RunningDaemon],
) -> None:
    root, daemon = daemon_site
    output = root / "output"
    wait_for(lambda: len(_feed_titles(output)) == 1, what="the first sample")
    # Generated beside the seeds folder, then moved in: the daemon sees them
    # arrive together, as a copy of a folder would.
    staging = root / "staging"
    paths = populate(staging / "batch", root / "outside")
    (staging / "batch").rename(root / "seeds" / "batch")
    seeds = root / "seeds"
    moved = {name: seeds / "batch" / path.name for name, path in paths.items()}
    expected = _expected_titles(moved, seeds) | _feed_titles(output)
    assert len(expected) == 1 + sum(case.published for case in CASES.values())

    wait_for(
        lambda: _feed_titles(output) == expected,
        what=f"every good article; missing {expected - _feed_titles(output)}\n{daemon.log}",
    )
    for line in _problem_lines(moved):
        daemon.wait_for_log(re.escape(line))
    # Still alive, healthy and publishing.
    assert daemon.process.poll() is None
    status, _, body = http_get(daemon.url("/healthz"))
    assert status == 200, body
    late = seeds / "late.txt"
    late.write_text(
        '---\ntitle: "After the storm"\nwebUrl: "https://example.org/late"\n'
        "publishedDateTime: 2024-04-01T00:00:00Z\n---\n",
        encoding="utf-8",
    )
    wait_for(lambda: "After the storm" in _feed_titles(output), what="a later good article")
    assert daemon.stop() == 0
    assert_outputs_are_sound(root, daemon.log)
