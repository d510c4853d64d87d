"""What a target holds, as this tool wrote it: one JSON object under the prefix.

The manifest is the record of ownership (a push deletes only objects named
in it) and of content (an object whose entry matches the local file is not
uploaded again). Its one rule: an entry never claims bytes the bucket may
not hold. So an object about to be written is first entered as *pending*
(no hash): a push cut short leaves pending entries, which match nothing and
are uploaded again, and which still mark those keys as ours.

It is read from the bucket, so it is parsed as untrusted input: bounded in
size, every entry checked, and anything malformed treated as no manifest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from feeds.formats import is_hidden

#: The manifest's key past the prefix: a dotfile, so never one of the
#: output's public files, and never served by feeds' own server.
MANIFEST_NAME = ".feeds-manifest.json"
#: The version of the layout below.
LAYOUT = "feeds-manifest/1"
#: No manifest this tool writes comes near this (about 150 bytes per object).
MAX_BYTES = 256 * 1024 * 1024

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HEADER = re.compile(r"^[\x20-\x7e]{1,256}$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One object as stored: None for ``sha256`` marks it pending."""

    sha256: str | None
    content_type: str
    cache_control: str


PENDING = Entry(None, "", "")


@dataclass(frozen=True, slots=True)
class Manifest:
    entries: Mapping[str, Entry]

    def with_entries(self, changes: Mapping[str, Entry]) -> Manifest:
        return Manifest({**self.entries, **changes})

    def without(self, names: set[str]) -> Manifest:
        return Manifest({k: v for k, v in self.entries.items() if k not in names})

    def size(self) -> int:
        """About the bytes `to_bytes` makes, without making them."""
        return sum(
            len(name) + 48 + len(e.content_type) + len(e.cache_control) + 64
            for name, e in self.entries.items()
        )

    def to_bytes(self) -> bytes:
        objects = {
            name: {"sha256": e.sha256, "type": e.content_type, "cache": e.cache_control}
            for name, e in sorted(self.entries.items())
        }
        return json.dumps({"layout": LAYOUT, "objects": objects}, separators=(",", ":")).encode()


EMPTY = Manifest({})


def parse_manifest(body: bytes) -> Manifest | None:
    """The manifest in ``body``, or None when it is not one this tool wrote
    (then no object under the prefix counts as ours)."""
    if len(body) > MAX_BYTES:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("layout") != LAYOUT:
        return None
    objects = data.get("objects")
    if not isinstance(objects, dict):
        return None
    entries: dict[str, Entry] = {}
    for name, fields in objects.items():
        entry = _entry(name, fields)
        if entry is None:
            return None
        entries[name] = entry
    return Manifest(entries)


def _entry(name: object, fields: object) -> Entry | None:
    if not isinstance(name, str) or not name or is_hidden(name) or name.startswith("/"):
        return None
    if not isinstance(fields, dict):
        return None
    sha256, kind, cache = fields.get("sha256"), fields.get("type"), fields.get("cache")
    if sha256 is None:
        return PENDING
    if not (isinstance(sha256, str) and _SHA256.match(sha256)):
        return None
    if not (_is_header(kind) and _is_header(cache)):
        return None
    return Entry(sha256, str(kind), str(cache))


def _is_header(value: object) -> bool:
    return isinstance(value, str) and _HEADER.match(value) is not None
