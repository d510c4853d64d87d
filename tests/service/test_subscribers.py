"""Subscriber counts from readers' User-Agents: parsed, kept bounded, saved
to the state folder, shown by `feeds stats` and as a metric."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from feeds.cli import main
from feeds.service.metrics import Metrics
from feeds.service.subscribers import (
    MAX_PAIRS,
    MAX_UA,
    STATE_FILE,
    Report,
    Subscribers,
    feed_of,
    parse,
    stats_lines,
)
from tests.daemon_harness import RunningDaemon, http_get, wait_for

# The published conventions of the four services.
FEEDLY = (
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; like FeedFetcher-Google)"
)
INOREADER = (
    "Mozilla/5.0 (compatible; Inoreader/1.0; +https://www.inoreader.com/feed-fetcher;"
    " 42 subscribers; )"
)
NEWSBLUR = (
    "NewsBlur Feed Fetcher - 17 subscribers - https://www.newsblur.com/site/1234/example"
    " (Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15)"
)
FEEDBIN = "Feedbin feed-id:1234567 - 8 subscribers"


@pytest.mark.parametrize(
    ("agent", "report"),
    [
        (FEEDLY, Report("Feedly", 123)),
        (INOREADER, Report("Inoreader", 42)),
        (NEWSBLUR, Report("NewsBlur", 17, "1234")),
        (FEEDBIN, Report("Feedbin", 8, "1234567")),
        ("Feedbin feed-id:1 - 1 subscriber", Report("Feedbin", 1, "1")),
        ("Mozilla/5.0 (compatible; Fetchy/2.1; 5 subscribers)", Report("Fetchy", 5)),
    ],
)
def test_the_readers_conventions_are_parsed(agent: str, report: Report) -> None:
    assert parse(agent) == report


@pytest.mark.parametrize(
    "agent",
    [
        "",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        "Feedly/1.0 (no count here; subscribers)",
        "12 subscribers",  # no service at all
        "Mozilla/5.0 (12 subscribers)",  # only a browser's token
        "Feedly/1.0 " + "9" * 40 + " subscribers",  # absurd count: no 1-9 digit number alone
        "Feedly/1.0 " + "x" * MAX_UA + " 5 subscribers",  # beyond what is read
        "\x00\xff\ufffd subscribers \U0001f600",
    ],
)
def test_other_and_hostile_agents_report_nothing(agent: str) -> None:
    assert parse(agent) is None


def test_a_huge_hostile_agent_is_parsed_quickly() -> None:
    agents = [
        "a/1" + " 1" * 500_000 + " subscribers",
        "feed-id:" * 100_000 + " subscribers",
        ("0" * 9 + " subscriber") * 50_000,
    ]
    started = time.monotonic()
    for agent in agents:
        parse(agent)
        Subscribers().heard("/all.atom.xml", 200, agent.encode())
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("path", "status", "feed"),
    [
        ("/all.atom.xml", 200, "all.atom.xml"),
        ("/topics/space.rss.xml", 304, "topics/space.rss.xml"),
        ("/all.json", 200, "all.json"),
        ("/all.atom.xml", 404, None),  # not a feed that exists
        ("/archive/all/2024-05.atom.xml", 200, None),
        ("/index.html", 200, None),
        ("/x/../all.atom.xml", 200, None),
        ("/.hidden.atom.xml", 200, None),
        ("/" + "a" * 1000 + ".atom.xml", 200, None),
    ],
)
def test_only_served_main_feed_documents_are_counted(
    path: str, status: int, feed: str | None
) -> None:
    assert feed_of(path, status) == feed


def test_the_latest_count_per_feed_id_is_kept_and_summed() -> None:
    keeper = Subscribers()
    keeper.record("all.atom.xml", Report("Feedbin", 8, "1"))
    keeper.record("all.atom.xml", Report("Feedbin", 3, "2"))
    keeper.record("all.atom.xml", Report("Feedbin", 9, "1"))  # the latest wins
    keeper.record("all.atom.xml", Report("Feedly", 100))
    keeper.record("all.atom.xml", Report("Feedly", 123))
    assert [(t.feed, t.service, t.subscribers) for t in keeper.totals()] == [
        ("all.atom.xml", "Feedbin", 12),
        ("all.atom.xml", "Feedly", 123),
    ]


def test_a_hundred_thousand_services_keep_at_most_ten_thousand_pairs() -> None:
    keeper = Subscribers()
    keeper.record("all.atom.xml", Report("Feedly", 123))
    keeper.heard("/all.atom.xml", 200, FEEDLY.encode())  # recently reported: kept
    for number in range(100_000):
        agent = f"Fake{number}/1.0 (+https://fake.example/; {number} subscribers)"
        keeper.heard("/all.atom.xml", 200, agent.encode())
        if number == 50_000:
            keeper.heard("/all.atom.xml", 200, FEEDLY.encode())
    assert len(keeper) == MAX_PAIRS
    services = {total.service for total in keeper.totals()}
    assert "Fake99999" in services
    assert "Fake0" not in services  # the oldest went first
    assert "Feedly" not in services  # last reported 50,000 services ago


def test_counts_are_saved_atomically_and_read_back(tmp_path: Path) -> None:
    state = tmp_path / "state" / STATE_FILE
    keeper = Subscribers()
    assert not keeper.save_due(state, now=100.0)  # nothing to save
    for agent in (FEEDLY, INOREADER, NEWSBLUR, FEEDBIN):
        keeper.heard("/all.atom.xml", 200, agent.encode())
    assert keeper.save_due(state, now=100.0)
    keeper.heard("/all.rss.xml", 200, FEEDLY.encode())
    assert not keeper.save_due(state, now=105.0)  # debounced
    assert keeper.save_due(state, now=105.0, force=True)  # at stop
    assert [p.name for p in state.parent.iterdir()] == [STATE_FILE]  # no temp file left
    again = Subscribers()
    again.load(state)
    assert again.totals() == keeper.totals()


def test_no_address_nor_user_agent_is_stored(tmp_path: Path) -> None:
    state = tmp_path / STATE_FILE
    metrics = Metrics()
    for agent in (FEEDLY, INOREADER, NEWSBLUR, FEEDBIN):
        metrics.answered("/all.atom.xml", 200, 100, agent.encode())
    metrics.subscribers.save_due(state, force=True)
    exposition = metrics.exposition()[0].decode()
    for text in (state.read_text(), exposition):
        for agent in (FEEDLY, INOREADER, NEWSBLUR, FEEDBIN):
            assert agent not in text
        for fragment in ("Mozilla", "fetcher", "://", "127.0.0.1", "newsblur.com"):
            assert fragment not in text


def test_the_metric_parses_with_prometheus_client() -> None:
    metrics = Metrics()
    for agent in (FEEDLY, INOREADER, NEWSBLUR, FEEDBIN):
        metrics.answered("/all.atom.xml", 200, 100, agent.encode())
    metrics.answered("/archive/all/2024-05.atom.xml", 200, 100, FEEDLY.encode())
    metrics.answered("/nothing.atom.xml", 404, 9, FEEDLY.encode())
    found = {
        (sample.labels["feed"], sample.labels["service"]): sample.value
        for family in text_string_to_metric_families(metrics.exposition()[0].decode())
        if family.name == "feeds_subscribers"
        for sample in family.samples
    }
    assert found == {
        ("all.atom.xml", "Feedly"): 123,
        ("all.atom.xml", "Inoreader"): 42,
        ("all.atom.xml", "NewsBlur"): 17,
        ("all.atom.xml", "Feedbin"): 8,
    }


def test_stats_prints_a_table_from_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / STATE_FILE
    keeper = Subscribers()
    keeper.record("all.atom.xml", Report("Feedly", 123))
    keeper.record("all.atom.xml", Report("Inoreader", 42))
    keeper.record("topics/space.rss.xml", Report("Feedbin", 8, "1"))
    keeper.save_due(state, force=True)
    assert stats_lines(state) == [
        "all.atom.xml          165  Feedly 123, Inoreader 42",
        "topics/space.rss.xml    8  Feedbin 8",
    ]


def test_stats_of_a_broken_or_missing_file(tmp_path: Path) -> None:
    assert stats_lines(tmp_path / STATE_FILE) == ["no subscriber counts yet"]
    (tmp_path / STATE_FILE).write_text('{"counts": [["a.atom.xml", "X", {"": "many"}], 7]}')
    assert stats_lines(tmp_path / STATE_FILE) == ["no subscriber counts yet"]


def _site(tmp_path: Path) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "feeds.yaml").write_text(
        "seeds: seeds\noutput: output\nstate_dir: state\nrescan_interval: 3600\n"
    )
    return tmp_path / "feeds.yaml"


def test_feeds_stats_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _site(tmp_path)
    assert main(["stats", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "no subscriber counts yet\n"
    state = tmp_path / "state" / STATE_FILE
    state.parent.mkdir()
    state.write_text(json.dumps({"version": 1, "counts": [["all.json", "Feedly", {"": 3}]]}))
    assert main(["stats", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "all.json  3  Feedly 3\n"


def test_a_restarted_daemon_keeps_the_counts(tmp_path: Path) -> None:
    config = _site(tmp_path)
    state = tmp_path / "state" / STATE_FILE
    daemon = RunningDaemon(config)
    try:
        daemon.wait_ready()
        for agent in (FEEDLY, FEEDBIN):
            assert http_get(daemon.url("all.atom.xml"), {"User-Agent": agent})[0] == 200
    finally:
        assert daemon.stop() == 0
    assert stats_lines(state) == ["all.atom.xml  131  Feedly 123, Feedbin 8"]
    assert "127.0.0.1" not in state.read_text()
    assert "Feedly/1.0" not in state.read_text()
    daemon = RunningDaemon(config)
    try:
        daemon.wait_ready()

        def scraped() -> str | None:
            body = http_get(daemon.url("metrics"))[2].decode()
            return body if 'service="Feedbin"' in body else None

        body = wait_for(scraped)
        assert 'feeds_subscribers{feed="all.atom.xml",service="Feedly"} 123.0' in body
    finally:
        assert daemon.stop() == 0
