"""RSS 2.0, with an atom:link to itself as the RSS Advisory Board recommends."""

from __future__ import annotations

from typing import cast

from feeds.config import Config
from feeds.index import FeedPlan
from feeds.render._feedgen import generator_for

SUFFIX = ".rss.xml"
MEDIA_TYPE = "application/rss+xml"


def render(plan: FeedPlan, config: Config) -> bytes:
    feed = generator_for(plan, config, SUFFIX, MEDIA_TYPE)
    return cast(bytes, feed.rss_str(pretty=True, encoding="UTF-8"))
