"""The command line as scripts see it: messages, summary lines and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feeds import __version__
from feeds.cli import main
from tests.conftest import REPO, SeedWriter


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_build_with_good_seeds_exits_0_with_one_summary_line(
    write_seed: SeedWriter, seeds: Path, output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_seed("a.txt")
    code, out, err = _run(["build", "--seeds", str(seeds), "--output", str(output)], capsys)
    assert code == 0
    assert err == ""
    assert out.splitlines() == [out.strip()]
    assert out.startswith("1 articles, 2 feeds: 10 files written, 0 unchanged, 0 removed,")
    assert ", 0 rejected, 0 warnings in " in out


def test_build_with_a_bad_file_exits_1_names_it_and_publishes_the_rest(
    write_seed: SeedWriter, seeds: Path, output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_seed("good.txt")
    bad = write_seed("bad.txt", "---\ntitle: no link\n---\n")
    code, out, err = _run(["build", "--seeds", str(seeds), "--output", str(output)], capsys)
    assert code == 1
    assert err.splitlines() == [f"{bad}: missing link: set webUrl or originalUrl"]
    assert "1 rejected" in out
    assert (output / "all.atom.xml").exists()


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_seed_yaml_cannot_read_is_named_and_skipped_without_a_traceback(
    write_seed: SeedWriter,
    seeds: Path,
    output: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    write_seed("good.txt")
    # PyYAML's constructor raised IndexError on an empty tagged number.
    bad = write_seed("bad.txt", "---\ntitle: !!int\nwebUrl: https://e.org/b\n---\n")
    argv = [command, "--seeds", str(seeds)]
    code, out, err = _run([*argv, "--output", str(output)] if command == "build" else argv, capsys)
    assert code == 1
    assert err.splitlines() == [f"{bad}: invalid YAML: a value does not match its type"]
    assert "1 rejected" in out
    assert command == "check" or (output / "all.atom.xml").exists()


#: A seed whose provider is a list and whose second image is a number.
BROKEN_ENRICHMENT = """\
images:
  - {url: "https://e.org/1.png"}
  - 42
provider: [Reuters]
"""


def test_a_build_with_warnings_only_exits_0_and_names_and_counts_each(
    write_seed: SeedWriter, seeds: Path, output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_seed("good.txt", link="https://e.org/good")
    warned = write_seed("warned.txt", link="https://e.org/warned", extra=BROKEN_ENRICHMENT)
    code, out, err = _run(["build", "--seeds", str(seeds), "--output", str(output)], capsys)
    assert code == 0
    assert err.splitlines() == [
        f"{warned}: warning: provider: expected a mapping with name and domain; dropped",
        f"{warned}: warning: images[1]: expected a mapping with a url; dropped",
    ]
    assert out.startswith("2 articles, ")
    assert ", 0 rejected, 2 warnings in " in out


def test_rejections_come_before_warnings_and_both_are_counted(
    write_seed: SeedWriter, seeds: Path, output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warned = write_seed("a.txt", extra=BROKEN_ENRICHMENT)
    bad = write_seed("b.txt", "---\ntitle: no link\n---\n")
    code, out, err = _run(["build", "--seeds", str(seeds), "--output", str(output)], capsys)
    assert code == 1
    assert err.splitlines() == [
        f"{bad}: missing link: set webUrl or originalUrl",
        f"{warned}: warning: provider: expected a mapping with name and domain; dropped",
        f"{warned}: warning: images[1]: expected a mapping with a url; dropped",
    ]
    assert ", 1 rejected, 2 warnings in " in out


STRICT_REASON = "provider: expected a mapping with name and domain (strict mode; and other fields)"


@pytest.mark.parametrize(
    ("command", "flags", "settings"),
    [
        pytest.param("build", ["--strict"], "", id="build-flag"),
        pytest.param("build", [], "strict: true\n", id="build-config"),
        pytest.param("check", ["--strict"], "", id="check-flag"),
        pytest.param("check", [], "strict: true\n", id="check-config"),
    ],
)
def test_strict_turns_every_warning_into_a_rejection_and_exits_1(
    command: str,
    flags: list[str],
    settings: str,
    write_seed: SeedWriter,
    seeds: Path,
    output: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_seed("good.txt", link="https://e.org/good")
    warned = write_seed("warned.txt", link="https://e.org/warned", extra=BROKEN_ENRICHMENT)
    config = tmp_path / "feeds.yaml"
    config.write_text(settings)
    argv = [command, *flags, "--config", str(config), "--seeds", str(seeds)]
    argv += ["--output", str(output)] if command == "build" else []
    code, out, err = _run(argv, capsys)
    assert code == 1
    assert err.splitlines() == [f"{warned}: {STRICT_REASON}"]
    if command == "build":
        assert out.startswith("1 articles, ")
        assert ", 1 rejected, 0 warnings in " in out
    else:
        assert out == "2 files: 1 articles, 1 rejected, 0 warnings, 0 duplicates\n"


def test_quiet_build_prints_problems_only(
    write_seed: SeedWriter, seeds: Path, output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_seed("good.txt")
    code, out, err = _run(["build", "-q", "--seeds", str(seeds), "--output", str(output)], capsys)
    assert (code, out, err) == (0, "", "")


def test_config_error_exits_2_with_a_suggestion_and_no_traceback(
    tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("max_itmes: 5\n")
    code, _out, err = _run(["build", "--config", str(config), "--seeds", str(seeds)], capsys)
    assert code == 2
    assert err == f"feeds: error: {config}: unknown key 'max_itmes' (did you mean 'max_items'?)\n"
    assert "Traceback" not in err


def test_a_config_yaml_cannot_read_exits_2_with_a_reason_and_no_traceback(
    tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("title: !!int\n")  # PyYAML's constructor raised IndexError on it
    code, out, err = _run(["build", "--config", str(config), "--seeds", str(seeds)], capsys)
    assert (code, out) == (2, "")
    assert err == f"feeds: error: {config}: invalid YAML: a value does not match its type\n"


def test_missing_config_file_and_missing_seeds_folder_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(["build", "--config", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2
    assert "config file not found" in err
    code, _, err = _run(
        ["build", "--seeds", str(tmp_path / "none"), "--output", str(tmp_path / "o")], capsys
    )
    assert code == 2
    assert "seeds folder not found" in err


def test_unwritable_output_exits_2(
    write_seed: SeedWriter, seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_seed("a.txt")
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    code, _, err = _run(["build", "--seeds", str(seeds), "--output", str(blocker / "out")], capsys)
    assert code == 2
    assert err.startswith("feeds: error: ")
    assert "Traceback" not in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["build", "--no-such-flag"], capsys)
    assert code == 2
    assert "No such option" in err


def test_check_reports_problems_and_duplicates_and_writes_nothing(
    write_seed: SeedWriter, seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_seed("a.txt", link="https://e.org/same")
    write_seed("b.txt", link="https://E.org/same#x")
    bad = write_seed("c.txt", "no front matter here\n")
    code, out, err = _run(["check", "--seeds", str(seeds)], capsys)
    assert code == 1
    lines = err.splitlines()
    assert f"{bad}: no front matter: the file must begin with a '---' line" in lines
    assert any(
        line.startswith(f"{seeds / 'a.txt'}: duplicate of {seeds / 'b.txt'}") for line in lines
    )
    assert out == "3 files: 1 articles, 1 rejected, 0 warnings, 1 duplicates\n"
    assert not list(tmp_path.glob("output*"))


def test_check_reports_warnings_and_exits_0_when_nothing_is_rejected(
    write_seed: SeedWriter, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warned = write_seed("a.txt", extra=BROKEN_ENRICHMENT)
    code, out, err = _run(["check", "--seeds", str(seeds)], capsys)
    assert code == 0
    assert err.splitlines() == [
        f"{warned}: warning: provider: expected a mapping with name and domain; dropped",
        f"{warned}: warning: images[1]: expected a mapping with a url; dropped",
    ]
    assert out == "1 files: 1 articles, 0 rejected, 2 warnings, 0 duplicates\n"


def test_check_exits_0_when_all_is_well(
    write_seed: SeedWriter, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_seed("a.txt")
    code, _, err = _run(["check", "--seeds", str(seeds)], capsys)
    assert (code, err) == (0, "")


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--version"], capsys)
    assert code == 0
    assert __version__ in out
    for command in ([], ["build"], ["check"]):
        code, out, _ = _run([*command, "--help"], capsys)
        assert code == 0
        assert "Usage:" in out


def test_version_is_answered_as_click_would_without_importing_it() -> None:
    script = (
        "import sys\n"
        "from feeds.__main__ import main\n"
        "code = main()\n"
        "print(code, sorted({'click', 'feeds.cli', 'feeds.config'} & set(sys.modules)))\n"
    )
    fast = subprocess.run(
        [sys.executable, "-c", script, "--version"], capture_output=True, text=True, check=True
    )
    clicks = subprocess.run(
        [sys.executable, "-c", "from feeds.cli import main; main(['--version'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert fast.stdout == clicks.stdout + "0 []\n"
    assert clicks.stdout == f"feeds, version {__version__}\n"


def test_the_installed_command_builds_the_bundled_samples(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "feeds",
            "build",
            "--config",
            str(REPO / "config" / "feeds.yaml"),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "topics" / "computer-vision.rss.xml").is_file()
    assert "secured" not in result.stdout + result.stderr
