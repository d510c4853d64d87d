"""`feeds run` started again over its own parse cache and output: ready as
soon as the cache proves the feeds on disk correct for the seeds on disk,
without rendering them again; the builder's state is loaded afterwards, in
the background, and nothing asked meanwhile is lost."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import seed_text
from tests.daemon_harness import RunningDaemon, http_get, read_json, titles, wait_for
from tests.service.test_daemon import hub
from tests.service.test_metrics import samples, value

CONFIG = """\
title: "Restart Feeds"
seeds: seeds
output: output
debounce_ms: 50
rescan_interval: 3600
"""
SLOW_LOAD = Path(__file__).resolve().parent.parent / "slow_load.py"
#: Seconds the slowed load spends on each cached article: the few seeds
#: below then load for far longer than any step of these tests takes.
UNPACK_DELAY = "1.0"
#: Identities of files: (inode, mtime_ns, size) by path.
Identities = dict[str, tuple[int, int, int]]
#: The log line of a start proven current.
PROVEN = "the output is current"
#: A WebSub hub's address, and the forms it received (`tests.service.test_daemon.hub`).
Hub = tuple[str, list[dict[str, list[str]]]]
__all__ = ["hub"]  # a fixture


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "feeds.yaml").write_text(CONFIG)
    for number in range(12):
        _write(tmp_path, f"s{number}.txt", title=f"Seed {number}", link=f"https://e.org/{number}")
    return tmp_path


def _write(site: Path, name: str, **fields: object) -> None:
    (site / "seeds" / name).write_text(seed_text(**fields))  # type: ignore[arg-type]


def _all(site: Path) -> Path:
    return site / "output" / "all.json"


def _identities(folder: Path) -> Identities:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            info = path.stat()
            found[str(path.relative_to(folder))] = (info.st_ino, info.st_mtime_ns, info.st_size)
    return found


def _health(daemon: RunningDaemon) -> dict[str, Any]:
    status, _, body = http_get(daemon.url("healthz"))
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def _metric(daemon: RunningDaemon, name: str) -> float:
    _, _, body = http_get(daemon.url("metrics"))
    return value(samples(body.decode()), name)


def _first_run(site: Path) -> None:
    """A daemon's whole life: its first build, then a clean stop."""
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        wait_for(lambda: _health(running)["idle"], what="the first build to end")
    finally:
        assert running.stop() == 0, running.log


@pytest.fixture
def restarted(site: Path) -> Iterator[RunningDaemon]:
    """The daemon started again after a first run, its load slowed down."""
    _first_run(site)
    with _restarted_slowly(site) as running:
        yield running


@contextlib.contextmanager
def _restarted_slowly(site: Path) -> Iterator[RunningDaemon]:
    """The daemon started again after a first run, its load slowed down."""
    running = RunningDaemon(
        site / "feeds.yaml",
        env={"FEEDS_TEST_UNPACK_DELAY": UNPACK_DELAY},
        wrapper=[sys.executable, str(SLOW_LOAD)],
    )
    try:
        running.wait_ready()
        assert PROVEN in running.log
        yield running
    finally:
        running.stop()


def test_a_restart_over_unchanged_seeds_and_output_renders_and_writes_nothing(
    site: Path, private_cache_home: Path
) -> None:
    _first_run(site)
    output, cache = _identities(site / "output"), _identities(private_cache_home)
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        running.wait_for_log(r"loaded 12 articles in .*; the output was current")
        assert PROVEN in running.log
        assert _health(running)["loading"] is False
        assert _health(running)["articles"] == 12
        assert _metric(running, "feeds_documents_rendered_total") == 0
        assert _metric(running, "feeds_files_written_total") == 0
        assert _identities(site / "output") == output
        assert running.stop() == 0, running.log
    finally:
        running.stop()
    # The cache already said all this: it is not written again.
    assert _identities(private_cache_home) == cache


def test_a_seed_changed_while_stopped_is_published_before_ready(site: Path) -> None:
    _first_run(site)
    _write(site, "s3.txt", title="Edited while stopped", link="https://e.org/3")
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        # At once: ready means the feeds on disk are those of the seeds on disk.
        assert "Edited while stopped" in titles(_all(site))
        assert PROVEN not in running.log
    finally:
        running.stop()


def test_a_save_right_after_ready_reaches_the_feed(site: Path, restarted: RunningDaemon) -> None:
    _write(site, "new.txt", title="Saved right after ready", link="https://e.org/new")
    assert _health(restarted)["loading"] is True, "the load ended too soon to test"
    wait_for(
        lambda: "Saved right after ready" in titles(_all(site)),
        timeout=60,
        what="the save, published once the state is loaded",
    )
    assert _health(restarted)["loading"] is False


def test_during_the_load_healthz_and_metrics_give_the_last_publish(
    restarted: RunningDaemon,
) -> None:
    health = _health(restarted)
    assert (health["ok"], health["loading"], health["articles"]) == (True, True, 12)
    assert health["last_build"] is not None
    _, _, body = http_get(restarted.url("metrics"))
    found = samples(body.decode())
    assert value(found, "feeds_articles", state="visible") == 12
    assert value(found, "feeds_last_publish_timestamp_seconds") > 0
    assert value(found, "feeds_documents_rendered_total") == 0


def test_a_stop_during_the_load_exits_0_and_leaves_the_cache_as_it_was(
    site: Path, restarted: RunningDaemon, private_cache_home: Path
) -> None:
    cache = _identities(private_cache_home)
    assert _health(restarted)["loading"] is True, "the load ended too soon to test"
    # The slowed load would outlast the harness's wait for the stop.
    assert restarted.stop() == 0, restarted.log
    assert "Traceback" not in restarted.log
    assert _identities(private_cache_home) == cache
    again = RunningDaemon(site / "feeds.yaml")
    try:
        again.wait_ready()
        assert PROVEN in again.log
    finally:
        assert again.stop() == 0


def test_a_reload_during_the_load_takes_the_new_config(
    site: Path, restarted: RunningDaemon
) -> None:
    (site / "feeds.yaml").write_text(CONFIG.replace("Restart Feeds", "Reloaded Feeds"))
    restarted.signal(signal.SIGHUP)
    wait_for(
        lambda: (read_json(_all(site)) or {}).get("title") == "Reloaded Feeds",
        timeout=60,
        what="the reloaded title",
    )
    assert "Traceback" not in restarted.log


def test_an_embargo_after_a_proven_start_is_published_at_its_time(site: Path) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)
    _write(site, "later.txt", title="Later", link="https://e.org/later", published=due.isoformat())
    _first_run(site)
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        assert PROVEN in running.log
        assert datetime.now(UTC) < due, "the machine was too slow to observe the embargo"
        assert "Later" not in titles(_all(site))
        wait_for(lambda: "Later" in titles(_all(site)), what="the embargoed article")
    finally:
        running.stop()


def test_the_hubs_hear_only_of_what_changed_during_the_load(site: Path, hub: Hub) -> None:
    hub_url, received = hub
    (site / "feeds.yaml").write_text(CONFIG + f'websub:\n  hubs: ["{hub_url}"]\n')
    _first_run(site)
    received.clear()
    with _restarted_slowly(site) as running:
        _write(site, "robots.txt", title="Robots", link="https://e.org/r", topics=("Robots",))
        assert _health(running)["loading"] is True, "the load ended too soon to test"
        base = "http://127.0.0.1:8080/"
        expected = {
            f"{base}{stem}{suffix}"
            for stem in ("all", "topics/robots")
            for suffix in (".atom.xml", ".rss.xml", ".json")
        }

        def told() -> set[str]:
            return {url for form in received for url in form.get("hub.url", [])}

        wait_for(lambda: expected <= told(), timeout=60, what="the hub told of the save")
        assert told() == expected
