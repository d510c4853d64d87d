"""`feeds build` with nothing to do, answered from the no-op stamp before click,
pydantic or PyYAML is imported: the same bytes out and the same exit code as
the full command line, and the full command line at any difference.

Each case runs the real command in a new interpreter, as scripts do, and
holds it against `feeds.cli.main` (the command line without the quick
answer) run the same way.
"""

from __future__ import annotations

import io
import marshal
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from feeds.build import quick, stamp
from feeds.build.stamp import Invocation
from feeds.cli import cli
from feeds.config import DEFAULT_CONFIG_PATH, load_config
from tests.build.test_uptodate import read_catalog, write_catalog
from tests.conftest import SeedWriter

#: `feeds`, as its entry point runs it; then which of the heavy imports it made.
_QUICK = textwrap.dedent(
    """
    import os, sys
    from feeds.__main__ import main
    code = main()
    loaded = [name for name in ("click", "pydantic", "yaml") if name in sys.modules]
    with open(os.environ["FEEDS_PROBE"], "w") as probe:
        probe.write(" ".join(loaded))
    sys.exit(code)
    """
)
#: The command line without the quick answer: what `feeds build` printed before it.
_FULL = "import sys\nfrom feeds.cli import main\nsys.exit(main(sys.argv[1:]))\n"
HEAVY = "click pydantic yaml"


@dataclass(frozen=True)
class Run:
    code: int
    out: bytes
    err: bytes
    #: The heavy modules it imported: "" when the stamp answered.
    loaded: str

    @property
    def shown(self) -> tuple[int, bytes, bytes]:
        """What a script sees, but for the seconds the check took."""
        return self.code, re.sub(rb" in \d+\.\d\d s\n", b" in S s\n", self.out), self.err


@dataclass
class Project:
    root: Path
    seeds: Path
    output: Path
    cache: Path

    def args(self, *extra: str) -> list[str]:
        return ["build", "--seeds", str(self.seeds), "--output", str(self.output),
                "--cache-dir", str(self.cache), *extra]  # fmt: skip

    def feeds(
        self,
        argv: list[str],
        *,
        full: bool = False,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Run:
        probe = self.root / "probe"
        probe.write_text("-")
        done = subprocess.run(
            [sys.executable, "-c", _FULL if full else _QUICK, *argv],
            capture_output=True,
            cwd=cwd or self.root,
            env={**os.environ, "FEEDS_PROBE": str(probe), **(env or {})},
            check=False,
        )
        loaded = HEAVY if full else probe.read_text()
        return Run(done.returncode, done.stdout, done.stderr, loaded)

    def both(self, argv: list[str], **env: str) -> tuple[Run, Run]:
        """``argv`` through the entry point, then through the full command line."""
        return self.feeds(argv, env=env), self.feeds(argv, full=True, env=env)


@pytest.fixture
def project(write_seed: SeedWriter, seeds: Path, output: Path, tmp_path: Path) -> Project:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    write_seed("sub/b.txt", title="Bravo", link="https://e.org/b")
    made = Project(tmp_path, seeds, output, tmp_path / "cache")
    assert made.feeds(made.args()).code == 0
    return made


def _answered_alike(project: Project, argv: list[str], **env: str) -> Run:
    quick_run, full_run = project.both(argv, **env)
    assert quick_run.loaded == ""
    assert quick_run.shown == full_run.shown
    return quick_run


@pytest.mark.parametrize(
    "extra",
    [[], ["-q"], ["--strict"], ["--quiet", "--strict"]],
    ids=["plain", "quiet", "strict", "quiet-strict"],
)
def test_a_build_with_nothing_to_do_is_answered_alike_without_click_pydantic_or_yaml(
    project: Project, extra: list[str]
) -> None:
    project.feeds(project.args(*extra))  # stamps this command line
    run = _answered_alike(project, project.args(*extra))
    assert run.code == 0
    assert (run.out == b"") == ("-q" in extra or "--quiet" in extra)
    assert run.out.startswith(b"2 articles, ") or run.out == b""


def test_the_verbose_flag_and_the_equals_spelling_are_answered_alike(project: Project) -> None:
    argv = ["-v", "build", f"--seeds={project.seeds}", "--output", str(project.output),
            f"--cache-dir={project.cache}"]  # fmt: skip
    project.feeds(argv)
    assert _answered_alike(project, argv).code == 0


def test_rejected_files_and_warnings_are_reported_alike_with_their_exit_code(
    project: Project, write_seed: SeedWriter
) -> None:
    write_seed("sub/bad.txt", "---\ntitle: no link\n---\n")
    write_seed("warned.txt", link="https://e.org/w", extra="provider: [x]\n")
    for extra in ([], ["--strict"]):
        project.feeds(project.args(*extra))
        run = _answered_alike(project, project.args(*extra))
        assert run.code == 1
        assert run.err.count(b"\n") == 2  # strict: two rejected; else one, and a warning
        assert b"bad.txt: missing link" in run.err


def test_a_config_file_and_relative_paths_are_answered_alike(
    project: Project, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "config").mkdir(parents=True)
    (site / "config" / "feeds.yaml").write_text(
        f"seeds: {project.seeds}\noutput: ../out\ncache_dir: ../cache\ntitle: Mine\n"
    )
    for argv in (["build", "--config", "config/feeds.yaml"], ["build"]):  # the default file
        project.feeds(argv, cwd=site)
        quick_run = project.feeds(argv, cwd=site)
        full_run = project.feeds(argv, cwd=site, full=True)
        assert (quick_run.loaded, quick_run.shown) == ("", full_run.shown)
    assert (site / "out" / "all.atom.xml").is_file()


def _edit_a_seed(project: Project) -> None:
    path = project.seeds / "a.txt"
    path.write_text(path.read_text().replace("Alpha", "Alpha, edited"))


def _add_a_seed(project: Project) -> None:
    (project.seeds / "c.txt").write_text((project.seeds / "a.txt").read_text().replace("/a", "/c"))


def _touch_an_output_file(project: Project) -> None:
    path = project.output / "all.atom.xml"
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000_000))


def _remove_the_marker(project: Project) -> None:
    (project.output / ".made-by-feeds").unlink()


def _let_an_embargo_come_due(project: Project) -> None:
    """The last publish waits for an embargo that is now past."""
    catalog_path = next(project.cache.glob("parse-*.cache"))
    catalog = read_catalog(catalog_path)
    digest, _embargo, articles, feeds = catalog[3].split("|")
    catalog[3] = f"{digest}|2000-01-01T00:00:00+00:00|{articles}|{feeds}"
    write_catalog(catalog_path, catalog)


@pytest.mark.parametrize(
    "change",
    [
        _edit_a_seed,
        _add_a_seed,
        _touch_an_output_file,
        _remove_the_marker,
        _let_an_embargo_come_due,
    ],
)
def test_a_change_means_the_full_build(project: Project, change: Callable[[Project], None]) -> None:
    change(project)
    run = project.feeds(project.args())
    assert (run.loaded, run.code) == (HEAVY, 0)
    assert _answered_alike(project, project.args()).code == 0  # then stamped again


def test_an_edited_config_means_the_full_build(project: Project, tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("title: One\n")
    argv = project.args("--config", str(config))
    project.feeds(argv)
    _answered_alike(project, argv)
    for text in ("title: One \n", "title: Two\n"):  # whitespace alone may fall through too
        config.write_text(text)
        run = project.feeds(argv)
        assert run.loaded == HEAVY
        assert run.code == 0
    assert b"<title>Two</title>" in (project.output / "all.atom.xml").read_bytes()


def test_a_new_flag_means_the_full_build(project: Project, write_seed: SeedWriter) -> None:
    write_seed("warned.txt", link="https://e.org/w", extra="provider: [x]\n")
    project.feeds(project.args())
    assert _answered_alike(project, project.args()).code == 0
    run = project.feeds(project.args("--strict"))  # the warning now rejects the file
    assert (run.loaded, run.code) == (HEAVY, 1)


def test_an_environment_the_config_reads_means_the_full_build(project: Project) -> None:
    # The state folder's default is read from the environment; inside the
    # output folder, which is served, the config refuses it.
    inside = str(project.output / "state")
    run, full_run = project.both(project.args(), STATE_DIRECTORY=inside)
    assert (run.loaded, run.code) == (HEAVY, 2)
    assert run.shown == full_run.shown
    assert b"state_dir" in run.err


def test_a_folder_the_config_refuses_is_refused_alike(project: Project) -> None:
    # A variable not in the stamp's key: the folders are checked again.
    run, full_run = project.both(project.args(), CONFIGURATION_DIRECTORY=str(project.output))
    assert (run.loaded, run.code) == (HEAVY, 2)
    assert run.shown == full_run.shown


def test_another_working_folder_means_another_stamp(project: Project, tmp_path: Path) -> None:
    argv = ["build", "--seeds", "seeds", "--output", str(project.output), "--cache-dir",
            str(project.cache)]  # fmt: skip
    project.feeds(argv, cwd=project.seeds.parent)
    assert project.feeds(argv, cwd=project.seeds.parent).loaded == ""
    other = tmp_path / "other"
    (other / "seeds").mkdir(parents=True)
    (other / "seeds" / "z.txt").write_text((project.seeds / "a.txt").read_text())
    run = project.feeds(argv, cwd=other)
    assert (run.loaded, run.code) == (HEAVY, 0)
    assert run.out.startswith(b"1 articles, ")


@pytest.mark.parametrize(
    "extra",
    [["--no-cache"], ["--publish"], ["--help"], ["--bogus"], ["-qv"], ["--seeds"], ["x"]],
)
def test_what_it_does_not_know_is_left_to_click(project: Project, extra: list[str]) -> None:
    run, full_run = project.both(project.args(*extra))
    assert run.loaded.startswith("click")
    assert run.shown == full_run.shown


def test_every_option_of_build_is_answered_or_left_to_click() -> None:
    """An option added to `feeds build` fails this until `quick` decides."""
    left_to_click = {"--no-cache", "--publish", "-h", "--help"}
    build = cli.commands["build"]
    assert _options(build) == set(quick.PATH_OPTIONS) | quick.FLAGS | left_to_click
    assert _options(cli) == quick.GROUP_FLAGS | {"--version", "-h", "--help"}
    # What `quick` takes of a path is what click's Path type takes.
    for name in quick.PATH_OPTIONS:
        kind = next(param.type for param in build.params if name in param.opts)
        assert isinstance(kind, click.Path)
        is_file = name == "--config"
        assert (kind.file_okay, kind.dir_okay) == (is_file, not is_file)
        assert (kind.exists, kind.readable, kind.writable, kind.executable) == (
            False, True, False, False
        )  # fmt: skip
        assert (kind.resolve_path, kind.allow_dash) == (False, False)


def _options(command: click.Command) -> set[str]:
    # Within the group's context, whose settings name the help options.
    group = click.Context(cli, **cli.context_settings)
    params = command.get_params(click.Context(command, parent=group))
    return {name for param in params for name in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not a stamp",
        b"\xe3\x00\x00\x00",
        marshal.dumps(("feeds-noop-stamp/1", "another key") + ("x",) * 8),
        marshal.dumps(["a", "list"]),
    ],
)
def test_a_damaged_or_foreign_stamp_is_ignored(project: Project, damage: bytes) -> None:
    (found,) = project.cache.glob("noop-*.stamp")
    found.write_bytes(damage)
    run, full_run = project.both(project.args())
    assert run.loaded == HEAVY
    assert run.shown == full_run.shown
    assert project.feeds(project.args()).loaded == ""  # stamped anew


@pytest.mark.parametrize("field", [2, 3, 4, 7], ids=["seeds", "patterns", "strict", "identity"])
def test_a_stamp_with_its_key_but_fields_of_another_kind_is_ignored(
    project: Project, field: int
) -> None:
    (found,) = project.cache.glob("noop-*.stamp")
    data = list(marshal.loads(found.read_bytes()))
    data[field] = 42
    found.write_bytes(marshal.dumps(tuple(data)))
    run = project.feeds(project.args())
    assert (run.loaded, run.code) == (HEAVY, 0)


def test_the_stamp_is_kept_beside_the_parse_cache_never_in_the_output(project: Project) -> None:
    assert [path.name.startswith("noop-") for path in project.cache.glob("noop-*")] == [True]
    assert not list(project.output.rglob("noop-*"))


def test_no_stamp_goes_where_the_config_could_not_keep_its_cache(
    project: Project, tmp_path: Path
) -> None:
    # The config keeps its cache elsewhere; the default cache folder, where
    # the stamp would go, is in the output folder, which is served.
    config = tmp_path / "feeds.yaml"
    config.write_text(f"cache_dir: {project.cache}\n")
    argv = ["build", "--config", str(config), "--seeds", str(project.seeds),
            "--output", str(project.output)]  # fmt: skip
    served = {"XDG_CACHE_HOME": str(project.output / "cache")}
    for _ in range(2):
        run = project.feeds(argv, env=served)
        assert (run.loaded, run.code) == (HEAVY, 0)
    assert not list(project.output.rglob("noop-*"))
    project.feeds(argv, env={"XDG_CACHE_HOME": str(tmp_path / "home-cache")})  # stamps
    assert project.feeds(argv, env={"XDG_CACHE_HOME": str(tmp_path / "home-cache")}).loaded == ""


def test_a_config_edited_while_it_was_read_is_not_stamped(project: Project, tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("title: One\n")
    invocation = Invocation(config=str(config), cache_dir=str(project.cache))
    key = stamp.key_of(invocation)
    assert key is not None
    read = load_config(config, cache_dir=project.cache)
    config.write_text("title: Two\n")
    stamp.save(invocation, key, read)
    assert not invocation.path().exists()
    stamp.save(
        invocation, stamp.key_of(invocation) or "", load_config(config, cache_dir=project.cache)
    )
    assert invocation.path().exists()


def test_an_edit_to_feeds_itself_changes_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "code" / "sub").mkdir(parents=True)
    module = tmp_path / "code" / "sub" / "module.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(stamp, "_FEEDS", tmp_path / "code")
    before = stamp.key_of(Invocation())
    module.write_text("x = 22\n")
    assert stamp.key_of(Invocation()) != before


def test_another_release_of_a_library_that_reads_the_config_changes_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = tmp_path / "configreader.py"
    library.write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(stamp, "CONFIG_LIBRARIES", ("configreader",))
    before = stamp.key_of(Invocation())
    library.write_text("VERSION = 22\n")
    assert stamp.key_of(Invocation()) != before


def _stream(encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding)


def test_lines_click_would_print_otherwise_are_left_to_click() -> None:
    plain, coloured = "a.txt: missing link\n", "\x1b[31ma.txt\x1b[0m: missing link\n"
    assert quick._as_click(_stream("utf-8"), [plain])
    assert quick._as_click(None, [])  # nothing to print: no stream needed
    # click strips ANSI codes from what is not a terminal, and rewraps an
    # ASCII stream: such lines are printed by click itself.
    stream = _stream("utf-8")
    click.echo(coloured, file=stream, nl=False)
    stream.flush()
    assert stream.buffer.getvalue() == plain.encode()  # type: ignore[attr-defined]
    assert not quick._as_click(_stream("utf-8"), [coloured])
    assert not quick._as_click(_stream("ascii"), [plain])
    assert not quick._as_click(None, [plain])


def test_the_default_config_is_the_configs_own() -> None:
    assert str(DEFAULT_CONFIG_PATH) == stamp.DEFAULT_CONFIG
