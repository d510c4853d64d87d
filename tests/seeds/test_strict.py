"""Strict mode: every warning becomes a rejection, and switching it never
leaves a stale answer behind.

Warnings are cached as each file reads and strict mode is applied to them
afterwards, so a build under the other strictness reads no file again and
still gives exactly what a build without the cache gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from feeds.build.builder import Builder, rebuild
from feeds.build.oneshot import build
from feeds.build.report import BuildReport
from feeds.build.uptodate import report_if_unchanged
from feeds.config import Config
from tests.conftest import SeedWriter, seed_text

ConfigFactory = Callable[..., Config]

#: A provider that is a list, and a second image that is a number.
BROKEN = "provider: [Reuters]\nimages: [{url: 'https://e.org/1.png'}, 42]\n"
STRICT_REASON = "provider: expected a mapping with name and domain (strict mode; and other fields)"


def _titles(output: Path) -> list[str]:
    return sorted(item["title"] for item in json.loads((output / "all.json").read_text())["items"])


@pytest.fixture
def site(write_seed: SeedWriter) -> Path:
    write_seed("good.txt", title="Good", link="https://e.org/good")
    return write_seed("warned.txt", title="Warned", link="https://e.org/warned", extra=BROKEN)


@pytest.fixture
def configs(make_config: ConfigFactory, tmp_path: Path) -> dict[bool, Config]:
    cache = f"cache_dir: {tmp_path / 'cache'}\n"
    return {False: make_config(cache), True: make_config(cache + "strict: true\n")}


def _as_without_the_cache(config: Config, report: BuildReport) -> None:
    full = rebuild(config, use_cache=False)
    assert [str(error) for error in report.rejected] == [str(error) for error in full.rejected]
    assert report.warnings == full.warnings
    assert report.articles == full.articles


def test_without_strict_the_article_is_published_with_its_warnings(
    site: Path, configs: dict[bool, Config], output: Path
) -> None:
    report = build(configs[False])
    assert report.exit_code == 0
    assert report.rejected == ()
    assert [warning.reason for warning in report.warnings] == [
        "provider: expected a mapping with name and domain",
        "images[1]: expected a mapping with a url",
    ]
    assert _titles(output) == ["Good", "Warned"]


def test_strict_rejects_the_article_naming_its_first_problem(
    site: Path, configs: dict[bool, Config], output: Path
) -> None:
    report = build(configs[True])
    assert report.exit_code == 1
    assert [str(error) for error in report.rejected] == [f"{site}: {STRICT_REASON}"]
    assert report.warnings == ()
    assert _titles(output) == ["Good"]


@pytest.mark.parametrize("first", [False, True], ids=["lenient-first", "strict-first"])
def test_switching_strict_reads_nothing_again_and_answers_as_without_the_cache(
    first: bool, site: Path, configs: dict[bool, Config], output: Path, reads: list[str]
) -> None:
    build(configs[first])
    for strict in (not first, first):
        reads.clear()
        # The last publish was under the other strictness.
        assert report_if_unchanged(configs[strict]) is None
        report = build(configs[strict])
        assert reads == []  # every file as the cache has it
        assert _titles(output) == (["Good"] if strict else ["Good", "Warned"])
        assert report.exit_code == (1 if strict else 0)
        _as_without_the_cache(configs[strict], report)
        quick = report_if_unchanged(configs[strict])  # then nothing to do: the cache's answer alone
        assert quick is not None
        assert quick.exit_code == report.exit_code
        _as_without_the_cache(configs[strict], quick)


def test_a_strict_rejection_keeps_the_last_good_version_published(
    site: Path, configs: dict[bool, Config], output: Path
) -> None:
    builder = Builder(configs[True])
    builder.scan_all()
    site.write_text(seed_text(title="Warned, fixed", link="https://e.org/warned"))
    builder.update([site])
    builder.publish()
    assert _titles(output) == ["Good", "Warned, fixed"]
    site.write_text(
        seed_text(title="Warned, broken again", link="https://e.org/warned", extra=BROKEN)
    )
    builder.update([site])
    report = builder.publish()
    assert [error.reason for error in report.rejected] == [STRICT_REASON]
    assert builder.problem(site) == (report.rejected[0], True)
    assert _titles(output) == ["Good", "Warned, fixed"]
