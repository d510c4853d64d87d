"""Atom 1.0 (RFC 4287)."""

from __future__ import annotations

from feeds.config import Config
from feeds.plan.plans import FeedPlan
from feeds.render._feedgen import render_xml

SUFFIX = ".atom.xml"
MEDIA_TYPE = "application/atom+xml"


def render(plan: FeedPlan, config: Config) -> bytes:
    return render_xml(plan, config, "atom", SUFFIX, MEDIA_TYPE)
