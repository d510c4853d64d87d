"""What a feed reader sees: valid, stable, ordered, deterministic feeds."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feeds.build.oneshot import build
from feeds.build.writer import OutputFolder
from feeds.config import Config
from feeds.errors import OutputError
from feeds.system.folders import MARKER
from tests.conftest import SAMPLES, SeedWriter

ATOM = "{http://www.w3.org/2005/Atom}"
ConfigFactory = Callable[..., Config]


def _copy_samples(seeds: Path) -> None:
    for sample in SAMPLES.iterdir():
        shutil.copy(sample, seeds / sample.name)


def _snapshot(output: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(output).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in output.rglob("*")
        if path.is_file()
    }


def test_samples_give_combined_and_per_topic_feeds_in_three_formats(
    seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    report = build(make_config())
    names = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    assert names == [
        MARKER,
        "all.atom.xml",
        "all.html",
        "all.json",
        "all.rss.xml",
        "feeds.opml",
        "index.html",
        "topics/ai.atom.xml",
        "topics/ai.html",
        "topics/ai.json",
        "topics/ai.rss.xml",
        "topics/computer-vision.atom.xml",
        "topics/computer-vision.html",
        "topics/computer-vision.json",
        "topics/computer-vision.rss.xml",
    ]
    assert (report.articles, report.feeds, len(report.written)) == (2, 3, 14)


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml", "topics/ai.atom.xml"])
def test_xml_feeds_parse_back_without_errors(
    name: str, seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    build(make_config("base_url: https://feeds.example.org/sub"))
    parsed = feedparser.parse((output / name).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == [
        "Cops Elude Baltimore Ban on Facial Recognition Technology",
        "Minneapolis passes restrictions on facial recognition use by local police",
    ]
    first = parsed.entries[0]
    assert first.link.startswith("https://thecrimereport.org/2021/06/15/")
    assert first.id.startswith("urn:uuid:")
    assert first.published_parsed[:5] == (2021, 6, 15, 15, 20)
    assert first.author == "thecrimereport.org"
    assert {tag.term for tag in first.tags} == {"Computer Vision", "AI", "news"}
    assert "facial recognition technology" in first.summary
    content = first.content[0].value
    assert 'src="https://thecrimereport.org/wp-content/uploads/2018/04/' in content
    assert (
        "https://mynorthwest.com/2963886/king-county-facial-recognition-ban-misguided/" in content
    )
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == [f"https://feeds.example.org/sub/{name}"]


def test_json_feed_is_version_1_1_with_items(
    seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    build(make_config())
    document = json.loads((output / "topics" / "computer-vision.json").read_text("utf-8"))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == "http://127.0.0.1:8080/topics/computer-vision.json"
    assert document["title"] == "Feeds: Computer Vision"
    item = document["items"][0]
    assert item["id"].startswith("urn:uuid:")
    assert item["date_published"] == "2021-06-15T15:20:00+00:00"
    assert item["authors"] == [{"name": "thecrimereport.org", "url": "https://thecrimereport.org/"}]
    assert item["tags"] == ["Computer Vision", "AI", "news"]
    assert "<" not in item["summary"]


def test_atom_meets_the_validator_rules(
    seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    build(make_config())
    feed = etree.parse(output / "all.atom.xml").getroot()
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None, required
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    for entry in feed.iter(f"{ATOM}entry"):
        alternates = entry.findall(f"{ATOM}link[@rel='alternate']")
        assert len(alternates) == 1
        for required in ("id", "title", "updated"):
            assert entry.find(f"{ATOM}{required}") is not None, required
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "")


def test_rss_meets_the_validator_rules(
    seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    build(make_config())
    channel = etree.parse(output / "all.rss.xml").getroot().find("channel")
    assert channel is not None
    assert channel.findtext("link") == "http://127.0.0.1:8080/"
    assert channel.findtext("description")
    assert channel.find("{http://www.w3.org/2005/Atom}link[@rel='self']") is not None
    last_build = parsedate_to_datetime(channel.findtext("lastBuildDate") or "")
    assert last_build == datetime(2021, 6, 15, 15, 20, tzinfo=UTC)
    for item in channel.iter("item"):
        assert item.findtext("guid")
        parsedate_to_datetime(item.findtext("pubDate") or "")  # RFC 822 or raises


def test_via_link_appears_when_the_original_differs(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed(
        "a.txt",
        link="https://example.org/copy",
        extra='originalUrl: "https://source.example.com/original"\n',
    )
    build(make_config())
    entry = feedparser.parse((output / "all.atom.xml").read_bytes()).entries[0]
    rels = sorted((link.rel, link.href) for link in entry.links)
    assert rels == [
        ("alternate", "https://example.org/copy"),
        ("via", "https://source.example.com/original"),
    ]


def test_feed_updated_is_newest_entry_update_never_the_clock(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed(
        "old.txt",
        link="https://e.org/old",
        published="2020-01-01T00:00:00Z",
        extra="updatedDateTime: 2023-03-03T03:03:03Z\n",
    )
    write_seed("new.txt", link="https://e.org/new", published="2022-01-01T00:00:00Z")
    build(make_config())
    parsed = feedparser.parse((output / "all.atom.xml").read_bytes())
    assert parsed.feed.updated == "2023-03-03T03:03:03+00:00"
    assert [e.link for e in parsed.entries] == ["https://e.org/new", "https://e.org/old"]


def test_newest_first_then_id_and_capped_at_max_items(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    for day in range(1, 8):
        write_seed(f"{day}.txt", link=f"https://e.org/{day}", published=f"2024-01-0{day}")
    write_seed("tie.txt", link="https://e.org/tie", published="2024-01-07")
    build(make_config("max_items: 3"))
    items = json.loads((output / "all.json").read_text("utf-8"))["items"]
    assert len(items) == 3
    tied = sorted(
        [i for i in items if i["date_published"].startswith("2024-01-07")],
        key=lambda i: i["id"],
        reverse=True,
    )
    assert items[:2] == tied
    assert items[2]["url"] == "https://e.org/6"


def test_published_only_switch_hides_drafts(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("draft.txt", link="https://e.org/draft", extra="published: false\n")
    write_seed("live.txt", link="https://e.org/live", extra="published: true\n")
    build(make_config("published_only: true"))
    items = json.loads((output / "all.json").read_text("utf-8"))["items"]
    assert [item["url"] for item in items] == ["https://e.org/live"]
    build(make_config("published_only: false"))
    items = json.loads((output / "all.json").read_text("utf-8"))["items"]
    assert len(items) == 2


def test_future_articles_wait_for_their_time(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("later.txt", link="https://e.org/later", published="2030-01-01T00:00:00Z")
    config = make_config()
    build(config, now=datetime(2029, 12, 31, tzinfo=UTC))
    assert json.loads((output / "all.json").read_text("utf-8"))["items"] == []
    build(config, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert len(json.loads((output / "all.json").read_text("utf-8"))["items"]) == 1


def test_titles_are_text_and_content_is_sanitised(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed(
        "x.txt",
        title="<b>Bold</b> & <script>alert(1)</script>",
        extra=(
            'excerpt: "Hi <script>alert(2)</script><a href=\\"javascript:alert(3)\\"'
            ' onclick=\\"alert(4)\\">x</a>"\n'
        ),
    )
    build(make_config())
    atom = (output / "all.atom.xml").read_bytes()
    parsed = feedparser.parse(atom)
    assert parsed.entries[0].title == "<b>Bold</b> & <script>alert(1)</script>"
    assert b"<title>&lt;b&gt;Bold&lt;/b&gt; &amp; &lt;script&gt;" in atom
    for document in (
        atom,
        (output / "all.rss.xml").read_bytes(),
        (output / "all.json").read_bytes(),
    ):
        text = document.decode("utf-8")
        for forbidden in ("alert(2)", "alert(3)", "alert(4)", "javascript:", "onclick"):
            assert forbidden not in text


def test_control_characters_never_reach_the_xml(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("x.txt", title="Bell\\x07 and form\\x0cfeed", extra='excerpt: "nul\\0 here"\n')
    build(make_config())
    for name in ("all.atom.xml", "all.rss.xml"):
        parsed = feedparser.parse((output / name).read_bytes())
        assert not parsed.bozo
        assert parsed.entries[0].title == "Bell and formfeed"


def test_two_builds_give_identical_bytes_and_untouched_mtimes(
    seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    config = make_config()
    build(config)
    first = _snapshot(output)
    report = build(config)
    assert _snapshot(output) == first
    assert report.written == []
    assert report.unchanged == 14


def test_same_input_in_another_folder_gives_the_same_bytes(
    tmp_path: Path, seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    build(make_config())
    other = tmp_path / "elsewhere"
    shutil.copytree(seeds, other / "seeds")
    config = make_config().model_copy(update={"seeds": other / "seeds", "output": other / "out"})
    build(config)
    assert {k: v[0] for k, v in _snapshot(output).items()} == {
        k: v[0] for k, v in _snapshot(other / "out").items()
    }


def test_a_topic_without_articles_loses_its_feed(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    path = write_seed("a.txt", topics=("Robots",))
    config = make_config()
    build(config)
    (output / "topics" / "notes.md").write_text("mine")  # not ours: left alone
    assert (output / "topics" / "robots.atom.xml").exists()
    path.write_text(path.read_text().replace("Robots", "Drones"))
    report = build(config)
    assert not (output / "topics" / "robots.atom.xml").exists()
    assert sorted(report.removed) == [
        "topics/robots.atom.xml",
        "topics/robots.html",
        "topics/robots.json",
        "topics/robots.rss.xml",
    ]
    assert (output / "topics" / "notes.md").read_text() == "mine"


def test_topics_sharing_a_slug_get_two_feeds(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("a.txt", link="https://e.org/a", topics=("C++",))
    write_seed("b.txt", link="https://e.org/b", topics=("C",))
    build(make_config())
    feeds = sorted(p.name for p in (output / "topics").glob("*.json"))
    assert len(feeds) == 2
    titles = {json.loads((output / "topics" / f).read_text())["title"] for f in feeds}
    assert titles == {"Feeds: C++", "Feeds: C"}


def test_files_are_world_readable_and_no_temp_files_remain(
    seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    old_umask = os.umask(0o077)
    try:
        build(make_config())
    finally:
        os.umask(old_umask)
    for path in output.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
            assert not path.name.startswith(".") or path.name == MARKER, path


def test_leftover_temp_files_from_a_crash_are_removed(
    seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    _copy_samples(seeds)
    (output / "topics").mkdir(parents=True)
    (output / MARKER).write_text("")  # the build that crashed had made the folder
    leftover = output / "topics" / ".feeds-abc123.tmp"
    leftover.write_bytes(b"<feed>half")
    build(make_config())
    assert not leftover.exists()


def test_a_failed_write_keeps_the_last_good_feed(
    seeds: Path, output: Path, make_config: ConfigFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_samples(seeds)
    config = make_config()
    build(config)
    good = (output / "all.atom.xml").read_bytes()
    (seeds / "000_10faea11f67d5a72.txt").unlink()

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OutputError, match="No space left on device"):
        build(config)
    assert (output / "all.atom.xml").read_bytes() == good
    assert not [p for p in output.rglob(".*") if p.is_file() and p.name != MARKER]


def test_writer_refuses_paths_outside_the_output_folder(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    folder.prepare()
    for bad in ("../escape.xml", "/etc/passwd", "topics/../../escape.xml"):
        with pytest.raises(OutputError):
            folder.write(bad, b"x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "topics").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError):
        folder.write("topics/a.json", b"x")
    assert not list((tmp_path / "elsewhere").iterdir())
