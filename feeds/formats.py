"""The feed formats and the pages beside them: the one list the rest reads.

The renderers, the builder, the index page, OPML and the server all take
suffixes, media types and labels from here. Adding a format is an entry in
`FORMATS` and a module in `feeds/render/` with ``render(plan, config) -> bytes``;
nothing else names a format. A renderer is imported by its module's name when
first used, so this module stays cheap to import (a build with nothing to do
imports no renderer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from mimetypes import guess_type
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.plan.plans import FeedPlan

    Render = Callable[[FeedPlan, Config], bytes]


@dataclass(frozen=True, slots=True)
class Format:
    """A feed format: every feed is written once in each."""

    #: How a config names it (``formats: [atom, rss]``).
    name: str
    #: How the index page names it.
    label: str
    #: Ends each feed's file name: ``all.atom.xml``.
    suffix: str
    media_type: str
    #: Whether it has monthly archive documents: RFC 5005 in Atom and RSS,
    #: a chain of ``next_url`` pages in JSON Feed.
    archives: bool
    #: The module whose ``render(plan, config)`` writes it.
    module: str

    def render(self, plan: FeedPlan, config: Config) -> bytes:
        return _renderer(self.module)(plan, config)


#: In the order the index page lists them. The first is offered first: the
#: index page shows its address, and OPML subscribes to it.
FORMATS: tuple[Format, ...] = (
    Format("atom", "Atom", ".atom.xml", "application/atom+xml", True, "feeds.render.atom"),
    Format("rss", "RSS", ".rss.xml", "application/rss+xml", True, "feeds.render.rss"),
    Format("json", "JSON Feed", ".json", "application/feed+json", True, "feeds.render.jsonfeed"),
)


@dataclass(frozen=True, slots=True)
class Page:
    """A document about all the feeds, written beside them."""

    filename: str
    media_type: str

    @property
    def suffix(self) -> str:
        return self.filename[self.filename.rindex(".") :]


INDEX_PAGE = Page("index.html", "text/html")
OPML = Page("feeds.opml", "text/x-opml")
PAGES = (INDEX_PAGE, OPML)


@dataclass(frozen=True, slots=True)
class FeedPage:
    """The page for people beside each feed's main document (config ``pages``).

    Rendered with its feed's documents, from the same plan, so it is
    rewritten exactly when they are; it is no format: readers never ask for it.
    """

    suffix: str
    media_type: str
    module: str

    def render(self, plan: FeedPlan, config: Config) -> bytes:
        return _renderer(self.module)(plan, config)


FEED_PAGE = FeedPage(".html", "text/html", "feeds.render.feed_html")

#: What a plan is written as: a format, or the feed's page.
Document = Format | FeedPage


def media_types() -> dict[str, str]:
    """The media type of each suffix feeds writes, the formats' first."""
    documents: tuple[Format | Page | FeedPage, ...] = (*FORMATS, *PAGES, FEED_PAGE)
    return {document.suffix: document.media_type for document in documents}


#: Every document feeds writes is UTF-8.
_CONTENT_TYPES = {suffix: f"{kind}; charset=utf-8" for suffix, kind in media_types().items()}

#: What may be public, by the last extension (``.xml`` covers both XML
#: formats): what the renderers write, and a stylesheet someone may add. A
#: misplaced cache, an editor's backup or a core dump in the folder is not.
PUBLIC_SUFFIXES = (
    *dict.fromkeys(suffix[suffix.rindex(".") :] for suffix in _CONTENT_TYPES),
    ".css",
)


def content_type(name: str) -> str:
    """The ``Content-Type`` of a file named ``name``, as the server sends it
    and a publish target stores it: one table for both."""
    lowered = name.rsplit("/", 1)[-1].lower()
    kind = next((kind for suffix, kind in _CONTENT_TYPES.items() if lowered.endswith(suffix)), None)
    if kind is None:
        kind = guess_type(lowered)[0] or "application/octet-stream"
        if kind.startswith("text/"):
            kind += "; charset=utf-8"
    return kind


def is_hidden(path: str) -> bool:
    """Whether a path (``/``-separated) passes through a dotfile or temp file,
    the writer's half-written files and ``..`` among them, or holds a NUL or
    a backslash: never served, never published."""
    return any(
        segment.startswith(".") or segment.endswith(".tmp") or "\x00" in segment or "\\" in segment
        for segment in path.split("/")
    )


def is_public(relative: str) -> bool:
    """Whether a file at ``relative`` (a POSIX path in the output folder) may
    be served or published: not hidden, and of a public suffix."""
    return not is_hidden(relative) and relative.lower().endswith(PUBLIC_SUFFIXES)


def format_named(name: str) -> Format:
    """The format a config calls ``name``; ValueError names the known ones."""
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    known = ", ".join(fmt.name for fmt in FORMATS)
    raise ValueError(f"unknown feed format {name!r} (known: {known})")


def formats_named(names: Iterable[str]) -> tuple[Format, ...]:
    """A selection of formats, in the registry's order whatever the order of ``names``."""
    chosen = {format_named(name) for name in names}
    return tuple(fmt for fmt in FORMATS if fmt in chosen)


def chosen_formats(config: Config) -> tuple[Format, ...]:
    """The formats the config writes (``formats``), in the registry's order:
    the first is the one offered first."""
    return _chosen(config.formats)


def formats_for(plan: FeedPlan, config: Config) -> tuple[Format, ...]:
    """The formats ``plan`` is written in: the chosen ones, and an archive only
    in those with archives."""
    chosen = _chosen(config.formats)
    return _archived(chosen) if plan.is_archive else chosen


def documents_for(plan: FeedPlan, config: Config) -> tuple[Document, ...]:
    """The files ``plan`` is written as: `formats_for`, and the feed's page
    beside a main document when the config has ``pages``."""
    return documents_of_kind(plan.is_archive, config)


def documents_of_kind(archive: bool, config: Config) -> tuple[Document, ...]:
    """`documents_for` any archive (``archive``) or any main document: they
    depend on nothing else, so a publish asks twice, not once per plan."""
    chosen = _chosen(config.formats)
    if archive:
        return _archived(chosen)
    return _with_page(chosen) if config.pages else chosen


def document_suffixes() -> tuple[str, ...]:
    """The suffix of every file a plan may be written as, whatever the config:
    the files of a feed that is gone, or of a format or page turned off, end so."""
    return (*(fmt.suffix for fmt in FORMATS), FEED_PAGE.suffix)


@cache  # asked for each plan on every publish; configs hold few selections
def _chosen(names: tuple[str, ...]) -> tuple[Format, ...]:
    return formats_named(names)


@cache
def _archived(chosen: tuple[Format, ...]) -> tuple[Format, ...]:
    return tuple(fmt for fmt in chosen if fmt.archives)


@cache
def _with_page(formats: tuple[Format, ...]) -> tuple[Document, ...]:
    return (*formats, FEED_PAGE)


@cache
def _renderer(module: str) -> Render:
    return cast("Render", import_module(module).render)
