"""`/metrics`: the daemon's Prometheus metrics, read back with prometheus_client's
own parser, from a real server and a real `feeds run`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from feeds.build.report import BuildReport
from feeds.errors import ArticleError, ArticleWarning
from feeds.serve.server import ServerThread, create_app
from feeds.service.metrics import KINDS, STATUS_CLASSES, Metrics, kind_of, status_class
from feeds.system.folders import MARKER, MARKER_TEXT
from tests.conftest import seed_text
from tests.daemon_harness import RunningDaemon, http_get, titles, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

FILES = {
    MARKER: MARKER_TEXT,
    "index.html": b"<!doctype html><title>feeds</title>\n",
    "all.atom.xml": b"<feed>" + b"<entry/>" * 50 + b"</feed>\n",
    "archive/all/2024-05.atom.xml": b"<feed/>\n",
    "feeds.opml": b"<opml/>\n",
}


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[name, frozenset(labels.items())]


def scrape(url: str) -> Samples:
    status, headers, body = http_get(url)
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    return samples(body.decode())


def label_values(found: Samples, name: str) -> set[frozenset[tuple[str, str]]]:
    return {labels for sample, labels in found if sample == name}


@pytest.fixture
def output(tmp_path: Path) -> Path:
    for name, data in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tmp_path


@pytest.fixture
def served(output: Path) -> Iterator[tuple[str, Metrics]]:
    metrics = Metrics()
    server = ServerThread(create_app(output, metrics=metrics), "127.0.0.1", 0)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", metrics
    finally:
        server.stop()


# --- the vocabulary ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/all.atom.xml", "feed"),
        ("/topics/ai.rss.xml", "feed"),
        ("/providers/x.json", "feed"),
        ("/archive/all/2024-05.atom.xml", "archive"),
        ("/archive/all/2024-05.json", "archive"),
        ("/", "page"),
        ("/index.html", "page"),
        ("/all.html", "page"),
        ("/feeds.opml", "opml"),
        ("/style.css", "other"),
        ("/metrics", "other"),
        ("/healthz", "other"),
        ("/../../etc/passwd", "other"),
    ],
)
def test_each_path_has_one_kind_of_a_fixed_few(path: str, kind: str) -> None:
    assert kind_of(path) == kind


def test_status_classes_are_a_fixed_few() -> None:
    assert [status_class(code) for code in (200, 204, 301, 304, 404, 431, 500, 503)] == [
        "2xx",
        "2xx",
        "3xx",
        "3xx",
        "4xx",
        "4xx",
        "5xx",
        "5xx",
    ]
    assert {status_class(code) for code in (0, 101, 600, 999)} <= set(STATUS_CLASSES)


def test_a_build_report_sets_the_gauges_and_adds_to_the_counters() -> None:
    metrics = Metrics()
    warning = ArticleWarning("/s/a.md", "image: not a URL")
    report = BuildReport(
        articles=7,
        feeds=3,
        written=["all.atom.xml", "all.json"],
        removed=["old.atom.xml"],
        rejected=(ArticleError(Path("/s/b.md"), "no title"),),
        warnings=(warning, warning),
        embargoed=2,
        rendered=5,
        seconds=0.3,
    )
    metrics.published(report)
    metrics.published(report)
    metrics.failed()
    metrics.rescanned()
    metrics.watcher_restarted()
    found = samples(metrics.exposition()[0].decode())
    assert value(found, "feeds_builds_total", result="ok") == 2
    assert value(found, "feeds_builds_total", result="failed") == 1
    assert value(found, "feeds_build_seconds_count") == 2
    assert value(found, "feeds_build_seconds_sum") == pytest.approx(0.6)
    assert value(found, "feeds_build_seconds_bucket", le="0.25") == 0
    assert value(found, "feeds_build_seconds_bucket", le="0.5") == 2
    assert value(found, "feeds_articles", state="visible") == 7
    assert value(found, "feeds_articles", state="embargoed") == 2
    assert value(found, "feeds_articles", state="rejected") == 1
    assert value(found, "feeds_feeds") == 3
    assert value(found, "feeds_warnings") == 2
    assert value(found, "feeds_files_written_total") == 4
    assert value(found, "feeds_documents_rendered_total") == 10
    assert value(found, "feeds_files_removed_total") == 2
    assert value(found, "feeds_last_publish_timestamp_seconds") > 0
    assert value(found, "feeds_last_failed_publish_timestamp_seconds") >= value(
        found, "feeds_last_publish_timestamp_seconds"
    )
    assert value(found, "feeds_rescans_total") == 1
    assert value(found, "feeds_watcher_restarts_total") == 1


def test_two_daemons_in_one_process_keep_their_own_metrics() -> None:
    first, second = Metrics(), Metrics()
    first.rescanned()
    assert value(samples(second.exposition()[0].decode()), "feeds_rescans_total") == 0


# --- from a real server ------------------------------------------------------


def test_requests_are_counted_by_status_class_and_kind(
    served: tuple[str, Metrics], output: Path
) -> None:
    url, _ = served
    first = http_get(f"{url}/all.atom.xml")
    second = http_get(f"{url}/all.atom.xml")
    assert first[0] == second[0] == 200
    etag = first[1]["etag"]
    assert http_get(f"{url}/all.atom.xml", {"If-None-Match": etag})[0] == 304
    assert http_get(f"{url}/missing.atom.xml")[0] == 404
    assert http_get(f"{url}/archive/all/2024-05.atom.xml")[0] == 200
    assert http_get(f"{url}/feeds.opml")[0] == 200
    found = scrape(f"{url}/metrics")
    assert value(found, "feeds_http_requests_total", status="2xx", kind="feed") == 2
    assert value(found, "feeds_http_requests_total", status="3xx", kind="feed") == 1
    assert value(found, "feeds_http_requests_total", status="4xx", kind="feed") == 1
    assert value(found, "feeds_http_requests_total", status="2xx", kind="archive") == 1
    assert value(found, "feeds_http_requests_total", status="2xx", kind="opml") == 1
    # The scrape is counted once answered: not in its own answer.
    assert value(found, "feeds_http_requests_total", status="2xx", kind="other") == 0
    assert value(found, "feeds_http_answers_total", code="200") == 4
    assert value(found, "feeds_http_answers_total", code="304") == 1
    feed_bytes = len(FILES["all.atom.xml"])
    assert value(found, "feeds_http_sent_bytes_total", kind="feed") == 2 * feed_bytes + len(
        b"Not Found"
    )
    assert value(found, "feeds_http_sent_bytes_total", kind="opml") == len(FILES["feeds.opml"])
    again = scrape(f"{url}/metrics")
    assert value(again, "feeds_http_requests_total", status="2xx", kind="other") == 1


def test_hostile_paths_make_no_new_label_values(served: tuple[str, Metrics]) -> None:
    url, _ = served
    before = scrape(f"{url}/metrics")
    names = ("feeds_http_requests_total", "feeds_http_sent_bytes_total", "feeds_http_answers_total")
    series = {name: label_values(before, name) for name in names}
    assert len(series["feeds_http_requests_total"]) == len(STATUS_CLASSES) * len(KINDS)
    for number in range(1000):
        suffix = (".atom.xml", ".json", ".html", ".opml", "", "/", ".php")[number % 7]
        path = f"/x{number}%2e%2e/%00{number}{suffix}?q={number}"
        assert http_get(f"{url}{path}")[0] in (400, 404)
    after = scrape(f"{url}/metrics")
    assert {name: label_values(after, name) for name in names} == series
    assert len(after) == len(before)
    counted = sum(
        after[sample] for sample in after if sample[0] == "feeds_http_requests_total"
    ) - sum(before[sample] for sample in before if sample[0] == "feeds_http_requests_total")
    assert counted == 1000 + 1  # and the first scrape


def test_without_metrics_the_path_is_404(output: Path) -> None:
    server = ServerThread(create_app(output), "127.0.0.1", 0)
    server.start()
    try:
        assert http_get(f"http://127.0.0.1:{server.port}/metrics")[0] == 404
    finally:
        server.stop()


# --- from a real daemon ------------------------------------------------------

CONFIG = """\
title: "Metrics"
seeds: seeds
output: output
debounce_ms: 50
rescan_interval: 3600
"""


def _site(tmp_path: Path, extra: str = "") -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "now.txt").write_text(seed_text(title="Now", link="https://e.org/now"))
    (seeds / "later.txt").write_text(
        seed_text(title="Later", link="https://e.org/later", published="2099-01-01T00:00:00Z")
    )
    (seeds / "bad.txt").write_text("---\ntitle: [unclosed\n---\n")
    (tmp_path / "feeds.yaml").write_text(CONFIG + extra)
    return tmp_path


def _after_builds(daemon: RunningDaemon, builds: int) -> Samples | None:
    found = scrape(daemon.url("metrics"))
    return found if value(found, "feeds_builds_total", result="ok") == builds else None


def test_a_daemon_reports_its_builds_and_requests(tmp_path: Path) -> None:
    site = _site(tmp_path)
    daemon = RunningDaemon(site / "feeds.yaml")
    try:
        daemon.wait_ready()
        found = scrape(daemon.url("metrics"))
        assert value(found, "feeds_builds_total", result="ok") == 1
        assert value(found, "feeds_builds_total", result="failed") == 0
        assert value(found, "feeds_build_seconds_count") == 1
        assert value(found, "feeds_rescans_total") == 1  # the first build scans everything
        assert value(found, "feeds_articles", state="visible") == 1
        assert value(found, "feeds_articles", state="embargoed") == 1
        assert value(found, "feeds_articles", state="rejected") == 1
        written = value(found, "feeds_files_written_total")
        assert written >= 3  # at least a feed per format
        assert value(found, "feeds_last_publish_timestamp_seconds") > 0
        assert value(found, "feeds_last_failed_publish_timestamp_seconds") == 0
        assert value(found, "feeds_watcher_restarts_total") == 0

        (site / "seeds" / "now.txt").write_text(seed_text(title="Now 2", link="https://e.org/now"))
        wait_for(lambda: titles(site / "output" / "all.json") == ["Now 2"])
        found = wait_for(lambda: _after_builds(daemon, 2))
        assert value(found, "feeds_rescans_total") == 1  # a change, not a rescan
        assert value(found, "feeds_files_written_total") > written
        assert value(found, "feeds_files_removed_total") == 0

        status, headers, body = http_get(daemon.url("all.atom.xml"))
        assert status == 200
        assert http_get(daemon.url("all.atom.xml"))[0] == 200
        assert http_get(daemon.url("all.atom.xml"), {"If-None-Match": headers["etag"]})[0] == 304
        assert http_get(daemon.url("nothing-here.atom.xml"))[0] == 404
        found = scrape(daemon.url("metrics"))
        assert value(found, "feeds_http_requests_total", status="2xx", kind="feed") == 2
        assert value(found, "feeds_http_requests_total", status="3xx", kind="feed") == 1
        assert value(found, "feeds_http_requests_total", status="4xx", kind="feed") == 1
        assert value(found, "feeds_http_answers_total", code="304") == 1
        assert value(found, "feeds_http_sent_bytes_total", kind="feed") == 2 * len(body) + len(
            b"Not Found"
        )
    finally:
        daemon.stop()


def test_server_metrics_false_serves_no_metrics(tmp_path: Path) -> None:
    site = _site(tmp_path, "server:\n  metrics: false\n")
    daemon = RunningDaemon(site / "feeds.yaml")
    try:
        daemon.wait_ready()
        assert http_get(daemon.url("all.atom.xml"))[0] == 200
        assert http_get(daemon.url("metrics"))[0] == 404
    finally:
        daemon.stop()
