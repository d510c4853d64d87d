"""Specs of the manifest a target holds (`feeds.remote.manifest`), no
server: it survives a round trip, and anything else reads as no manifest."""

from __future__ import annotations

import json

import pytest

from feeds.remote import manifest as manifest_module
from feeds.remote.manifest import LAYOUT, MAX_BYTES, PENDING, Entry, Manifest, parse_manifest

SHA = "ab" * 32
GOOD = Entry(SHA, "text/html; charset=utf-8", "public, max-age=300")


def layout(objects: object) -> bytes:
    return json.dumps({"layout": LAYOUT, "objects": objects}).encode()


def test_a_manifest_survives_a_round_trip_pending_entries_too() -> None:
    manifest = Manifest({"index.html": GOOD, "topics/ai.json": PENDING})

    assert parse_manifest(manifest.to_bytes()) == manifest


def test_an_empty_manifest_is_one() -> None:
    assert parse_manifest(Manifest({}).to_bytes()) == Manifest({})


def test_with_entries_and_without_leave_the_original_alone() -> None:
    manifest = Manifest({"a.html": GOOD})

    assert manifest.with_entries({"b.html": PENDING}).without({"a.html"}) == Manifest(
        {"b.html": PENDING}
    )
    assert manifest == Manifest({"a.html": GOOD})


ENTRY = {"sha256": SHA, "type": "text/html", "cache": "no-cache"}
HOSTILE = {
    "not JSON": b"{not json",
    "not UTF-8": b"\xff\xfe\x00",
    "empty": b"",
    "a list": b"[]",
    "no layout": json.dumps({"objects": {}}).encode(),
    "another layout": json.dumps({"layout": "feeds-manifest/2", "objects": {}}).encode(),
    "objects a list": layout(["index.html"]),
    "an entry not an object": layout({"index.html": "yes"}),
    "a name with ..": layout({"../index.html": ENTRY}),
    "a name with a .. segment": layout({"topics/../../x.html": ENTRY}),
    "a dotfile": layout({".feeds-manifest.json": ENTRY}),
    "an absolute name": layout({"/etc/passwd": ENTRY}),
    "an empty name": layout({"": ENTRY}),
    "a backslash": layout({"topics\\ai.html": ENTRY}),
    "a short hash": layout({"index.html": {**ENTRY, "sha256": "ab"}}),
    "an upper-case hash": layout({"index.html": {**ENTRY, "sha256": "AB" * 32}}),
    "a hash not a string": layout({"index.html": {**ENTRY, "sha256": 12}}),
    "a header with a newline": layout({"index.html": {**ENTRY, "type": "text/html\r\nX: y"}}),
    "a header too long": layout({"index.html": {**ENTRY, "cache": "x" * 257}}),
    "a missing header": layout({"index.html": {"sha256": SHA, "type": "text/html"}}),
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_anything_but_a_manifest_this_tool_wrote_is_none(body: bytes) -> None:
    assert parse_manifest(body) is None


def test_a_manifest_over_the_size_limit_is_none_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = 1000
    monkeypatch.setattr(manifest_module, "MAX_BYTES", limit)
    body = layout({}).ljust(limit + 1)

    assert parse_manifest(body) is None
    assert parse_manifest(body[:limit]) == Manifest({})


def test_the_size_limit_is_far_above_any_real_manifest() -> None:
    entry = Entry(SHA, "application/atom+xml; charset=utf-8", "public, max-age=3600")
    names = (f"archive/topics/topic-{n}/2024-05.atom.xml" for n in range(100_000))

    assert len(Manifest(dict.fromkeys(names, entry)).to_bytes()) < MAX_BYTES / 10
