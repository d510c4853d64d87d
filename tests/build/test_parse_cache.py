"""The parse cache makes builds fast and never makes them wrong."""

from __future__ import annotations

import hashlib
import itertools
import json
import marshal
import zlib
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.build import parsecache as cache_module
from feeds.build import publisher, records
from feeds.build.oneshot import build
from feeds.build.scanner import Scanner
from feeds.build.uptodate import parse_cache
from feeds.cli import main
from feeds.config import Config
from feeds.errors import ConfigError
from feeds.formats import Format
from feeds.plan.plans import FeedPlan
from tests.build.test_uptodate import (
    read_catalog,
    replace_with_the_same_size_and_mtime,
    write_catalog,
)
from tests.conftest import SeedWriter

ConfigFactory = Callable[..., Config]


def _titles(output: Path) -> list[str]:
    return sorted(item["title"] for item in json.loads((output / "all.json").read_text())["items"])


@pytest.fixture
def config(write_seed: SeedWriter, make_config: ConfigFactory, tmp_path: Path) -> Config:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    write_seed("b.txt", title="Bravo", link="https://e.org/b")
    configured = make_config(f"cache_dir: {tmp_path / 'cache'}")
    build(configured)
    return configured


def test_a_build_with_nothing_changed_does_nothing(config: Config, output: Path) -> None:
    mtimes = {p: p.stat().st_mtime_ns for p in output.rglob("*") if p.is_file()}
    report = build(config)
    assert report.written == []
    assert report.articles == 2
    assert {p: p.stat().st_mtime_ns for p in output.rglob("*") if p.is_file()} == mtimes
    assert list((config.cache_dir or Path()).glob("parse-*.cache"))


def test_an_edit_is_seen(config: Config, seeds: Path, output: Path) -> None:
    path = seeds / "a.txt"
    path.write_text(path.read_text().replace("Alpha", "Alpha, edited"))
    build(config)
    assert _titles(output) == ["Alpha, edited", "Bravo"]


def test_a_same_size_replacement_with_the_old_mtime_is_seen(
    config: Config, seeds: Path, output: Path
) -> None:
    replace_with_the_same_size_and_mtime(seeds, output)
    build(config)
    assert _titles(output) == ["Bravo", "Omega"]


def test_a_touch_without_change_rewrites_nothing(config: Config, seeds: Path, output: Path) -> None:
    (seeds / "a.txt").touch()
    report = build(config)
    assert report.written == []
    assert _titles(output) == ["Alpha", "Bravo"]


def test_delete_and_rename_are_seen(config: Config, seeds: Path, output: Path) -> None:
    (seeds / "b.txt").unlink()
    build(config)
    assert _titles(output) == ["Alpha"]
    (seeds / "a.txt").rename(seeds / "renamed.md")
    report = build(config)
    assert _titles(output) == ["Alpha"]
    assert report.articles == 1


def test_a_deleted_output_file_is_written_again(config: Config, output: Path) -> None:
    (output / "all.atom.xml").unlink()
    report = build(config)
    assert "all.atom.xml" in report.written


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not a cache at all",
        b"\xe3\x00\x00\x00",  # marshal of garbage
        b"\xa9\x06\xda\x1efeeds-parse-cache/1/0.0.0",  # a truncated cache of another version
    ],
)
def test_a_corrupt_or_foreign_cache_is_rebuilt_not_trusted(
    damage: bytes, config: Config, seeds: Path, output: Path
) -> None:
    cache = parse_cache(config).catalog_path
    cache.write_bytes(damage)
    path = seeds / "a.txt"
    path.write_text(path.read_text().replace("Alpha", "Alpha again"))
    build(config)
    assert _titles(output) == ["Alpha again", "Bravo"]
    assert cache.stat().st_size > len(damage)


def test_a_missing_articles_file_means_reading_the_files_again(
    config: Config, seeds: Path, output: Path
) -> None:
    cache = parse_cache(config)
    cache.articles_path.unlink()
    (seeds / "b.txt").touch()  # something changed, so articles are needed
    build(config)
    assert _titles(output) == ["Alpha", "Bravo"]
    assert cache.articles_path.exists()


def _forget_last_publish(config: Config) -> None:
    """Makes the next build need the cached articles (not only the catalog)."""
    path = parse_cache(config).catalog_path
    catalog = read_catalog(path)
    catalog[3] = ""
    write_catalog(path, catalog)


def _article_records(config: Config) -> tuple[Any, list[bytes]]:
    with parse_cache(config).articles_path.open("rb") as stream:
        header, records = marshal.load(stream), []
        while stream.peek(1):
            records.append(marshal.load(stream))
    return header, records


def _write_article_records(config: Config, header: Any, records: list[bytes]) -> None:
    with parse_cache(config).articles_path.open("wb") as stream:
        for value in (header, *records):
            marshal.dump(value, stream)


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    original = Scanner.read

    def counted(scanner: Scanner, path: str) -> bool:
        reads.append(path)
        return original(scanner, path)

    monkeypatch.setattr(Scanner, "read", counted)
    return reads


def test_a_cache_with_tampered_articles_is_never_published(
    config: Config, seeds: Path, output: Path
) -> None:
    _forget_last_publish(config)
    header, records = _article_records(config)
    tampered = [
        marshal.dumps(tuple((key, (packed[0], 12345, *packed[2:])) for key, packed in items))
        for items in map(marshal.loads, records)
    ]
    _write_article_records(config, header, tampered)
    build(config)
    assert _titles(output) == ["Alpha", "Bravo"]  # titles read again from the files


@pytest.fixture
def one_article_per_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "ARTICLES_PER_RECORD", 1)


@pytest.mark.usefixtures("one_article_per_record")
def test_cached_articles_are_read_record_by_record(
    config: Config, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (output / "all.json").unlink()  # a build must publish again, from the cache
    build(config)  # saved again, one article per record
    _forget_last_publish(config)
    assert len(_article_records(config)[1]) == 2
    reads = _counting_reads(monkeypatch)
    build(config)
    assert reads == []
    assert _titles(output) == ["Alpha", "Bravo"]


@pytest.mark.usefixtures("one_article_per_record")
def test_an_articles_file_cut_short_keeps_its_good_records(
    config: Config, seeds: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (output / "all.json").unlink()
    build(config)
    _forget_last_publish(config)
    path = parse_cache(config).articles_path
    header, records = _article_records(config)
    second = marshal.dumps(records[1])
    path.write_bytes(marshal.dumps(header) + marshal.dumps(records[0]) + second[: len(second) // 2])
    reads = _counting_reads(monkeypatch)
    build(config)
    assert reads == [str(seeds / "b.txt")]  # only the article whose record was cut
    assert _titles(output) == ["Alpha", "Bravo"]


def test_no_cache_reads_everything_and_writes_no_cache(
    write_seed: SeedWriter, make_config: ConfigFactory, tmp_path: Path
) -> None:
    write_seed("a.txt")
    configured = make_config(f"cache_dir: {tmp_path / 'nocache'}")
    build(configured, use_cache=False)
    assert not (tmp_path / "nocache").exists()


def test_the_cache_can_never_live_in_the_output_folder(
    make_config: ConfigFactory, output: Path
) -> None:
    with pytest.raises(ConfigError, match="inside the output folder"):
        make_config(f"cache_dir: {output / 'cache'}")


def test_a_rejected_file_stays_reported_from_the_cache(
    config: Config, write_seed: SeedWriter
) -> None:
    write_seed("bad.txt", "---\ntitle: no link\n---\n")
    assert len(build(config).rejected) == 1
    report = build(config)
    assert report.written == []
    assert [error.reason for error in report.rejected] == [
        "missing link: set webUrl or originalUrl"
    ]


def test_a_build_with_nothing_changed_still_reports_the_warnings(
    config: Config, write_seed: SeedWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    warned = write_seed("warned.txt", link="https://e.org/w", extra="images: [1, 2]\n")
    assert len(build(config).warnings) == 2
    report = build(config)
    assert report.written == []
    assert [str(warning) for warning in report.warnings] == [
        f"{warned}: warning: images[0]: expected a mapping with a url; dropped",
        f"{warned}: warning: images[1]: expected a mapping with a url; dropped",
    ]
    argv = ["build", "--seeds", str(config.seeds), "--output", str(config.output)]
    argv += ["--cache-dir", str(config.cache_dir)]
    assert main(argv) == 0  # the CLI's own quick answer, from the cache alone
    out, err = capsys.readouterr()
    assert err.count(": warning: images[") == 2
    assert ", 0 rejected, 2 warnings in " in out


def test_warnings_of_an_unchanged_file_come_from_the_cache_when_another_changed(
    config: Config, write_seed: SeedWriter, seeds: Path, reads: list[str]
) -> None:
    write_seed("warned.txt", link="https://e.org/w", extra="quality: high\n")
    first = build(config).warnings
    reads.clear()
    path = seeds / "a.txt"
    path.write_text(path.read_text().replace("Alpha", "Alpha, edited"))
    report = build(config)
    assert reads == [str(path)]
    assert report.warnings == first
    assert [str(warning) for warning in first] == [
        f"{seeds / 'warned.txt'}: warning: quality: expected a number, got text; dropped"
    ]


def test_settings_of_the_running_daemon_alone_render_nothing_again(
    config: Config,
    make_config: ConfigFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[str] = []
    original = publisher.render_within_budget

    def counted(fmt: Format, plan: FeedPlan, config: Config) -> bytes:
        rendered.append(plan.stem + fmt.suffix)
        return original(fmt, plan, config)

    monkeypatch.setattr(publisher, "render_within_budget", counted)
    daemon_like = make_config(
        f"cache_dir: {tmp_path / 'cache'}\nrescan_interval: 3600\ndebounce_ms: 5\n"
        "rebuild_timeout: 60\n"
        "watch: poll\nserver: {port: 9999, cache_max_age: 5}\n"
    )
    assert build(daemon_like).written == []
    assert rendered == []
    retitled = make_config(f"cache_dir: {tmp_path / 'cache'}\ntitle: Another title\n")
    assert "all.atom.xml" in build(retitled).written


_mtimes = st.integers(-(2**63), 2**63 - 1)
_sizes = st.integers(0, 2**64 - 1)


@given(_mtimes, _sizes, _sizes, _mtimes, _sizes, _sizes)
def test_a_file_version_packs_exactly_and_uniquely(
    mtime: int, size: int, inode: int, other_mtime: int, other_size: int, other_inode: int
) -> None:
    one, other = (mtime, size, inode), (other_mtime, other_size, other_inode)
    assert records.fingerprint_of(records.version_of(one)) == one
    assert (records.version_of(one) == records.version_of(other)) == (one == other)


def test_seed_records_saved_in_chunks_are_all_read_back(
    config: Config, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "SEEDS_PER_CHUNK", 1)
    (output / "all.json").unlink()
    build(config)  # saved again, one seed record per chunk
    header = marshal.loads(marshal.loads(parse_cache(config).catalog_path.read_bytes()))
    assert len(header[5]) == 2
    _forget_last_publish(config)
    reads = _counting_reads(monkeypatch)
    build(config)
    assert reads == []


def _deflated(data: bytes) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, -12, memLevel=4)
    return packer.compress(data) + packer.flush()


_RELATED = (("Title", "https://e.org/r", None, None, None),)


@pytest.mark.parametrize(
    ("field", "blob"),
    [
        (10, b"not a blob"),
        (11, b"not a blob"),
        (11, "text, not bytes"),
        (11, _deflated(marshal.dumps((("T" * (3 << 20), "l", None, None, None),), 0))),  # huge
        (11, _deflated(marshal.dumps(_RELATED, 0)) + b"trailing"),
        (11, _deflated(marshal.dumps(_RELATED, 4))),  # not as the cache writes it
        (11, _deflated(marshal.dumps(((1, "https://e.org/r", None, None, None),), 0))),
        (11, _deflated(marshal.dumps((("T", "https://e.org/r", "yesterday", None, None),), 0))),
        (10, marshal.dumps((("https://e.org/i.png", "wide", None),), 0)),
        (1, b"Alpha \xff"),  # a title that is not UTF-8
        (6, "summary as text, not UTF-8 bytes"),
    ],
    ids=[
        "images-garbage",
        "related-garbage",
        "related-text",
        "related-huge",
        "related-trailing-bytes",
        "related-other-encoding",
        "related-number-title",
        "related-bad-date",
        "images-text-width",
        "title-not-utf8",
        "summary-not-bytes",
    ],
)
def test_damaged_fields_in_the_cache_mean_reading_the_file_again(
    field: int, blob: bytes | str, config: Config, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forget_last_publish(config)
    header, records = _article_records(config)
    tampered = [
        marshal.dumps(
            tuple((key, (*packed[:field], blob, *packed[field + 1 :])) for key, packed in items)
        )
        for items in map(marshal.loads, records)
    ]
    _write_article_records(config, header, tampered)
    reads = _counting_reads(monkeypatch)
    build(config)
    assert sorted(reads) == [str(seeds / "a.txt"), str(seeds / "b.txt")]


def _cache_files(config: Config) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (config.cache_dir or Path()).glob("parse-*")}


def test_a_restart_over_its_own_output_writes_no_cache_and_a_change_does(
    config: Config, seeds: Path, output: Path
) -> None:
    # What the daemon does at each start (Rebuilds): a full scan, a publish,
    # a save. Over its own output and cache, the cache already says it all.
    from feeds.build.builder import Builder

    before = _cache_files(config)
    builder = Builder(config, parse_cache(config))
    builder.scan_all()
    builder.save_cache(builder.publish(force=True))
    assert _cache_files(config) == before

    path = seeds / "a.txt"
    path.write_text(path.read_text().replace("Alpha", "Alpha, edited"))
    builder.update([path])
    builder.save_cache(builder.publish())
    after = _cache_files(config)
    assert after.keys() == before.keys()
    assert all(after[p] != before[p] for p in before)
    # The edit and what it wrote are in the cache: a build has nothing to do.
    assert build(config).written == []
    assert _titles(output) == ["Alpha, edited", "Bravo"]


def _reference_listings(
    items: list[tuple[str, records.SeedRecord]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each folder's names sorted, then one digest of them all: the simple way."""
    folders: dict[str, list[tuple[str, records.SeedRecord]]] = {}
    for key, record in items:
        folder, _, name = key.rpartition("/")
        folders.setdefault(folder, []).append((name, record))
    listings: dict[str, Any] = {}
    for folder, entries in folders.items():
        entries.sort()
        names = [name for name, _ in entries]
        mtimes = [record[0] for _, record in entries]
        sizes = [record[1] for _, record in entries]
        inodes = [record[2] for _, record in entries]
        digest = hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape"))
        try:
            for code, column in (("q", mtimes), ("Q", sizes), ("Q", inodes)):
                digest.update(array(code, column).tobytes())
        except OverflowError:
            continue  # no listing for this folder
        listings[folder + "/" if folder else ""] = (len(names), digest.digest())
    problems = {
        key: problem for key, record in items if (problem := records.problem_of(record)) is not None
    }
    return listings, problems


_names = st.sampled_from(["a.md", "b.md", "é.md", "z/c.md", "z/a.md", "z/y/b.md", "B.md"])
_records = st.builds(
    lambda mtime, size, inode, reason: (
        records.rejection_record((mtime, size, inode), reason)
        if reason
        else records.article_record((mtime, size, inode))
    ),
    st.integers(-(2**63), 2**64),
    st.integers(0, 2**64),
    st.integers(0, 2**64),
    st.sampled_from(["", "no title"]),
)


@given(st.dictionaries(_names, _records), st.booleans())
def test_listings_are_made_in_one_pass_as_the_simple_way_makes_them(
    seeds: dict[str, records.SeedRecord], shuffled: bool
) -> None:
    items = sorted(seeds.items())
    if shuffled:
        items.reverse()
    assert cache_module.listings_of(lambda: iter(items)) == _reference_listings(items)


@given(
    st.lists(st.text("abcé.", min_size=1, max_size=8), unique=True, min_size=1, max_size=12),
    st.lists(st.integers(0, 12), max_size=4),
)
def test_a_listing_made_in_blocks_is_the_listing_made_at_once(
    names: list[str], cuts: list[int]
) -> None:
    names.sort()
    numbers = list(range(len(names)))
    maker = records.ListingMaker()
    edges = [0, *sorted(min(cut, len(names)) for cut in cuts), len(names)]
    for start, end in itertools.pairwise(edges):
        block = slice(start, end)
        maker.add(names[block], numbers[block], numbers[block], numbers[block])
    seeds = [(name, records.article_record((n, n, n))) for n, name in enumerate(names)]
    assert maker.made() == _reference_listings(seeds)[0][""]
