"""RSS 2.0, with an atom:link to itself as the RSS Advisory Board recommends."""

from __future__ import annotations

from feeds.config import Config
from feeds.plan.plans import FeedPlan
from feeds.render._feedgen import render_xml

SUFFIX = ".rss.xml"
MEDIA_TYPE = "application/rss+xml"


def render(plan: FeedPlan, config: Config) -> bytes:
    return render_xml(plan, config, "rss", SUFFIX, MEDIA_TYPE)
