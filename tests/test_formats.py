"""The formats registry, as a specification: adding a feed format is an entry
in `feeds.formats` and one new renderer module, and nothing else.

The builder, the index page, OPML and the server take every suffix, media type
and label from the registry, so a new entry reaches each of them untouched.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable
from importlib import import_module
from pathlib import Path

import pytest

from feeds.build.builder import Builder
from feeds.build.oneshot import build
from feeds.build.writer import OutputFolder
from feeds.config import Config
from feeds.formats import FORMATS, INDEX_PAGE, PAGES, content_type, format_named, formats_named
from feeds.plan.plans import ARCHIVE_DIR
from feeds.serve.server import _public_file
from tests.conftest import REPO, SeedWriter, seed_text

FEEDS = REPO / "feeds"
REGISTRY = FEEDS / "formats.py"


def _sources() -> list[Path]:
    return sorted(path for path in FEEDS.rglob("*.py") if path != REGISTRY)


def _templates() -> list[Path]:
    return sorted(path for path in (FEEDS / "templates").iterdir() if path.is_file())


def _seed(month: int) -> str:
    """One article a month: with ``max_items: 1`` the older ones go to archives."""
    return seed_text(f"T{month}", f"https://example.org/{month}", f"2024-0{month}-01T10:00:00Z")


def test_each_format_has_a_renderer_module_that_reads_its_entry() -> None:
    assert len({fmt.name for fmt in FORMATS}) == len(FORMATS)
    assert len({fmt.suffix for fmt in FORMATS}) == len(FORMATS)
    for fmt in FORMATS:
        module = import_module(fmt.module)
        assert callable(module.render), fmt.module
        assert module.FORMAT is fmt, fmt.module


def test_no_module_imports_a_renderer_by_name() -> None:
    """The builder, the pages and the server find renderers through the registry,
    so a new format's module needs no import anywhere."""
    renderers = {fmt.module for fmt in FORMATS}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            else:
                continue
            assert not names & renderers, f"{path.relative_to(REPO)} imports {names & renderers}"


def test_no_media_type_is_written_outside_the_registry() -> None:
    media_types = {fmt.media_type for fmt in FORMATS} | {page.media_type for page in PAGES}
    media_types.remove("text/html")  # also the type of every link to an article's page
    for path in [*_sources(), *_templates()]:
        text = path.read_text(encoding="utf-8")
        for media_type in media_types:
            assert media_type not in text, f"{path.relative_to(REPO)}: {media_type}"


def test_the_server_takes_each_media_type_and_public_suffix_from_the_registry() -> None:
    served = {f"all{fmt.suffix}": fmt.media_type for fmt in FORMATS}
    served |= {page.filename: page.media_type for page in PAGES}
    for name, media_type in served.items():
        assert content_type(name) == f"{media_type}; charset=utf-8"
        assert _public_file(f"/srv/output/{name}", "/srv/output", f"/{name}")


def test_a_build_writes_every_feed_in_every_format_and_archives_where_they_exist(
    make_config: Callable[..., Config], write_seed: SeedWriter
) -> None:
    for month in (1, 2, 3):
        write_seed(f"{month}.txt", _seed(month))
    config = make_config("max_items: 1")
    build(config)
    page = (config.output / INDEX_PAGE.filename).read_text(encoding="utf-8")
    archives = list((config.output / ARCHIVE_DIR).rglob("*"))
    assert archives
    for fmt in FORMATS:
        assert (config.output / f"all{fmt.suffix}").is_file()
        assert f'<a href="all{fmt.suffix}" type="{fmt.media_type}">{fmt.label}</a>' in page
        assert any(path.name.endswith(fmt.suffix) for path in archives) == fmt.archives


def test_formats_are_selected_by_name_in_the_registrys_order() -> None:
    assert formats_named(["json", "atom"]) == (format_named("atom"), format_named("json"))
    assert formats_named([fmt.name for fmt in FORMATS]) == FORMATS
    assert formats_named([]) == ()
    known = r"\(known: atom, rss, json\)"
    with pytest.raises(ValueError, match=rf"unknown feed format 'gopher' {known}"):
        formats_named(["atom", "gopher"])


# --- adding a format -------------------------------------------------------

_RENDERER = """
from feeds.formats import format_named

FORMAT = format_named("lines")


def render(plan, config):
    return "".join(article.title + "\\n" for article in plan.entries).encode()
"""

_ADD_AND_BUILD = """
import sys
import types
from pathlib import Path

registry, plugins, *argv = sys.argv[1:]
sys.path.insert(0, plugins)
text = Path(registry).read_text(encoding="utf-8")
# The registry's own source with one entry more, in place of the installed one.
start = text.index("FORMATS: tuple[Format, ...] = (")
end = text.index("\\n)\\n", start)
entry = '    Format("lines", "Lines", ".lines", "text/x-lines", False, "lines_format"),'
module = types.ModuleType("feeds.formats")
module.__file__ = registry
sys.modules["feeds.formats"] = module
exec(compile(text[:end] + "\\n" + entry + text[end:], registry, "exec"), module.__dict__)

from feeds.cli import main
from feeds.formats import content_type
from feeds.serve.server import _public_file

code = main(argv)
print(code, content_type("all.lines"), _public_file("/o/all.lines", "/o", "/all.lines"))
"""


def test_a_new_format_is_an_entry_in_the_registry_and_one_module(
    tmp_path: Path, seeds: Path, output: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "lines_format.py").write_text(_RENDERER, encoding="utf-8")
    for month in (1, 2):
        (seeds / f"{month}.txt").write_text(_seed(month), encoding="utf-8")
    config = tmp_path / "feeds.yaml"
    config.write_text("max_items: 1\n", encoding="utf-8")
    argv = ["build", "-q", "--config", str(config), "--seeds", str(seeds), "--output", str(output)]
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_ADD_AND_BUILD), str(REGISTRY), str(plugins), *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.stdout == "0 text/x-lines; charset=utf-8 True\n", done.stderr
    assert (output / "all.lines").read_text(encoding="utf-8") == "T2\n"
    assert (output / "topics" / "ai.lines").is_file()
    assert not list((output / ARCHIVE_DIR).rglob("*.lines"))  # it has no archives
    assert list((output / ARCHIVE_DIR).rglob("*.atom.xml"))
    page = (output / INDEX_PAGE.filename).read_text(encoding="utf-8")
    assert '<a href="all.lines" type="text/x-lines">Lines</a>' in page


# --- formats chosen in config ------------------------------------------------


def test_only_the_chosen_formats_are_written_linked_listed_and_archived(
    make_config: Callable[..., Config], write_seed: SeedWriter
) -> None:
    for month in (1, 2, 3):
        write_seed(f"{month}.txt", _seed(month))
    config = make_config("max_items: 1\nformats: [json, rss]\n")
    build(config)
    output = config.output
    page = (output / INDEX_PAGE.filename).read_text(encoding="utf-8")
    opml = (output / "feeds.opml").read_text(encoding="utf-8")
    written = {path.relative_to(output).as_posix() for path in output.rglob("*") if path.is_file()}
    assert "all.rss.xml" in written
    assert "all.json" in written
    assert not [name for name in written if name.endswith(".atom.xml")]
    archives = [name for name in written if name.startswith(f"{ARCHIVE_DIR}/")]
    assert {name.rpartition("/")[2].partition(".")[2] for name in archives} == {"rss.xml", "json"}
    assert '<a href="all.rss.xml" type="application/rss+xml">RSS</a>' in page
    assert '<a href="all.json" type="application/feed+json">JSON Feed</a>' in page
    assert ".atom.xml" not in page
    # The first chosen, in the registry's order, is the one subscribed to.
    assert 'xmlUrl="http://127.0.0.1:8080/all.rss.xml"' in opml
    assert ".atom.xml" not in opml
    assert ".json" not in opml


def test_a_format_turned_off_has_its_files_removed_on_the_next_build(
    make_config: Callable[..., Config], write_seed: SeedWriter
) -> None:
    for month in (1, 2, 3):
        write_seed(f"{month}.txt", _seed(month))
    build(make_config("max_items: 1\n"))
    config = make_config("max_items: 1\nformats: [rss]\n")
    atom_files = list(config.output.rglob("*.atom.xml"))
    assert any(ARCHIVE_DIR in path.parts for path in atom_files)
    build(config)
    assert not list(config.output.rglob("*.atom.xml"))
    assert not list(config.output.rglob("*.json"))
    assert (config.output / "all.rss.xml").is_file()
    assert list((config.output / ARCHIVE_DIR).rglob("*.rss.xml"))


def test_a_reload_that_turns_a_format_off_removes_its_files_in_the_same_process(
    make_config: Callable[..., Config], write_seed: SeedWriter
) -> None:
    """The daemon keeps one builder across reloads: its next publish sweeps too."""
    for month in (1, 2, 3):
        write_seed(f"{month}.txt", _seed(month))
    builder = Builder(make_config("max_items: 1\n"))
    builder.scan_all()
    builder.publish()
    config = make_config("max_items: 1\nformats: [atom]\n")
    builder.reconfigure(config)
    report = builder.publish()
    assert "all.rss.xml" in report.removed
    assert "all.json" in report.removed
    assert not list(config.output.rglob("*.rss.xml"))
    assert not list(config.output.rglob("*.json"))
    assert list((config.output / ARCHIVE_DIR).rglob("*.atom.xml"))


def test_a_feed_gone_in_a_running_builder_is_removed_without_listing_the_output(
    make_config: Callable[..., Config], write_seed: SeedWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a million articles the output holds a quarter of a million files:
    after its first sweep a builder removes the documents of the feeds that
    went, by name, and lists nothing."""
    for month in (1, 2, 3):
        write_seed(f"{month}.txt", _seed(month))
    config = make_config("max_items: 1\n")
    builder = Builder(config)
    builder.scan_all()
    builder.publish()
    listed: list[str] = []
    real_existing = OutputFolder.existing

    def existing(self: OutputFolder, folder: str, suffixes: Iterable[str]) -> set[str]:
        listed.append(folder)
        return real_existing(self, folder, suffixes)

    monkeypatch.setattr(OutputFolder, "existing", existing)
    (config.seeds / "1.txt").unlink()
    builder.update([config.seeds / "1.txt"])
    report = builder.publish()
    assert sorted(report.removed) == [
        f"{ARCHIVE_DIR}/{feed}/2024-01{suffix}"
        for feed in ("all", "topics/ai")
        for suffix in (".atom.xml", ".json", ".rss.xml")
    ]
    assert not list((config.output / ARCHIVE_DIR).rglob("2024-01.*"))
    assert listed == []
