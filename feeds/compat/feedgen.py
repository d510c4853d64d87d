"""feedgen: the lxml tree of a document, before feedgen serialises it.

feeds adds what feedgen cannot say (WebSub hub links in RSS, RFC 5005 archive
links and markers) to the tree feedgen builds, and splices in entries
serialised once. feedgen's public API gives a document only as bytes
(``atom_str``, ``rss_str``); its tree comes from the private ``_create_atom``
and ``_create_rss``. Reading the bytes back in would do, but the tree read has
real namespaces where feedgen's has an ``xmlns`` attribute, and an archive
would then list its namespace declarations in another order: every archive's
bytes would change with nothing in it changed, and readers fetch it again.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any, Literal

from feedgen.feed import FeedGenerator

from feeds.errors import DependencyError

INTERNALS = ("FeedGenerator._create_atom", "FeedGenerator._create_rss")


def _creators() -> dict[str, Callable[[FeedGenerator], tuple[Any, Any]]]:
    found = {
        flavour: getattr(FeedGenerator, f"_create_{flavour}", None) for flavour in ("atom", "rss")
    }
    absent = [
        f"FeedGenerator._create_{flavour}"
        for flavour, method in found.items()
        if not callable(method)
    ]
    if absent:
        raise DependencyError.missing(
            "feedgen",
            metadata.version("feedgen"),
            " and ".join(absent),
            "feeds adds hub and archive links to the document tree it builds",
        )
    return {flavour: method for flavour, method in found.items() if method is not None}


_CREATE = _creators()


def tree(feed: FeedGenerator, flavour: Literal["atom", "rss"]) -> Any:
    """The root element of ``feed``'s document, as feedgen would serialise it."""
    root, _document = _CREATE[flavour](feed)
    return root
