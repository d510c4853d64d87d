"""Short runs of the load benchmarks: clients polling with conditional GETs
while `feeds run` rebuilds under them (bench/load.py; the full run, with 200
clients for a minute beside nginx, is `make bench-load`), and the same beside
a thousand idle and some slow connections (bench/connections.py; the full
run holds 2,000 idle and 1,000 slow ones)."""

from __future__ import annotations

import asyncio
import resource
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.connections import Hostile, Probe, hold, place_slow_files, probe_health
from bench.corpus import write_corpus
from bench.load import Editor, Stats, check_feed, feed_urls, run_clients, write_section
from tests.daemon_harness import RunningDaemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[RunningDaemon]:
    write_corpus(tmp_path / "seeds", 60)
    config = tmp_path / "feeds.yaml"
    config.write_text("seeds: seeds\noutput: output\ndebounce_ms: 50\nrescan_interval: 3600\n")
    running = RunningDaemon(config)
    try:
        running.wait_ready()
        yield running
    finally:
        assert running.stop() == 0, running.log


def test_clients_polling_a_rebuilding_daemon_get_whole_feeds_and_304s(
    tmp_path: Path, daemon: RunningDaemon
) -> None:
    output = tmp_path / "output"
    urls = feed_urls(output, daemon.url("/"))
    assert len(urls) > 20
    editor = Editor(tmp_path / "seeds", interval=0.25)
    editor.start()
    try:
        stats = asyncio.run(run_clients(urls, clients=20, seconds=5))
    finally:
        editor.stop()
    rebuilds = daemon.log.count("files written")
    assert editor.edits >= 10
    assert rebuilds >= 3, daemon.log  # the first build, then the edits'
    assert stats.errors == 0, stats.error_samples
    assert stats.ok >= 100  # every client's first poll of each feed, and the changes
    assert stats.not_modified > 0
    assert stats.bodies_checked > len(urls) // 2


def test_readers_and_healthz_are_answered_beside_a_thousand_idle_and_some_slow_connections(
    tmp_path: Path, daemon: RunningDaemon
) -> None:
    """Was: uvicorn counted the idle connections against limit_concurrency
    (1,000) and answered 503 to every reader and to /healthz."""
    idle, slow, seconds = 1000, 40, 5.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = idle + slow + 500
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs {wanted} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    place_slow_files(tmp_path / "output")
    urls = [url for url in feed_urls(tmp_path / "output", daemon.url("/")) if "slow-" not in url]
    start_at = time.monotonic() + 5  # every hostile connection open by then

    async def run() -> tuple[Hostile, Stats]:
        return await asyncio.gather(
            hold("127.0.0.1", daemon.port, idle, slow, start_at, seconds),
            run_clients(urls, clients=10, seconds=seconds, start_at=start_at),
        )

    probes: list[Probe] = []
    prober = threading.Timer(
        start_at - time.monotonic(),
        lambda: probes.append(probe_health(daemon.url("/healthz"), seconds)),
    )
    prober.start()
    try:
        hostile, readers = asyncio.run(run())
    finally:
        prober.join()
    assert readers.errors == 0, readers.error_samples
    assert readers.requests > 100
    [health] = probes
    assert health.ok == health.asked > 0, health.statuses
    opened = [idle_open for idle_open, _ in hostile.open_samples]
    assert min(opened) > idle * 0.9  # held open, and kept being answered beside them
    # Nothing per request in the log: at most one summary line while it ran.
    assert daemon.log.count("refused or cut off") <= 1


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")
def test_under_a_low_open_files_limit_idle_connections_make_room_and_nothing_floods_the_log(
    tmp_path: Path,
) -> None:
    """With few descriptors the connection limit is low and idle connections
    are closed to make room all the time. Was: asyncio accepted a whole
    backlog at once past the limit, ran out of descriptors, and logged an
    error with a traceback for every try (over half a million lines in 30 s),
    while requests failed for want of a descriptor to open a file."""
    write_corpus(tmp_path / "seeds", 20)
    config = tmp_path / "feeds.yaml"
    config.write_text("seeds: seeds\noutput: output\nrescan_interval: 3600\n")
    running = RunningDaemon(config, wrapper=["prlimit", "--nofile=256"])
    try:
        running.wait_ready()
        limit = int(running.wait_for_log(r"HTTP: up to (\d+) connections").group(1))
        urls = feed_urls(tmp_path / "output", running.url("/"))
        start_at = time.monotonic() + 3
        probes: list[Probe] = []
        prober = threading.Timer(
            start_at - time.monotonic(),
            lambda: probes.append(probe_health(running.url("/healthz"), 4)),
        )
        prober.start()

        async def run() -> tuple[Hostile, Stats]:
            return await asyncio.gather(
                hold("127.0.0.1", running.port, 4 * limit, 0, start_at, 4),
                run_clients(urls, clients=5, seconds=4, start_at=start_at),
            )

        try:
            hostile, readers = asyncio.run(run())
        finally:
            prober.join()
        assert readers.errors == 0, readers.error_samples
        [health] = probes
        assert health.ok == health.asked > 0, health.statuses
        assert hostile.idle_closed > limit  # room was made, again and again
        assert len(running.lines) < 20, running.log
        assert "Too many open files" not in running.log
    finally:
        assert running.stop() == 0, running.log


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/all.json", b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id"'),
        ("/all.json", b'{"version": "1", "items": []}'),
        ("/all.atom.xml", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'),
        ("/all.rss.xml", b"<html><body>not a feed</body></html>"),
    ],
)
def test_the_check_catches_a_partial_or_wrong_body(url: str, body: bytes) -> None:
    """Keeps the load test honest: a truncated feed would be counted as an error."""
    assert check_feed(url, body) is not None


def test_the_check_passes_the_real_feeds(tmp_path: Path, daemon: RunningDaemon) -> None:
    output = tmp_path / "output"
    for name in ("all.json", "all.atom.xml", "all.rss.xml", "topics/topic-01.atom.xml"):
        assert check_feed(name, (output / name).read_bytes()) is None, name


def test_the_results_section_is_replaced_or_appended(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\ntable\n")
    write_section("<!-- load:begin -->\none\n<!-- load:end -->\n", results)
    assert (
        results.read_text() == "# Results\n\ntable\n\n<!-- load:begin -->\none\n<!-- load:end -->\n"
    )
    results.write_text(results.read_text() + "\n## After\n")
    write_section("<!-- load:begin -->\ntwo\n<!-- load:end -->\n", results)
    assert results.read_text() == (
        "# Results\n\ntable\n\n<!-- load:begin -->\ntwo\n<!-- load:end -->\n\n## After\n"
    )
