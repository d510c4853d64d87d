"""Article bodies kept in a file of the cache folder (`feeds.build.bodies`):
an article so kept is the article it was, the file has no name anyone else
can open, garbage is reclaimed, and a store that fails costs memory, not a
build."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bench.corpus import write_corpus
from feeds.build import bodies
from feeds.build.bodies import BodyStore, StoredBody
from feeds.build.builder import Builder
from feeds.build.seedset import SeedSet
from feeds.build.uptodate import parse_cache
from feeds.config import Config, load_config
from feeds.errors import CacheError
from feeds.model import Article
from feeds.render.common import entry_html
from feeds.render.entries import atom_entry, rss_item
from tests.plan.test_archive_periods import numbered_article
from tests.render.test_entries import articles

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _parts(article: Article) -> tuple[object, ...]:
    return (
        article.title,
        article.summary_html,
        tuple(article.images),
        tuple(article.related),
        article.sizes(),
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(article=articles())
def test_a_stored_article_is_the_article_it_was(article: Article, tmp_path: Path) -> None:
    stored = BodyStore(tmp_path).kept(article)
    assert isinstance(stored.body, StoredBody)
    assert stored == article
    assert article == stored
    assert hash(stored) == hash(article)
    assert _parts(stored) == _parts(article)
    html = entry_html(article)
    assert entry_html(stored) == html
    assert atom_entry(stored, html) is not None  # built from the stored parts, without error
    assert rss_item(stored, html) is not None


def _seed_set(tmp_path: Path, count: int) -> tuple[SeedSet, BodyStore, list[Article]]:
    store = BodyStore(tmp_path / "cache")
    seeds = SeedSet(strict=False, bodies=store)
    originals = []
    for number in range(count):
        article = _article(number, "first")
        originals.append(article)
        seeds.record(f"s{number}.md", number, article, None)
    return seeds, store, originals


def _article(number: int, version: str) -> Article:
    return numbered_article(number, NOW, summary=1000, title=f"Title {number} {version}")


def test_the_seed_set_keeps_its_articles_bodies_in_the_store(tmp_path: Path) -> None:
    seeds, _, originals = _seed_set(tmp_path, 5)
    kept = list(seeds.articles())
    assert all(isinstance(article.body, StoredBody) for article in kept)
    assert kept == originals


def test_the_store_file_has_no_name_in_the_cache_folder(tmp_path: Path) -> None:
    seeds, _, _ = _seed_set(tmp_path, 3)
    assert list((tmp_path / "cache").iterdir()) == []
    assert [article.title for article in seeds.articles()] == [
        f"Title {number} first" for number in range(3)
    ]


def test_garbage_is_copied_away_once_it_outweighs_the_live_bodies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies, "MIN_GARBAGE", 0)
    seeds, store, _ = _seed_set(tmp_path, 20)
    first = store._file
    for round_ in range(3):
        for number in range(20):
            seeds.record(f"s{number}.md", 100 + number, _article(number, f"r{round_}"), None)
    assert store._file is not first
    assert sorted(article.title for article in seeds.articles()) == sorted(
        f"Title {number} r2" for number in range(20)
    )
    # The file holds the live bodies and at most as much garbage again.
    live = sum(article.body.length for article in seeds.articles())  # type: ignore[union-attr]
    assert store._file is not None
    assert store._file.end <= 2 * live


def test_an_article_still_planned_reads_its_body_after_the_file_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies, "MIN_GARBAGE", 0)
    seeds, _, _ = _seed_set(tmp_path, 4)
    planned = list(seeds.articles())  # as a plan holds them
    for round_ in range(4):
        for number in range(4):
            seeds.record(
                f"s{number}.md", 10 * round_ + number, _article(number, f"r{round_}"), None
            )
    assert [article.title for article in planned] == [f"Title {n} first" for n in range(4)]


def test_a_cache_folder_that_cannot_be_written_keeps_bodies_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    store = BodyStore(blocked / "cache")
    article = _article(1, "first")
    with caplog.at_level(logging.WARNING, "feeds.cache"):
        kept = store.kept(article)
        again = store.kept(_article(2, "first"))
    assert kept is article
    assert not isinstance(again.body, StoredBody)
    assert [record.getMessage() for record in caplog.records] == [
        f"cannot keep article texts in the cache folder {blocked / 'cache'} "
        "(Not a directory); keeping them in memory"
    ]


def _failing_read(_descriptor: int, _length: int, _offset: int) -> bytes:
    raise OSError(5, "Input/output error")


def _damaged_read(_descriptor: int, length: int, _offset: int) -> bytes:
    return b"\xff" * length


@pytest.mark.parametrize(
    ("read", "reason"), [(_failing_read, "Input/output error"), (_damaged_read, "damaged")]
)
def test_a_body_that_cannot_be_read_back_is_a_cache_error_in_our_words(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    read: Callable[[int, int, int], bytes],
    reason: str,
) -> None:
    stored = BodyStore(tmp_path).kept(_article(1, "first"))
    monkeypatch.setattr(os, "pread", read)
    with pytest.raises(CacheError) as raised:
        _ = stored.title
    assert str(raised.value) == (
        f"cannot read back an article's text from the cache folder ({reason})"
    )


def _config(seeds: Path, output: Path, cache: Path) -> Config:
    path = output.parent / f"{output.name}.yaml"
    path.write_text(f"archives: true\ncache_dir: {cache}\n", encoding="utf-8")
    return load_config(path, seeds=seeds, output=output)


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*.*")}


def test_a_build_with_stored_bodies_writes_what_one_in_memory_writes(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    write_corpus(seeds, 300)
    in_memory = _config(seeds, tmp_path / "memory", tmp_path / "cache-memory")
    stored = _config(seeds, tmp_path / "stored", tmp_path / "cache-stored")
    plain = Builder(in_memory)
    plain.scan_all()
    plain.publish(NOW)
    kept = Builder(stored, parse_cache(stored))
    kept.scan_all()
    kept.publish(NOW)
    assert all(isinstance(article.body, StoredBody) for article in kept.scan_result().articles)
    assert not any(isinstance(article.body, StoredBody) for article in plain.scan_result().articles)
    assert _files(tmp_path / "stored") == _files(tmp_path / "memory")


def test_a_killed_process_leaves_no_store_behind(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from tests.build.test_bodies import _seed_set
        from pathlib import Path
        seeds, store, _ = _seed_set(Path({str(tmp_path)!r}), 50)
        print("kept", flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == b"kept\n"
            assert list(cache.iterdir()) == []
        finally:
            process.kill()
    assert list(cache.iterdir()) == []
