"""Atom 1.0 (RFC 4287)."""

from __future__ import annotations

from typing import cast

from feeds.config import Config
from feeds.index import FeedPlan
from feeds.render._feedgen import generator_for

SUFFIX = ".atom.xml"
MEDIA_TYPE = "application/atom+xml"


def render(plan: FeedPlan, config: Config) -> bytes:
    feed = generator_for(plan, config, SUFFIX, MEDIA_TYPE)
    return cast(bytes, feed.atom_str(pretty=True, encoding="UTF-8"))
