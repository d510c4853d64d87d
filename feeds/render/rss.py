"""RSS 2.0, with an atom:link to itself as the RSS Advisory Board recommends."""

from __future__ import annotations

from feeds.config import Config
from feeds.formats import format_named
from feeds.plan.plans import FeedPlan
from feeds.render._feedgen import render_xml

FORMAT = format_named("rss")


def render(plan: FeedPlan, config: Config) -> bytes:
    return render_xml(plan, config, "rss", FORMAT.suffix, FORMAT.media_type)
