"""Atom entries and RSS items, built and serialised once per article and format.

Each article appears in several documents (the combined feed, its topics,
their monthly archives), and building entries through feedgen's `FeedEntry`
was most of a cold build (bench/RESULTS.md). So entries
are built here, with lxml directly, into the very elements feedgen would make
(same tags, same namespaces, same attribute order: tests/render/test_entries.py
compares the two on every sample and on generated articles), once per
article and format, and their bytes spliced into each document
(`EntryCache`). The feed-level parts of a document are still feedgen's.
"""

from __future__ import annotations

import mimetypes
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from lxml import etree

from feeds.model import Article
from feeds.render.common import categories, entry_html

Flavour = Literal["atom", "rss"]

MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"

#: Related articles listed as Atom links; the content lists them all.
MAX_RELATED_LINKS = 10

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_Sub = etree.SubElement


def rfc822(moment: datetime) -> str:
    """RFC 822 date as feedgen writes it (strftime in the C locale), locale-free."""
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year} {moment.strftime('%H:%M:%S %z')}"
    )


@lru_cache(maxsize=4096)  # Atom and RSS ask for each lead image, soon after each other
def image_type(url: str) -> str | None:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path, strict=False)
    return guessed if guessed and guessed.startswith("image/") else None


def _image_size(width: int | None, height: int | None) -> dict[str, str]:
    return {name: str(value) for name, value in (("height", height), ("width", width)) if value}


def _media(entry: Any, article: Article) -> None:
    """Media RSS: every image as media:content, the first also as thumbnail."""
    for image in article.images:
        content = _Sub(entry, f"{{{MEDIA_NS}}}content")
        content.set("url", image.url)
        content.set("medium", "image")
        for name, value in _image_size(image.width, image.height).items():
            content.set(name, value)
    if article.images:
        image = article.images[0]
        thumbnail = _Sub(entry, f"{{{MEDIA_NS}}}thumbnail")
        thumbnail.set("url", image.url)
        for name, value in _image_size(image.width, image.height).items():
            thumbnail.set(name, value)


def _enclosure(article: Article) -> tuple[str, str] | None:
    """The lead image as an enclosure, when its media type is known."""
    if not article.images:
        return None
    url = article.images[0].url
    media_type = image_type(url)
    return (url, media_type) if media_type else None


def atom_entry(article: Article, content: str) -> Any:
    entry = etree.Element("entry")
    _Sub(entry, "id").text = article.id
    _Sub(entry, "title").text = article.title
    _Sub(entry, "updated").text = article.updated.isoformat()
    if article.provider:
        author = _Sub(entry, "author")
        _Sub(author, "name").text = article.provider.name
        if article.provider.url:
            _Sub(author, "uri").text = article.provider.url
    _Sub(entry, "content", type="html").text = content
    # Attribute order as feedgen writes it: href first, then rel, type, title, length.
    _Sub(entry, "link", href=article.link, rel="alternate", type="text/html")
    if article.via_link:
        _Sub(entry, "link", href=article.via_link, rel="via", type="text/html")
    for related in article.related[:MAX_RELATED_LINKS]:
        link = _Sub(entry, "link", href=related.link, rel="related", type="text/html")
        if related.title:
            link.set("title", related.title)
    enclosure = _enclosure(article)
    if enclosure:
        # The size in bytes is unknown; RSS best practice is then a length of 0.
        _Sub(entry, "link", href=enclosure[0], rel="enclosure", type=enclosure[1], length="0")
    if article.summary_html:
        _Sub(entry, "summary", type="html").text = article.summary_html
    for term in categories(article):
        _Sub(entry, "category", term=term)
    _Sub(entry, "published").text = article.published.isoformat()
    if article.provider and article.provider.url:
        _atom_source(entry, article.provider.name, article.provider.url, article.updated)
    _media(entry, article)
    return entry


def _atom_source(entry: Any, name: str, site: str, updated: datetime) -> None:
    """Where the entry comes from, as RFC 4287 (4.2.11) asks: the source's id,
    title and updated, and its link.

    The original feed's own id and updated are unknown. The provider's site
    URL is its id: stable, and it names that source and no other. Its
    updated is the entry's own: the source was modified at least then, and
    the build clock would rewrite every document on every build.
    """
    source = _Sub(entry, "source")
    _Sub(source, "id").text = site
    _Sub(source, "title").text = name
    _Sub(source, "updated").text = updated.isoformat()
    _Sub(source, "link", href=site)


def rss_item(article: Article, content: str) -> Any:
    item = etree.Element("item")
    _Sub(item, "title").text = article.title
    _Sub(item, "link").text = article.link
    if article.summary_html:
        _Sub(item, "description").text = article.summary_html
        _Sub(item, f"{{{CONTENT_NS}}}encoded").text = content
    else:
        _Sub(item, "description").text = content
    _Sub(item, "guid", isPermaLink="false").text = article.id
    for term in categories(article):
        _Sub(item, "category").text = term
    enclosure = _enclosure(article)
    if enclosure:
        _Sub(item, "enclosure", url=enclosure[0], length="0", type=enclosure[1])
    _Sub(item, "pubDate").text = rfc822(article.published)
    if article.provider:
        if article.provider.url:
            _Sub(item, "source", url=article.provider.url).text = article.provider.name
        _Sub(item, f"{{{DC_NS}}}creator").text = article.provider.name
    _media(item, article)
    return item


#: What closes a document after its entries, as lxml pretty-prints it: Atom
#: entries are children of the root, RSS items of the channel.
CLOSING = {"atom": b"</feed>\n", "rss": b"  </channel>\n</rss>\n"}
_OPENING = {"atom": b"  <entry>", "rss": b"    <item>"}


@dataclass(frozen=True, slots=True)
class Serialised:
    """An entry's bytes as they stand in a document, and the namespaces they use
    (an archive declares only the namespaces its entries use)."""

    data: bytes
    namespaces: frozenset[str]


@dataclass(slots=True)
class _Built:
    article: Article
    html: str
    atom: Serialised | None = None
    rss: Serialised | None = None
    #: The JSON Feed item's text (`render.jsonfeed`), as it stands in a document.
    json: str | None = None


class EntryCache:
    """The newest-used articles' entries, serialised, both formats.

    An entry's bytes are the same in every document of its format: lxml
    pretty-prints an element by its depth alone, and every document declares the
    extension namespaces under the same prefixes. So each entry is serialised
    once, inside an empty document of its format (``contexts``), and its bytes
    are spliced into each document (tests/render/test_splice.py compares with documents
    built whole). Documents are rendered grouped (all feeds of one archive month
    one after the other), so a few thousand slots make nearly every article's
    entries built once per build; the bound keeps memory flat at any size.
    """

    def __init__(self, contexts: Callable[[Flavour], Any], slots: int = 2048) -> None:
        self._contexts = contexts
        self._slots = slots
        # Keyed by identity: hashing a frozen Article hashes every field. The
        # slot holds the article itself, so its id() cannot be reused meanwhile.
        self._built: OrderedDict[int, _Built] = OrderedDict()

    def serialised(self, article: Article, flavour: Flavour) -> Serialised:
        """The article's entry as it stands in a document of the flavour."""
        built = self._slot(article)
        if flavour == "atom":
            if built.atom is None:
                built.atom = self._serialise(atom_entry(article, built.html), flavour)
            return built.atom
        if built.rss is None:
            built.rss = self._serialise(rss_item(article, built.html), flavour)
        return built.rss

    def html(self, article: Article) -> str:
        """The article's entry HTML (`common.entry_html`), built once for every format."""
        return self._slot(article).html

    def json_item(self, article: Article, make: Callable[[Article], str]) -> str:
        """The article's JSON Feed item as ``make`` writes it, made once."""
        built = self._slot(article)
        if built.json is None:
            built.json = make(article)
        return built.json

    def _serialise(self, entry: Any, flavour: Flavour) -> Serialised:
        root = self._contexts(flavour)
        parent = root if flavour == "atom" else root[0]
        parent.append(entry)
        try:
            document: bytes = etree.tostring(root, encoding="UTF-8", pretty_print=True)
        finally:
            parent.remove(entry)
        # Text and attribute values escape "<", so the first opening tag is the entry's.
        start = document.index(_OPENING[flavour])
        end = len(document) - len(CLOSING[flavour])
        if document[end:] != CLOSING[flavour]:
            raise RuntimeError(f"unexpected {flavour} serialisation")  # pragma: no cover
        data = document[start:end]
        return Serialised(data, _namespaces(root, data))

    def _slot(self, article: Article) -> _Built:
        key = id(article)
        built = self._built.get(key)
        if built is None or built.article is not article:
            built = self._built[key] = _Built(article, entry_html(article))
            if len(self._built) > self._slots:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(key)
        return built

    def clear(self) -> None:
        self._built.clear()


def _namespaces(document: Any, entry: bytes) -> frozenset[str]:
    """The namespaces of the entry's elements, by the prefixes the document declares.

    Text and attribute values escape "<", so "<prefix:" is only ever a tag; the
    entries carry no namespaced attributes.
    """
    return frozenset(
        uri
        for prefix, uri in document.nsmap.items()
        if prefix and b"<%s:" % prefix.encode() in entry
    )
