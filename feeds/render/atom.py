"""Atom 1.0 (RFC 4287)."""

from __future__ import annotations

from feeds.config import Config
from feeds.formats import format_named
from feeds.plan.plans import FeedPlan
from feeds.render._feedgen import render_xml

FORMAT = format_named("atom")


def render(plan: FeedPlan, config: Config) -> bytes:
    return render_xml(plan, config, "atom", FORMAT.suffix, FORMAT.media_type)
