"""`feeds run` as a real process: it keeps the feeds current and behaves as a service."""

from __future__ import annotations

import http.server
import json
import re
import signal
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import seed_text
from tests.daemon_harness import (
    NotifySocket,
    RunningDaemon,
    http_get,
    read_json,
    titles,
    wait_for,
)

CONFIG = """\
title: "Daemon Feeds"
seeds: seeds
output: output
debounce_ms: 50
rescan_interval: 3600
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "feeds.yaml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def daemon(site: Path) -> Iterator[RunningDaemon]:
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def _all(site: Path) -> Path:
    return site / "output" / "all.json"


def _write(site: Path, name: str, **fields: object) -> Path:
    path = site / "seeds" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(seed_text(**fields))  # type: ignore[arg-type]
    return path


def test_added_modified_and_deleted_articles_show_up_in_the_feeds(
    site: Path, daemon: RunningDaemon
) -> None:
    path = _write(site, "a.txt", title="First", link="https://e.org/a")
    wait_for(lambda: titles(_all(site)) == ["First"], what="the new article")
    path.write_text(seed_text(title="First, edited", link="https://e.org/a"))
    wait_for(lambda: titles(_all(site)) == ["First, edited"], what="the edit")
    path.unlink()
    wait_for(lambda: titles(_all(site)) == [], what="the deletion")


def test_an_editors_atomic_save_is_seen(site: Path, daemon: RunningDaemon) -> None:
    _write(site, "a.txt", title="Before", link="https://e.org/a")
    wait_for(lambda: titles(_all(site)) == ["Before"])
    temp = site / "seeds" / ".a.txt.swp"
    temp.write_text(seed_text(title="After", link="https://e.org/a"))
    temp.rename(site / "seeds" / "a.txt")
    wait_for(lambda: titles(_all(site)) == ["After"], what="the renamed-over article")


def test_moves_into_and_within_the_seeds_folder(site: Path, daemon: RunningDaemon) -> None:
    outside = site / "drafts"
    (outside / "batch").mkdir(parents=True)
    (outside / "batch" / "b.txt").write_text(seed_text(title="Moved in", link="https://e.org/b"))
    (outside / "batch").rename(site / "seeds" / "batch")
    wait_for(lambda: titles(_all(site)) == ["Moved in"], what="a folder moved in")
    # Renamed within the folder to a name that is not an article, and back.
    (site / "seeds" / "batch" / "b.txt").rename(site / "seeds" / "b.txt.bak")
    wait_for(lambda: titles(_all(site)) == [], what="a rename to a non-article name")
    (site / "seeds" / "b.txt.bak").rename(site / "seeds" / "b.md")
    wait_for(lambda: titles(_all(site)) == ["Moved in"], what="a rename back")
    (site / "seeds" / "b.md").rename(outside / "b.md")
    wait_for(lambda: titles(_all(site)) == [], what="a move out")


def test_a_broken_file_is_reported_and_the_good_ones_stay(
    site: Path, daemon: RunningDaemon
) -> None:
    good = _write(site, "good.txt", title="Good", link="https://e.org/good")
    wait_for(lambda: titles(_all(site)) == ["Good"])
    bad = site / "seeds" / "bad.txt"
    bad.write_text('---\ntitle: [unclosed\nsecured: "S3CRET-VALUE"\n---\n')
    daemon.wait_for_log(rf"{bad}: invalid YAML")
    # A half-finished edit of a good article keeps its last good version.
    good.write_text("---\ntitle: 'Good, half-edit\n")
    daemon.wait_for_log(rf"{good}: .*last good version stays published")
    assert titles(_all(site)) == ["Good"]
    assert daemon.process.poll() is None
    good.write_text(seed_text(title="Good again", link="https://e.org/good"))
    wait_for(lambda: titles(_all(site)) == ["Good again"])
    assert "S3CRET" not in daemon.log


def _health(daemon: RunningDaemon) -> dict[str, Any]:
    status, _, body = http_get(daemon.url("healthz"))
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def test_a_files_warnings_are_logged_once_per_version_of_the_file(
    site: Path, daemon: RunningDaemon
) -> None:
    broken = "images: [{url: 'https://e.org/1.png'}, 42]\n"
    path = _write(site, "warned.txt", title="Warned", link="https://e.org/w", extra=broken)
    line = f"{path}: warning: images[1]: expected a mapping with a url; dropped"
    wait_for(lambda: titles(_all(site)) == ["Warned"], what="the warned article, published")
    daemon.wait_for_log(re.escape(line))
    # Rebuilds for other files, and a full rescan, do not read it again.
    _write(site, "other.txt", title="Other", link="https://e.org/other")
    wait_for(lambda: "Other" in titles(_all(site)), what="another article")
    wait_for(lambda: _health(daemon)["idle"], what="the rebuild for it to end")
    before = _health(daemon)["rebuilds"]
    daemon.signal(signal.SIGHUP)  # the same config: reloaded, then everything rescanned
    daemon.wait_for_log("config reloaded")

    def rescanned() -> bool:
        health = _health(daemon)
        return bool(health["idle"]) and health["rebuilds"] > before

    wait_for(rescanned, what="the rescan")
    assert daemon.log.count(line) == 1
    assert _health(daemon)["warnings"] == 1
    # A new version of the file is read, and its warnings logged, again.
    path.write_text(seed_text(title="Warned, edited", link="https://e.org/w", extra=broken))
    wait_for(lambda: "Warned, edited" in titles(_all(site)), what="the edit")
    wait_for(lambda: daemon.log.count(line) == 2, what="the warning of the new version")
    assert "Traceback" not in daemon.log


def test_an_embargoed_article_appears_at_its_time(site: Path, daemon: RunningDaemon) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    _write(site, "later.txt", title="Later", link="https://e.org/later", published=due.isoformat())
    _write(site, "now.txt", title="Now", link="https://e.org/now")
    wait_for(lambda: titles(_all(site)) == ["Now"])
    assert datetime.now(UTC) < due, "the machine was too slow to observe the embargo"
    wait_for(lambda: "Later" in titles(_all(site)), timeout=due.timestamp() - time.time() + 10)
    late_by = datetime.now(UTC) - due
    assert late_by < timedelta(seconds=2), f"published {late_by} after its time"


def test_served_feeds_answer_conditional_gets_and_refuse_traversal(
    site: Path, daemon: RunningDaemon
) -> None:
    (site / "secret.txt").write_text("top secret")
    status, headers, body = http_get(daemon.url("all.atom.xml"))
    assert status == 200
    assert headers["content-type"].startswith("application/atom+xml")
    etag = headers["etag"]
    status, _, _ = http_get(daemon.url("all.atom.xml"), {"If-None-Match": etag})
    assert status == 304
    for path in ("../secret.txt", "%2e%2e/secret.txt", "..%2fsecret.txt"):
        status, _, body = http_get(daemon.url(path))
        assert b"top secret" not in body
        assert status in (400, 404)
    status, headers, body = http_get(daemon.url("healthz"))
    assert status == 200
    assert json.loads(body)["ok"] is True


def test_sighup_reloads_a_good_config_and_keeps_the_old_one_on_a_bad(
    site: Path, daemon: RunningDaemon
) -> None:
    _write(site, "a.txt", link="https://e.org/a")
    wait_for(lambda: (read_json(_all(site)) or {}).get("items"))
    config = site / "feeds.yaml"
    config.write_text(CONFIG.replace("Daemon Feeds", "Renamed Feeds"))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: (read_json(_all(site)) or {}).get("title") == "Renamed Feeds")
    config.write_text(CONFIG + "max_itmes: 3\n")
    daemon.signal(signal.SIGHUP)
    daemon.wait_for_log(r"reload failed, keeping the running config: .*did you mean 'max_items'")
    _write(site, "b.txt", title="After bad reload", link="https://e.org/b")
    wait_for(lambda: "After bad reload" in titles(_all(site)), what="still working")
    assert (read_json(_all(site)) or {}).get("title") == "Renamed Feeds"


def test_a_reload_with_another_reading_setting_or_strictness_reads_the_seeds_again(
    site: Path, daemon: RunningDaemon
) -> None:
    words = " ".join(f"word{n}" for n in range(40))
    _write(site, "a.txt", link="https://e.org/a", extra=f'excerpt: "{words}"\n')
    broken = "images: [42]\n"
    _write(site, "b.txt", title="Warned", link="https://e.org/b", extra=broken)
    wait_for(lambda: len(titles(_all(site))) == 2, what="both articles")
    config = site / "feeds.yaml"
    # A reading setting: the unchanged files are read again, cut shorter.
    config.write_text(CONFIG + "summary_length: 60\n")
    daemon.signal(signal.SIGHUP)

    def summaries() -> list[str]:
        return [item.get("summary", "") for item in (read_json(_all(site)) or {}).get("items", [])]

    wait_for(lambda: max(map(len, summaries())) <= 60, what="the summaries cut again")
    # Strictness: the article with a warning is rejected without an edit.
    config.write_text(CONFIG + "summary_length: 60\nstrict: true\n")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "Warned" not in titles(_all(site)), what="the warned article, rejected")


def test_sigterm_stops_cleanly_within_five_seconds(site: Path, daemon: RunningDaemon) -> None:
    started = time.monotonic()
    daemon.signal(signal.SIGTERM)
    code = daemon.process.wait(timeout=10)
    assert code == 0, daemon.log
    assert time.monotonic() - started < 5
    assert "Traceback" not in daemon.log


def test_systemd_notifications(site: Path) -> None:
    notify = NotifySocket(site / "notify.sock")
    running = RunningDaemon(
        site / "feeds.yaml",
        "--no-serve",
        env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "400000"},
    )
    try:
        wait_for(lambda: "READY=1" in notify.messages, what="READY=1")
        wait_for(lambda: notify.messages.count("WATCHDOG=1") >= 2, what="watchdog pings")
        assert running.stop() == 0
        assert "STOPPING=1" in notify.messages
    finally:
        running.stop()
        notify.close()


def test_bad_config_at_start_exits_2_without_traceback(site: Path) -> None:
    (site / "feeds.yaml").write_text(CONFIG + "colour: blue\n")
    running = RunningDaemon(site / "feeds.yaml")
    assert running.process.wait(timeout=30) == 2
    running.stop()
    assert "unknown key 'colour'" in running.log
    assert "Traceback" not in running.log


class _Hub(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, list[str]]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append(urllib.parse.parse_qs(self.rfile.read(length).decode()))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    received: list[dict[str, list[str]]] = []
    handler = type("Hub", (_Hub,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", received
    finally:
        server.shutdown()
        server.server_close()


def test_changed_feeds_are_pushed_to_the_hub_and_announced_in_link_headers(
    site: Path, hub: tuple[str, list[dict[str, list[str]]]]
) -> None:
    hub_url, received = hub
    (site / "feeds.yaml").write_text(CONFIG + f'websub:\n  hubs: ["{hub_url}"]\n')
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        received.clear()
        _write(site, "a.txt", link="https://e.org/a", topics=("Robots",))

        def pushed() -> set[str]:
            return {url for form in received for url in form.get("hub.url", [])}

        base = "http://127.0.0.1:8080/"
        expected = {
            f"{base}{stem}{suffix}"
            for stem in ("all", "topics/robots")
            for suffix in (".atom.xml", ".rss.xml", ".json")
        }
        wait_for(lambda: expected <= pushed(), what="hub notifications")
        assert all(form["hub.mode"] == ["publish"] for form in received)
        status, headers, _ = http_get(running.url("topics/robots.rss.xml"))
        assert status == 200
        assert headers["link"] == (
            f'<{hub_url}>; rel="hub", <{base}topics/robots.rss.xml>; rel="self"'
        )
    finally:
        running.stop()


def test_only_the_chosen_formats_are_pushed_to_the_hub(
    site: Path, hub: tuple[str, list[dict[str, list[str]]]]
) -> None:
    """Feed pages and formats turned off are never announced."""
    hub_url, received = hub
    (site / "feeds.yaml").write_text(CONFIG + f'formats: [rss]\nwebsub:\n  hubs: ["{hub_url}"]\n')
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        _write(site, "a.txt", link="https://e.org/a", topics=("Robots",))

        def pushed() -> set[str]:
            return {url for form in received for url in form.get("hub.url", [])}

        base = "http://127.0.0.1:8080/"
        expected = {f"{base}all.rss.xml", f"{base}topics/robots.rss.xml"}
        wait_for(lambda: expected <= pushed(), what="hub notifications")
        # A later build (another save) pushes again: whatever else was due is in by then.
        _write(site, "b.txt", link="https://e.org/b", topics=("Robots",))
        wait_for(lambda: len(received) > len(expected), what="the second push")
        assert {url for url in pushed() if not url.endswith(".rss.xml")} == set()
    finally:
        running.stop()


def test_a_save_during_the_first_build_is_not_lost(site: Path) -> None:
    from bench.corpus import write_corpus

    write_corpus(site / "seeds", 1500)
    running = RunningDaemon(site / "feeds.yaml", "--no-serve")
    try:
        # The output folder appears when the first build starts writing.
        wait_for(lambda: (site / "output").is_dir(), what="the first build to start writing")
        assert not any(" ready" in line for line in running.lines), "first build too fast to test"
        _write(
            site,
            "late.txt",
            title="Saved during the first build",
            link="https://e.org/late",
            published="2026-01-01T00:00:00Z",  # newer than the whole corpus
        )
        running.wait_ready()
        wait_for(
            lambda: "Saved during the first build" in titles(_all(site)),
            what="the article saved during the first build",
        )
    finally:
        running.stop()
