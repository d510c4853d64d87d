"""Rendering feeds: one module per format, all fed the same `FeedPlan`.

`FORMATS` maps each file suffix to its renderer and media type; adding a
format means adding a module and a line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from feeds.config import Config
from feeds.plan.plans import FeedPlan
from feeds.render import atom, jsonfeed, rss


@dataclass(frozen=True, slots=True)
class Format:
    suffix: str
    media_type: str
    render: Callable[[FeedPlan, Config], bytes]


FORMATS: tuple[Format, ...] = (
    Format(atom.SUFFIX, atom.MEDIA_TYPE, atom.render),
    Format(rss.SUFFIX, rss.MEDIA_TYPE, rss.render),
    Format(jsonfeed.SUFFIX, jsonfeed.MEDIA_TYPE, jsonfeed.render),
)


def formats_for(plan: FeedPlan) -> tuple[Format, ...]:
    """Archives (RFC 5005) exist in Atom and RSS; JSON Feed has no archive semantics."""
    if plan.is_archive:
        return tuple(fmt for fmt in FORMATS if fmt.suffix != jsonfeed.SUFFIX)
    return FORMATS
