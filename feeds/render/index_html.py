"""The index page: every feed on one page a person can read and a reader can discover.

The page links to the feeds relatively, so it works wherever the output folder
is served; it shows the absolute addresses too, for pasting into a reader.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import jinja2

from feeds.config import Config
from feeds.formats import FEED_PAGE, INDEX_PAGE, OPML, chosen_formats
from feeds.plan.plans import FeedPlan
from feeds.render.common import GENERATOR, GENERATOR_URI, feed_title, feed_url

FILENAME = INDEX_PAGE.filename

#: Page order of the kinds and their section headings. A kind missing here
#: still gets listed, after these, so a new kind can never vanish from the page.
KIND_HEADINGS: dict[str, str] = {
    "all": "All articles",
    "topic": "Topics",
    "custom": "Selections",
    "category": "Categories",
    "provider": "Sources",
}
_FALLBACK_HEADING = "More feeds"

#: Kinds announced to readers through <link rel="alternate">. Categories and
#: providers are left out: a reader offering dozens of choices helps no one.
_DISCOVERABLE = frozenset({"all", "topic", "custom"})

# Spelled out rather than strftime("%B"), whose output follows the process locale.
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True, slots=True)
class _Link:
    label: str
    href: str
    media_type: str


@dataclass(frozen=True, slots=True)
class _Alternate:
    title: str
    href: str
    media_type: str


@dataclass(frozen=True, slots=True)
class _Newest:
    #: A valid HTML global date and time string, in UTC.
    machine: str
    readable: str
    title: str
    link: str


@dataclass(frozen=True, slots=True)
class _Feed:
    title: str
    #: The feed's page, relative to the index (None without ``pages``).
    page: str | None
    description: str | None
    count: str
    newest: _Newest | None
    links: tuple[_Link, ...]
    url: str


@dataclass(frozen=True, slots=True)
class _Group:
    key: str
    heading: str
    feeds: tuple[_Feed, ...]


def listed_feeds(plans: Sequence[FeedPlan], config: Config) -> list[FeedPlan]:
    """The feeds to subscribe to: the combined feed first, then each kind in
    turn, each sorted by title.

    Archive documents are left out; readers reach them from their feed. The
    stem breaks ties, so the order never depends on the order ``plans`` came in.
    """
    kinds = list(KIND_HEADINGS)

    def key(plan: FeedPlan) -> tuple[int, str, str, str, str]:
        rank = kinds.index(plan.kind) if plan.kind in KIND_HEADINGS else len(kinds)
        title = feed_title(plan, config)
        return (rank, plan.kind, title.casefold(), title, plan.stem)

    return sorted((plan for plan in plans if not plan.is_archive), key=key)


def kind_heading(kind: str) -> str:
    return KIND_HEADINGS.get(kind, _FALLBACK_HEADING)


def render_index(plans: Sequence[FeedPlan], config: Config) -> bytes:
    """``index.html`` in UTF-8; the same plans, in any order, give the same bytes."""
    ordered = listed_feeds(plans, config)
    groups = [
        _Group(kind, kind_heading(kind), tuple(_feed(plan, config) for plan in members))
        for kind, members in itertools.groupby(ordered, key=lambda plan: plan.kind)
    ]
    page = (
        environment()
        .get_template("index.html.j2")
        .render(
            language=config.language,
            title=config.title,
            description=config.description,
            home_url=config.home_url,
            alternates=[alternate for plan in ordered for alternate in _alternates(plan, config)],
            groups=groups,
            opml=OPML,
            generator=GENERATOR,
            generator_uri=GENERATOR_URI,
        )
    )
    return page.encode("utf-8")


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("feeds", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _feed(plan: FeedPlan, config: Config) -> _Feed:
    # A hand-made plan may leave total at its default; never show fewer than are in hand.
    total = max(plan.total, len(plan.entries))
    newest = plan.newest
    return _Feed(
        title=feed_title(plan, config),
        page=plan.stem + FEED_PAGE.suffix if config.pages else None,
        # Only a description someone wrote; the derived ones would just repeat the title.
        description=plan.description,
        count=f"{total} {'entry' if total == 1 else 'entries'}",
        newest=None
        if newest is None
        else _Newest(
            machine=machine_time(newest.published),
            readable=readable_date(newest.published, config),
            title=newest.title,
            link=newest.link,
        ),
        links=tuple(
            _Link(fmt.label, plan.stem + fmt.suffix, fmt.media_type)
            for fmt in chosen_formats(config)
        ),
        url=feed_url(plan, config, chosen_formats(config)[0].suffix),
    )


def _alternates(plan: FeedPlan, config: Config) -> list[_Alternate]:
    if plan.kind not in _DISCOVERABLE:
        return []
    title = feed_title(plan, config)
    chosen = chosen_formats(config)
    formats = chosen if plan.kind == "all" else chosen[:1]
    return [
        # Readers list the alternates by title, so the formats after the first say what they are.
        _Alternate(
            title if fmt is chosen[0] else f"{title} ({fmt.label})",
            plan.stem + fmt.suffix,
            fmt.media_type,
        )
        for fmt in formats
    ]


def machine_time(moment: datetime) -> str:
    # isoformat() pads the year and, in UTC, never yields the sub-minute offsets
    # of historic zones that HTML's datetime syntax does not allow.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def readable_date(moment: datetime, config: Config) -> str:
    local = moment.astimezone(config.tz)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"
