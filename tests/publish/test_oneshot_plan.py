"""Specs of a push's plan (`feeds.remote.plan.plan_push`), no server: what
is uploaded, in which order, and what is deleted, and in how many requests."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from feeds.remote import pusher
from feeds.remote.local import LocalObject, OutputFolder, tier_of
from feeds.remote.manifest import EMPTY, PENDING, Entry, Manifest
from feeds.remote.plan import entry_for, plan_push
from feeds.remote.pusher import push
from feeds.remote.targets import Target
from tests.publish.sites import MemoryStore

TARGET = Target(
    url="s3://bucket/feeds/",
    bucket="bucket",
    prefix="feeds/",
    endpoint_url=None,
    region=None,
    profile=None,
    public_url="https://cdn.example.org/feeds/",
    cache_control={"feeds": "f", "archives": "a", "pages": "p"},
    purge_command=(),
)
NAMES = (
    "index.html",
    "feeds.opml",
    "all.html",
    "all.atom.xml",
    "topics/ai.json",
    "topics/ai.html",
    "archive/all/2024-04.atom.xml",
    "archive/all/2024-05.atom.xml",
)


def obj(name: str, body: str = "v1") -> LocalObject:
    digest = hashlib.sha256(f"{name}:{body}".encode()).hexdigest()
    return LocalObject(name, digest, len(body), "text/plain", tier_of(name))


def folder(*objects: LocalObject) -> dict[str, LocalObject]:
    return {o.name: o for o in objects}


def held(local: dict[str, LocalObject], target: Target = TARGET) -> Manifest:
    """The manifest of a target holding exactly ``local``."""
    return Manifest({name: entry_for(o, target) for name, o in local.items()})


def batches(local: dict[str, LocalObject], remote: Manifest) -> list[list[str]]:
    work = plan_push(local, remote, TARGET)
    return [[upload.object.name for upload in batch] for batch in work.batches]


def test_uploads_go_new_archives_changed_archives_feeds_pages_then_entry_documents() -> None:
    old = folder(*(obj(name) for name in NAMES))
    remote = held({k: v for k, v in old.items() if k != "archive/all/2024-05.atom.xml"})
    local = folder(*(obj(name, "v2") for name in NAMES))

    assert batches(local, remote) == [
        ["archive/all/2024-05.atom.xml"],
        ["archive/all/2024-04.atom.xml"],
        ["all.atom.xml", "topics/ai.json"],
        ["all.html", "topics/ai.html"],
        ["index.html"],
        ["feeds.opml"],
    ]


def test_nothing_changed_plans_nothing() -> None:
    local = folder(*(obj(name) for name in NAMES))

    work = plan_push(local, held(local), TARGET)

    assert (work.batches, work.deletions, work.unchanged) == ((), (), len(NAMES))


def test_only_changed_objects_are_uploaded() -> None:
    local = folder(*(obj(name) for name in NAMES))
    remote = held(local)
    local["topics/ai.json"] = obj("topics/ai.json", "v2")

    assert batches(local, remote) == [["topics/ai.json"]]
    assert plan_push(local, remote, TARGET).unchanged == len(NAMES) - 1


def test_a_pending_entry_is_uploaded_again_an_archive_between_new_and_changed_ones() -> None:
    # Pending: entered by a push cut short, so held in an old version or not
    # at all. It may link to a new archive, and a changed one may link to it.
    local = folder(*(obj(name) for name in NAMES))
    pending = ("all.html", "archive/all/2024-04.atom.xml")
    remote = held(local).with_entries(dict.fromkeys(pending, PENDING))
    local["archive/all/2024-05.atom.xml"] = obj("archive/all/2024-05.atom.xml", "v2")
    local["archive/all/2024-06.atom.xml"] = obj("archive/all/2024-06.atom.xml")

    assert batches(local, remote) == [
        ["archive/all/2024-06.atom.xml"],
        ["archive/all/2024-04.atom.xml"],
        ["archive/all/2024-05.atom.xml"],
        ["all.html"],
    ]


def test_a_changed_cache_control_or_media_type_uploads_again() -> None:
    local = folder(*(obj(name) for name in NAMES))
    remote = held(local)
    pages = TARGET.cache_control | {"pages": "no-cache"}
    retyped = obj("all.atom.xml")
    local["all.atom.xml"] = LocalObject(
        retyped.name, retyped.sha256, retyped.size, "application/atom+xml", retyped.tier
    )

    work = plan_push(local, remote, replace(TARGET, cache_control=pages))

    names = [[upload.object.name for upload in batch] for batch in work.batches]
    assert names == [
        ["all.atom.xml"],
        ["all.html", "topics/ai.html"],
        ["index.html"],
        ["feeds.opml"],
    ]
    assert {u.entry.cache_control for u in work.batches[-1]} == {"no-cache"}


def test_deletions_are_the_manifest_names_missing_locally_and_only_those() -> None:
    local = folder(*(obj(name) for name in NAMES))
    remote = held(local).with_entries(
        {
            "topics/go.json": entry_for(obj("topics/go.json"), TARGET),
            "archive/topics/go/2024-04.atom.xml": PENDING,
        }
    )

    work = plan_push(local, remote, TARGET)

    # A feed before its archives, so no stale document links to a deleted one.
    assert work.deletions == ("topics/go.json", "archive/topics/go/2024-04.atom.xml")
    assert work.batches == ()


def test_without_a_manifest_everything_is_uploaded_and_nothing_deleted() -> None:
    local = folder(*(obj(name) for name in NAMES))

    work = plan_push(local, EMPTY, TARGET)

    assert sorted(u.object.name for u in work.uploads) == sorted(NAMES)
    assert work.deletions == ()
    assert work.pending == len(NAMES)


def test_each_upload_carries_the_cache_control_of_its_kind() -> None:
    local = folder(*(obj(name) for name in NAMES))

    work = plan_push(local, EMPTY, TARGET)

    got = {u.object.name: u.entry for u in work.uploads}
    assert got["index.html"] == Entry(local["index.html"].sha256, "text/plain", "p")
    assert got["feeds.opml"].cache_control == "p"
    assert got["topics/ai.html"].cache_control == "p"
    assert got["topics/ai.json"].cache_control == "f"
    assert got["archive/all/2024-04.atom.xml"].cache_control == "a"


def test_stale_objects_are_deleted_one_request_per_kind_in_the_plans_order(
    tmp_path: Path,
) -> None:
    # A store deletes the keys of one request in no promised order: the
    # plan's order (pages, feeds, archives) holds only across requests.
    stale = ("topics/go.html", "topics/go.json", "archive/topics/go/2024-04.atom.xml")
    local = folder(*(obj(name) for name in NAMES))
    store = MemoryStore()
    store.manifest = held(local | folder(*(obj(name) for name in stale)))

    push(TARGET, OutputFolder(tmp_path), store, local=local)

    assert store.deletions == [[stale[0]], [stale[1]], [stale[2]]]


def test_a_short_push_saves_the_manifest_twice_before_and_after(tmp_path: Path) -> None:
    # The manifest outweighs the few objects an edit changes: saved once with
    # the uploads pending, once with them stored and the stale ones gone.
    names = ("all.atom.xml", "all.html", "index.html")
    for name in names:
        (tmp_path / name).write_text(f"new {name}", encoding="utf-8")
    output = OutputFolder(tmp_path)
    local = output.scan()
    store = MemoryStore()
    store.manifest = held(local).with_entries(
        {"all.atom.xml": PENDING, "index.html": PENDING, "topics/go.json": PENDING}
    )

    report = push(TARGET, output, store, local=local)

    assert (report.uploaded, report.deleted) == (2, 1)
    assert store.manifest_writes == 2
    assert store.manifest == held(local)


def test_a_long_push_saves_the_manifest_only_once_its_uploads_outweigh_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However long a push runs, its saves stay a small share of what it sends.
    monkeypatch.setattr(pusher, "CHECKPOINT", 0.0)
    for number in range(40):
        (tmp_path / f"f{number}.atom.xml").write_bytes(b"x" * 2000)
    output = OutputFolder(tmp_path)
    store = MemoryStore()

    push(TARGET, output, store)

    sent = 40 * 2000
    assert store.manifest is not None
    most = 2 + sent // (pusher.CHECKPOINT_WEIGHT * store.manifest.size())
    assert 2 < store.manifest_writes <= most
