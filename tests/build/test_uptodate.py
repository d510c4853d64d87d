"""The quick "nothing changed" check says so only when a full build would write nothing.

Every case is held against the full build without the cache: when the check
reports a build with nothing to do, the full build must write and remove
nothing and report the same articles, feeds, rejected files and warnings.
"""

from __future__ import annotations

import errno
import functools
import json
import marshal
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds.build import builder, uptodate
from feeds.build.builder import rebuild
from feeds.build.oneshot import build
from feeds.build.records import ListingMaker
from feeds.build.report import BuildReport
from feeds.build.uptodate import parse_cache, report_if_unchanged
from feeds.cli import main
from feeds.config import Config
from feeds.system.aside import aside
from tests.conftest import REPO, SeedWriter, alone_in_process, seed_text

ConfigFactory = Callable[..., Config]
Change = Callable[[Path, Path], object]

#: The catalog's fields (see `feeds.build.parsecache.ParseCache.save`).
OUTPUTS_FIELD = 4
SEEDS_FIELD = 5
LISTINGS_FIELD = 7
PROBLEMS_FIELD = 8


@pytest.fixture
def config(write_seed: SeedWriter, make_config: ConfigFactory, tmp_path: Path) -> Config:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    write_seed("b.txt", title="Bravo", link="https://e.org/b")
    write_seed("sub/c.txt", title="Charlie", link="https://e.org/c")
    configured = make_config(f"cache_dir: {tmp_path / 'cache'}")
    build(configured)
    return configured


def _agreed(config: Config, now: datetime | None = None) -> BuildReport | None:
    """The check's answer, after holding it against a full build without the cache."""
    quick = report_if_unchanged(config, now)
    full = rebuild(config, now=now, use_cache=False)
    if quick is not None:
        assert (full.written, full.removed) == ([], [])
        assert (quick.articles, quick.feeds, quick.unchanged) == (
            full.articles,
            full.feeds,
            full.unchanged,
        )
        assert [str(error) for error in quick.rejected] == [str(error) for error in full.rejected]
        assert quick.warnings == full.warnings
        assert quick.files == sorted(full.files)
    return quick


def _titles(output: Path) -> list[str]:
    return sorted(item["title"] for item in json.loads((output / "all.json").read_text())["items"])


def test_nothing_changed_is_known_without_a_full_build(config: Config) -> None:
    report = _agreed(config)
    assert report is not None
    assert (report.articles, report.written, report.rejected) == (3, [], ())


def test_children_that_look_at_shares_of_the_files_find_the_same(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    children = _children(monkeypatch)
    report = _agreed(config)
    assert report is not None
    assert (report.articles, report.written, report.rejected) == (3, [], ())
    # The output files, and the seeds from a pivot on of each folder.
    assert children == ["_stored_outputs_intact", "_share", "_share"]


def test_no_child_to_be_had_means_looking_here(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))

    children = _children(monkeypatch)
    monkeypatch.setattr(os, "fork", no_fork)
    report = _agreed(config)
    assert report is not None
    assert report.articles == 3
    assert children == ["_stored_outputs_intact", "_share", "_share"]  # each tried


@pytest.mark.parametrize("in_child", [False, True])
@pytest.mark.parametrize("count", [1, 2, 3, 40])
def test_a_listing_split_at_a_pivot_is_the_listing_of_all_names_sorted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, in_child: bool
) -> None:
    if in_child:
        alone_in_process()
        monkeypatch.setattr(uptodate, "ASIDE_FILES", 1)
    # Names that sort unlike their order here, non-ASCII and undecodable ones among them.
    names = [f"{(index * 7919) % 97:02d}-é.txt" for index in range(count)]
    names[-1] = os.fsdecode(b"\xff-seed.txt")
    for name in names:
        (tmp_path / name).write_text(name, "utf-8", "surrogateescape")
    expected = ListingMaker()
    ordered = sorted(names)
    stats = [os.stat(tmp_path / name) for name in ordered]
    expected.add(
        ordered,
        [info.st_mtime_ns for info in stats],
        [info.st_size for info in stats],
        [info.st_ino for info in stats],
    )
    listing = uptodate._listing_now(str(tmp_path), list(names), files=True)
    assert listing == expected.made()


def _children(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Makes the check give every share of its files to a forked child, and
    notes the function each child ran."""
    alone_in_process()
    monkeypatch.setattr(uptodate, "ASIDE_FILES", 1)
    started: list[str] = []

    def noted(function: Callable[[], Any]) -> Any:
        assert isinstance(function, functools.partial)
        started.append(function.func.__name__)
        return aside(function)

    monkeypatch.setattr(uptodate, "aside", noted)
    return started


def _edit(seeds: Path, _output: Path) -> None:
    path = seeds / "a.txt"
    path.write_text(path.read_text().replace("Alpha", "Alpha, edited"))


def _edit_in_a_subfolder(seeds: Path, _output: Path) -> None:
    path = seeds / "sub" / "c.txt"
    path.write_text(path.read_text().replace("Charlie", "Charlie, edited"))


def _touch(seeds: Path, _output: Path) -> None:
    path = seeds / "a.txt"
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def replace_with_the_same_size_and_mtime(seeds: Path, _output: Path) -> None:
    path = seeds / "a.txt"
    before = path.stat()
    replacement = seeds / "new.tmp"
    replacement.write_text(path.read_text().replace("Alpha", "Omega"))
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    replacement.replace(path)  # same size, same mtime, another inode


def _delete(seeds: Path, _output: Path) -> None:
    (seeds / "b.txt").unlink()


def _add(seeds: Path, _output: Path) -> None:
    (seeds / "d.txt").write_text(seed_text(title="Delta", link="https://e.org/d"))


def _add_in_a_new_subfolder(seeds: Path, _output: Path) -> None:
    (seeds / "new").mkdir()
    (seeds / "new" / "d.txt").write_text(seed_text(title="Delta", link="https://e.org/d"))


def _rename(seeds: Path, _output: Path) -> None:
    (seeds / "a.txt").rename(seeds / "renamed.md")


def _move_into_a_subfolder(seeds: Path, _output: Path) -> None:
    (seeds / "a.txt").rename(seeds / "sub" / "a.txt")


def _delete_an_output_file(_seeds: Path, output: Path) -> None:
    (output / "all.atom.xml").unlink()


def _edit_an_output_file_by_hand(_seeds: Path, output: Path) -> None:
    path = output / "all.rss.xml"
    path.write_bytes(path.read_bytes().replace(b"Alpha", b"Alpha (hand-edited)"))


def _replace_an_output_file_with_the_same_size(_seeds: Path, output: Path) -> None:
    path = output / "all.json"
    data = path.read_bytes()
    path.write_bytes(data.replace(b"Alpha", b"Alpah"))


@pytest.mark.parametrize(
    ("change", "writes"),
    [
        (_edit, True),
        (_edit_in_a_subfolder, True),
        (replace_with_the_same_size_and_mtime, True),
        (_delete, True),
        (_add, True),
        (_add_in_a_new_subfolder, True),
        (_delete_an_output_file, True),
        (_edit_an_output_file_by_hand, True),
        (_replace_an_output_file_with_the_same_size, True),
        # Feeds do not name seed files: the full build finds the same bytes.
        (_touch, False),
        (_rename, False),
        (_move_into_a_subfolder, False),
    ],
)
@pytest.mark.parametrize("looked_at", ["here", "in-children"])
def test_a_change_means_a_full_build(
    change: Change,
    writes: bool,
    config: Config,
    seeds: Path,
    output: Path,
    looked_at: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    change(seeds, output)
    children = _children(monkeypatch) if looked_at == "in-children" else None
    assert report_if_unchanged(config) is None
    assert children is None or children
    assert bool(build(config).written) == writes
    assert _agreed(config) is not None  # the cache knows the new state


@pytest.mark.parametrize(
    "name",
    ["a.txt~", ".#a.txt", "#a.txt#", "a.txt.swp", "draft.tmp", ".hidden.txt", "notes.pdf"],
)
def test_new_litter_or_other_files_change_nothing(
    name: str, config: Config, seeds: Path, output: Path
) -> None:
    (seeds / name).write_text(seed_text(title="Litter", link="https://e.org/litter"))
    (seeds / "sub" / name).write_text("not an article")
    assert _agreed(config) is not None
    assert _titles(output) == ["Alpha", "Bravo", "Charlie"]


def test_a_symlink_loop_in_the_seeds_changes_nothing(config: Config, seeds: Path) -> None:
    (seeds / "sub" / "loop").symlink_to("..", target_is_directory=True)
    assert _agreed(config) is not None


@pytest.mark.parametrize("looked_at", ["here", "in-children"])
def test_names_like_seeds_that_are_not_files_are_listed_as_a_full_build_lists_them(
    config: Config, seeds: Path, looked_at: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check lists names alone first, taking each that matches for a
    file; a folder or a FIFO so named must not make every build a full one,
    and a change in such a folder must still be seen."""
    (seeds / "folder.txt").mkdir()
    (seeds / "folder.txt" / "d.txt").write_text(seed_text(title="Delta", link="https://e.org/d"))
    os.mkfifo(seeds / "pipe.txt")
    (seeds / "link.txt").symlink_to("sub", target_is_directory=True)
    build(config)
    if looked_at == "in-children":
        _children(monkeypatch)
    assert _agreed(config) is not None
    edited = seeds / "folder.txt" / "d.txt"
    edited.write_text(edited.read_text().replace("Delta", "Delta, edited"))
    assert report_if_unchanged(config) is None


def test_a_config_change_means_a_full_build(config: Config, make_config: ConfigFactory) -> None:
    changed = make_config(f"cache_dir: {config.cache_dir}\ntitle: Another title\n")
    assert report_if_unchanged(changed) is None
    assert build(changed).written
    assert _agreed(changed) is not None


def test_an_embargo_coming_due_means_a_full_build(
    config: Config, write_seed: SeedWriter, output: Path
) -> None:
    write_seed(
        "later.txt", title="Later", link="https://e.org/later", published="2030-01-01T00:00:00Z"
    )
    before, after = datetime(2029, 12, 31, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    build(config, now=before)
    assert _agreed(config, before) is not None
    assert report_if_unchanged(config, after) is None
    assert build(config, now=after).written
    assert "Later" in _titles(output)


def test_a_rejected_file_is_reported_the_same_by_the_check(
    config: Config, write_seed: SeedWriter, seeds: Path
) -> None:
    write_seed("sub/bad.txt", "---\ntitle: no link\n---\n")
    write_seed("bad.txt", "---\ntitle: [unclosed\n---\n")
    build(config)
    report = _agreed(config)
    assert report is not None
    assert [error.path for error in report.rejected] == [
        str(seeds / "bad.txt"),
        str(seeds / "sub" / "bad.txt"),
    ]
    assert report.exit_code == 1


def test_warnings_are_reported_the_same_by_the_check(
    config: Config, write_seed: SeedWriter, seeds: Path
) -> None:
    write_seed("sub/warned.txt", link="https://e.org/w1", extra="images: [1]\nheat: x\n")
    write_seed("warned.txt", link="https://e.org/w2", extra="provider: [x]\n")
    build(config)
    report = _agreed(config)
    assert report is not None
    assert [str(warning) for warning in report.warnings] == [
        f"{seeds / 'sub' / 'warned.txt'}: warning: images[0]: expected a mapping with a url;"
        " dropped",
        f"{seeds / 'sub' / 'warned.txt'}: warning: heat: expected a number, got text; dropped",
        f"{seeds / 'warned.txt'}: warning: provider: expected a mapping with name and domain;"
        " dropped",
    ]
    assert report.exit_code == 0


def test_a_dangling_symlink_is_reported_by_every_build(
    config: Config, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (seeds / "gone.txt").symlink_to("missing.txt")
    argv = ["build", "--config", str(seeds.parent / "feeds.yaml"), "--seeds", str(seeds)]
    argv += ["--output", str(config.output)]
    for _ in range(2):
        assert main(argv) == 1
        assert capsys.readouterr().err == (
            f"{seeds / 'gone.txt'}: cannot read file: broken symbolic link\n"
        )
        assert report_if_unchanged(config) is None


def read_catalog(path: Path) -> list[Any]:
    """A catalog's fields, its seed records (saved in chunks after the
    header) as one dict in the place `SEEDS_FIELD` names."""
    with path.open("rb") as stream:
        header = list(marshal.loads(marshal.load(stream)))  # the header, as bytes
        records: dict[str, Any] = {}
        while (chunk := marshal.load(stream)) is not None:
            records.update(marshal.loads(chunk))
    return [*header[:SEEDS_FIELD], records, *header[SEEDS_FIELD:]]


def write_catalog(path: Path, catalog: list[Any]) -> None:
    """Saves ``catalog``: seed records given as a dict as one chunk, and
    given as a tuple, each item as one chunk as it is."""
    records = catalog[SEEDS_FIELD]
    header = (*catalog[:SEEDS_FIELD], *catalog[SEEDS_FIELD + 1 :])
    chunks = (marshal.dumps(records),) if isinstance(records, dict) else records
    items = chunks if isinstance(chunks, tuple) else (chunks,)
    path.write_bytes(b"".join(map(marshal.dumps, (marshal.dumps(header), *items, None))))


def _catalog(config: Config) -> list[Any]:
    return read_catalog(parse_cache(config).catalog_path)


def _save_catalog(config: Config, catalog: list[Any]) -> None:
    write_catalog(parse_cache(config).catalog_path, catalog)


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not a cache at all",
        b"\xe3\x00\x00\x00",  # marshal of garbage
        marshal.dumps(("feeds-parse-cache/4/0.1.0", "x", "t", "k", (), (), ())),  # an old layout
    ],
)
def test_a_corrupt_or_foreign_catalog_means_a_full_build(damage: bytes, config: Config) -> None:
    parse_cache(config).catalog_path.write_bytes(damage)
    assert report_if_unchanged(config) is None
    build(config)
    assert _agreed(config) is not None


@pytest.mark.parametrize("cut", [1, 2], ids=["the end", "into the records"])
def test_a_catalog_cut_short_is_read_again_from_the_seeds(
    cut: int, config: Config, seeds: Path, output: Path, reads: list[str]
) -> None:
    path = parse_cache(config).catalog_path
    path.write_bytes(path.read_bytes()[:-cut])
    (seeds / "b.txt").write_text(seed_text(title="Bravo, edited", link="https://e.org/b"))
    build(config)
    assert sorted(Path(name).name for name in reads) == ["a.txt", "b.txt", "c.txt"]
    assert _titles(output) == ["Alpha", "Bravo, edited", "Charlie"]
    assert _agreed(config) is not None


def _as_a_list(record: tuple[Any, ...]) -> object:
    return list(record)


def _cut_short(record: tuple[Any, ...]) -> object:
    return record[:4]


def _mtime_as_text(record: tuple[Any, ...]) -> object:
    return (str(record[0]), *record[1:])


def _another_inode(record: tuple[Any, ...]) -> object:
    return (record[0], record[1], record[2] + 1, *record[3:])


def _rejected_without_a_reason_as_text(record: tuple[Any, ...]) -> object:
    return (*record[:3], False, 42, ())


def _flag_as_text(record: tuple[Any, ...]) -> object:
    return (*record[:3], "yes", None, ())


def _warnings_as_text(record: tuple[Any, ...]) -> object:
    return (*record[:5], "images: expected a list")


def _a_warning_that_is_not_text(record: tuple[Any, ...]) -> object:
    return (*record[:5], (42,))


def _an_old_record_without_warnings(record: tuple[Any, ...]) -> object:
    return record[:5]


@pytest.mark.parametrize(
    "tamper",
    [
        _as_a_list,
        _cut_short,
        _mtime_as_text,
        _another_inode,
        _rejected_without_a_reason_as_text,
        _flag_as_text,
        _warnings_as_text,
        _a_warning_that_is_not_text,
        _an_old_record_without_warnings,
    ],
)
def test_a_malformed_seed_record_is_never_trusted(
    tamper: Callable[[tuple[Any, ...]], object], config: Config, seeds: Path, output: Path
) -> None:
    _edit(seeds, output)
    build(config)
    catalog = _catalog(config)
    catalog[SEEDS_FIELD]["a.txt"] = tamper(catalog[SEEDS_FIELD]["a.txt"])
    _save_catalog(config, catalog)
    # The seed records are the full build's: it reads a.txt again.
    (seeds / "b.txt").write_text(seed_text(title="Bravo, edited", link="https://e.org/b"))
    build(config)
    assert _titles(output) == ["Alpha, edited", "Bravo, edited", "Charlie"]
    assert _agreed(config) is not None


@pytest.mark.parametrize(
    "records",
    [
        (),
        {"a.txt": (1, 2, 3, True, None, ())},
        "x",
        (marshal.dumps(["a.txt"]),),
        (b"garbage",),
    ],
)
def test_seed_records_of_another_shape_are_never_trusted(
    records: object, config: Config, seeds: Path, output: Path
) -> None:
    catalog = _catalog(config)
    catalog[SEEDS_FIELD] = records
    _save_catalog(config, catalog)
    # A build with nothing to do reads the folder listings, never the records.
    assert _agreed(config) is not None
    (seeds / "b.txt").write_text(seed_text(title="Bravo, edited", link="https://e.org/b"))
    build(config)
    assert _titles(output) == ["Alpha", "Bravo, edited", "Charlie"]
    assert _agreed(config) is not None


def _listing_of_another_count(listings: dict[str, Any]) -> object:
    count, digest = listings[""]
    return {**listings, "": (count + 1, digest)}


def _listing_of_another_digest(listings: dict[str, Any]) -> object:
    count, digest = listings[""]
    return {**listings, "": (count, bytes(len(digest)))}


def _listing_of_a_folder_that_is_gone(listings: dict[str, Any]) -> object:
    return {**listings, "gone/": listings["sub/"]}


def _without_the_listing_of_a_folder(listings: dict[str, Any]) -> object:
    return {key: value for key, value in listings.items() if key != "sub/"}


def _listings_as_a_list(listings: dict[str, Any]) -> object:
    return [list(pair) for pair in listings.items()]


@pytest.mark.parametrize(
    "tamper",
    [
        _listing_of_another_count,
        _listing_of_another_digest,
        _listing_of_a_folder_that_is_gone,
        _without_the_listing_of_a_folder,
        _listings_as_a_list,
    ],
)
def test_folder_listings_not_as_the_seeds_are_mean_a_full_build(
    tamper: Callable[[dict[str, Any]], object], config: Config
) -> None:
    catalog = _catalog(config)
    assert set(dict(catalog[LISTINGS_FIELD])) == {"", "sub/"}
    tampered = tamper(dict(catalog[LISTINGS_FIELD]))
    catalog[LISTINGS_FIELD] = tuple(tampered.items()) if isinstance(tampered, dict) else tampered
    _save_catalog(config, catalog)
    assert report_if_unchanged(config) is None
    build(config)
    assert _agreed(config) is not None


@pytest.mark.parametrize(
    "problem",
    [(42, ()), ("", ()), (None, "a warning"), (None, ("",)), (None,), "rejected"],
)
def test_recorded_problems_of_another_shape_mean_a_full_build(
    problem: object, config: Config
) -> None:
    catalog = _catalog(config)
    assert catalog[PROBLEMS_FIELD] == ()
    catalog[PROBLEMS_FIELD] = (("a.txt", problem),)
    _save_catalog(config, catalog)
    assert report_if_unchanged(config) is None
    build(config)
    assert _agreed(config) is not None


@pytest.mark.parametrize(
    "outputs",
    [
        # As the catalog keeps them: names, sizes, mtimes.
        (("all.atom.xml",), (1,)),
        (("all.atom.xml",), (1,), (2,), (3,)),
        (("all.atom.xml",), ("1",), (2,)),
        ((1,), (1,), (2,)),
        (["all.atom.xml"], (1,), (2,)),
        (("all.atom.xml", "all.rss.xml"), (1,), (2,)),  # a size missing
        (("all.atom.xml",), (1, 2), (3, 4)),
        ((("all.atom.xml", 1, 2),),),  # one record per file, as FORMAT 12 had them
        "all.atom.xml",
    ],
)
def test_output_records_of_another_shape_are_never_trusted(outputs: object, config: Config) -> None:
    catalog = _catalog(config)
    catalog[OUTPUTS_FIELD] = outputs
    _save_catalog(config, catalog)
    assert report_if_unchanged(config) is None


def test_relative_seeds_folders_are_keyed_and_reported_alike(
    write_seed: SeedWriter,
    seeds: Path,
    output: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    write_seed("sub/bad.txt", "---\ntitle: no link\n---\n")
    monkeypatch.chdir(seeds)
    argv = ["build", "--seeds", ".", "--output", str(output), "--cache-dir", str(tmp_path / "c")]
    runs = []
    for _ in range(2):
        runs.append((main(argv), capsys.readouterr().err))
    assert runs == [(1, "sub/bad.txt: missing link: set webUrl or originalUrl\n")] * 2


def test_the_cli_answers_from_the_check_alone(
    config: Config, seeds: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_full_build(*_args: object, **_kwargs: object) -> BuildReport:
        raise AssertionError("a full build")

    monkeypatch.setattr(builder, "rebuild", no_full_build)
    argv = ["build", "--seeds", str(seeds), "--output", str(config.output)]
    argv += ["--cache-dir", str(config.cache_dir)]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("3 articles, ")
    with pytest.raises(AssertionError, match="a full build"):
        main([*argv, "--no-cache"])  # never takes the quick answer


def test_a_build_with_nothing_to_do_imports_no_reader_renderer_or_writer(
    config: Config, seeds: Path
) -> None:
    heavy = [
        "feeds.build.builder",
        "feeds.seeds.reader",
        "feeds.render",
        "feeds.build.writer",
        "feeds.plan.plans",
    ]
    heavy += ["feeds.seeds.text", "frontmatter", "jinja2", "lxml", "feedgen", "ftfy", "nh3"]
    heavy += ["feeds.remote.store", "boto3", "botocore"]  # only a push needs them
    heavy += ["multiprocessing", "concurrent.futures"]  # a pool costs more than the check
    script = (
        "import sys\n"
        "from feeds.cli import main\n"
        f"code = main(sys.argv[1:])\n"
        f"print(code, [name for name in {heavy!r} if name in sys.modules])\n"
    )
    argv = ["build", "-q", "--seeds", str(seeds), "--output", str(config.output)]
    argv += ["--cache-dir", str(config.cache_dir)]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert done.stdout == "0 []\n"


def test_a_file_name_that_is_not_utf8_is_listed_alike(config: Config, seeds: Path) -> None:
    name = os.fsencode(seeds) + b"/caf\xe9.txt"  # Latin-1, as an old tool may name it
    with open(name, "wb") as stream:
        stream.write(seed_text(title="Delta", link="https://e.org/d").encode())
    assert report_if_unchanged(config) is None
    build(config)
    assert _agreed(config) is not None
