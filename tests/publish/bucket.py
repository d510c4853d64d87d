"""What the publish tests read back from a bucket, and the consistency rule
they hold it to: every document a reader can reach links only to objects
that exist.

A key in the bucket is the target's prefix plus the document's path in the
output folder ("feeds/" + "topics/ai.atom.xml"); its public URL is base_url
plus that path. Our documents link to each other by absolute URLs under
base_url (feeds' self and archive links, OPML's xmlUrl, JSON Feed's
feed_url...) and, in the HTML pages, by relative hrefs."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: The documents whose links are followed; anything else (a foreign object,
#: the .made-by-feeds marker) links nowhere.
DOCUMENTS = (".html", ".xml", ".json", ".opml")
#: What may follow base_url in a link to one of our documents: our paths are
#: slugs, so unreserved characters and percent escapes. Stops at a quote, a
#: "<", an "&" of an escaped quote, a "?" or a "#".
PATH = r"[A-Za-z0-9\-._~/%]*"


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    content_type: str
    cache_control: str | None
    metadata: dict[str, str]


def snapshot(client: S3Client, bucket: str, prefix: str = "") -> dict[str, StoredObject]:
    """Every object under ``prefix``, by key, with what a reader would get."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for listed in page.get("Contents", []):
            key = listed["Key"]
            got = client.get_object(Bucket=bucket, Key=key)
            found[key] = StoredObject(
                body=got["Body"].read(),
                content_type=got["ContentType"],
                cache_control=got.get("CacheControl"),
                metadata=dict(got["Metadata"]),
            )
    return found


def bodies(objects: Mapping[str, StoredObject]) -> dict[str, bytes]:
    return {key: stored.body for key, stored in objects.items()}


class _Refs(HTMLParser):
    """Every href and src attribute value, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs.extend(value for name, value in attrs if name in ("href", "src") and value)


def _key(url: str, *, base_url: str, prefix: str) -> str | None:
    """The key a URL is published at, or None if it is not under base_url
    (a query or fragment does not change the object it names)."""
    if not url.startswith(base_url):
        return None
    rel = unquote(urlsplit(url[len(base_url) :]).path)
    if rel == "" or rel.endswith("/"):
        rel += "index.html"
    return prefix + rel


# Cached: a walk per step of a simulated push reads the same documents again
# and again, and parsing them is most of its cost.
@lru_cache(maxsize=8192)
def links(key: str, body: bytes, *, base_url: str, prefix: str) -> frozenset[str]:
    """The keys of our objects the document at ``key`` links to."""
    if not key.endswith(DOCUMENTS):
        return frozenset()
    # JSON may escape "/" as "\/": read past it.
    text = body.decode("utf-8", errors="replace").replace("\\/", "/")
    urls = re.findall(re.escape(base_url) + PATH, text)
    if key.endswith(".html"):
        parser = _Refs()
        parser.feed(text)
        parser.close()
        own_url = base_url + key.removeprefix(prefix)
        urls.extend(urljoin(own_url, ref) for ref in parser.refs)
    targets = (_key(url, base_url=base_url, prefix=prefix) for url in urls)
    return frozenset(target for target in targets if target is not None)


def roots(before: Iterable[str], *, prefix: str) -> set[str]:
    """Where readers enter a bucket during a push: the keys there before it,
    and the index page and OPML list once uploaded."""
    return {*before, prefix + "index.html", prefix + "feeds.opml"}


def broken_links(
    objects: Mapping[str, bytes], *, base_url: str, prefix: str
) -> list[tuple[str, str]]:
    """(document, missing target) for every link of every document in
    ``objects`` to one of our objects not in ``objects``."""
    return sorted(
        (key, target)
        for key, body in objects.items()
        for target in links(key, body, base_url=base_url, prefix=prefix)
        if target not in objects
    )


def unreachable_breaks(
    objects: Mapping[str, bytes], *, base_url: str, prefix: str, roots: Iterable[str]
) -> list[tuple[str, str]]:
    """(document, missing target) for every broken link of every document a
    reader can reach from ``roots`` by following links between objects that
    exist. A root not in ``objects`` is skipped (it may have been deleted).

    This is the rule while a push is under way: documents uploaded but not
    yet linked from anything a reader knows may link to ones still to come."""
    return _walk(objects, base_url=base_url, prefix=prefix, roots=roots)[1]


def reachable(
    objects: Mapping[str, bytes], *, base_url: str, prefix: str, roots: Iterable[str]
) -> set[str]:
    """The objects a reader can reach from ``roots`` (those in ``objects``)."""
    return _walk(objects, base_url=base_url, prefix=prefix, roots=roots)[0]


def _walk(
    objects: Mapping[str, bytes], *, base_url: str, prefix: str, roots: Iterable[str]
) -> tuple[set[str], list[tuple[str, str]]]:
    """A breadth-first walk from ``roots`` along links to objects that exist:
    the objects met, and the links met to objects that do not."""
    queue = deque(sorted(root for root in set(roots) if root in objects))
    seen = set(queue)
    breaks = []
    while queue:
        key = queue.popleft()
        for target in sorted(links(key, objects[key], base_url=base_url, prefix=prefix)):
            if target not in objects:
                breaks.append((key, target))
            elif target not in seen:
                seen.add(target)
                queue.append(target)
    return seen, sorted(breaks)
