"""Refresh hints in RSS, as readers see them: ``<ttl>`` and the RSS 1.0
syndication module saying the same interval, read back by feedparser and lxml."""

from __future__ import annotations

from collections.abc import Callable

import feedparser
import pytest
from lxml import etree

from feeds.build.oneshot import build
from feeds.config import MAX_TTL, Config
from feeds.render.syndication import SY_NS, update_hint
from tests.conftest import SeedWriter, seed_text

_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}


@pytest.mark.parametrize(
    ("ttl", "period", "frequency"),
    [
        (15, "hourly", 4),
        (60, "hourly", 1),
        (45, "daily", 32),
        (100, "daily", 14),
        (1440, "daily", 1),
        (20160, "monthly", 2),
        (MAX_TTL, "yearly", 1),
    ],
)
def test_rss_says_the_ttl_in_both_vocabularies(
    make_config: Callable[..., Config],
    write_seed: SeedWriter,
    ttl: int,
    period: str,
    frequency: int,
) -> None:
    write_seed("a.txt", seed_text())
    config = make_config(f"ttl: {ttl}\n")
    build(config)
    data = (config.output / "all.rss.xml").read_bytes()

    parsed = feedparser.parse(data)
    assert not parsed.bozo
    assert parsed.namespaces["sy"] == SY_NS
    assert parsed.feed["ttl"] == str(ttl)
    assert parsed.feed["sy_updateperiod"] == period
    assert parsed.feed["sy_updatefrequency"] == str(frequency)

    channel = etree.fromstring(data).find("channel")
    assert channel is not None
    assert channel.findtext("ttl") == str(ttl)
    assert channel.findtext(f"{{{SY_NS}}}updatePeriod") == period
    assert channel.findtext(f"{{{SY_NS}}}updateFrequency") == str(frequency)
    assert etree.fromstring(data).nsmap["sy"] == SY_NS  # declared once, on the root


def test_atom_and_json_carry_no_rss_hints(
    make_config: Callable[..., Config], write_seed: SeedWriter
) -> None:
    write_seed("a.txt", seed_text())
    config = make_config()
    build(config)
    for name in ("all.atom.xml", "all.json"):
        text = (config.output / name).read_text(encoding="utf-8")
        assert "ttl" not in text
        assert SY_NS not in text


def test_the_hint_never_asks_for_polls_closer_than_the_ttl() -> None:
    for ttl in [*range(1, 20_161), MAX_TTL - 1, MAX_TTL]:
        period, frequency = update_hint(ttl)
        assert frequency >= 1, ttl
        assert _MINUTES[period] / frequency >= ttl, ttl
        if period in ("hourly", "daily", "weekly") and _MINUTES[period] % ttl == 0:
            assert _MINUTES[period] // frequency == ttl  # exactly, where a fixed period allows


def test_the_default_ttl_is_longer_than_the_servers_cache_max_age() -> None:
    """Caches may keep an answer ``cache_max_age`` seconds; a reader told to come
    back every ``ttl`` minutes then never gets an answer older than asked for."""
    config = Config()
    assert config.ttl == 15
    assert config.server.cache_max_age <= config.ttl * 60
