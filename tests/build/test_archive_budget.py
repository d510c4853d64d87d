"""An archive document keeps every entry even past ``max_bytes``, and says so."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from feeds.build.publisher import render_within_budget
from feeds.config import Config
from feeds.formats import format_named
from feeds.plan.plans import FeedPlan
from tests.plan.test_archive_periods import START, numbered_article


def test_an_archive_over_the_byte_budget_keeps_every_entry_and_warns(
    make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config("max_bytes: 16384")
    entries = tuple(numbered_article(number, START, summary=6000) for number in range(4))
    plan = FeedPlan("archive/all/2025-03", "all", None, entries, 4, archive_of="all")
    atom = format_named("atom")
    with caplog.at_level(logging.WARNING, logger="feeds.build"):
        data = render_within_budget(atom, plan, config)
    assert len(data) > 16 * 1024
    assert data.count(b"<entry>") == 4
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("archive/all/2025-03.atom.xml is ")
    assert "more than max_bytes (16384)" in message
    assert "sss" not in message  # names the document, never quotes it


def test_a_main_document_over_the_byte_budget_drops_its_oldest_entries_quietly(
    make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config("max_bytes: 16384")
    entries = tuple(numbered_article(number, START, summary=6000) for number in range(4))
    with caplog.at_level(logging.WARNING, logger="feeds.build"):
        data = render_within_budget(
            format_named("atom"), FeedPlan("all", "all", None, entries, 4), config
        )
    assert len(data) <= 16 * 1024
    assert not caplog.records
