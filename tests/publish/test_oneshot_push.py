"""Specs of `feeds publish` against a real S3 API server: what a push puts in
the bucket, what it leaves alone, and what it deletes."""

from __future__ import annotations

import pytest

from feeds.formats import content_type
from feeds.remote import manifest as manifest_module
from feeds.remote import store as store_module
from tests.publish.bucket import bodies, broken_links
from tests.publish.site import BASE_URL, CACHE, MANIFEST, PREFIX, Site, puts, site, uploaded

__all__ = ["puts", "site"]  # fixtures

#: Objects this tool does not own: one under the prefix, one outside it.
FOREIGN_KEY = PREFIX + "notes/readme.txt"
FOREIGN = {FOREIGN_KEY: b"not ours", "elsewhere/page.html": b"<p>other</p>"}


def kind_of(key: str) -> str:
    """The Cache-Control kind of a stored document, as the README gives it."""
    name = key.removeprefix(PREFIX)
    if name.startswith("archive/"):
        return "archives"
    if name.endswith((".html", ".opml")):
        return "pages"
    return "feeds"


def pushed(site: Site) -> None:
    site.build()
    assert site.publish().code == 0


def test_a_first_push_uploads_every_public_file_with_its_type_and_cache_control(
    site: Site,
) -> None:
    site.build()
    local = site.local()

    run = site.publish()

    assert run.code == 0, run.err
    assert uploaded(run) == len(local)
    stored = site.objects()
    assert set(stored) == {*local, MANIFEST}
    for key, body in local.items():
        assert stored[key].body == body, key
        assert stored[key].content_type == content_type(key), key
        assert stored[key].cache_control == CACHE[kind_of(key)], key
    # Every kind was there to check, the marker file was not.
    assert {kind_of(key) for key in local} == set(CACHE)
    assert (site.output / ".made-by-feeds").is_file()
    assert broken_links(bodies(stored), base_url=BASE_URL, prefix=PREFIX) == []


def test_a_second_push_with_nothing_changed_uploads_nothing(site: Site) -> None:
    pushed(site)
    before = site.objects()
    etag = site.server.client().head_object(Bucket=site.bucket, Key=MANIFEST)["ETag"]

    run = site.publish()

    assert run.code == 0
    assert uploaded(run) == 0
    assert f": 0 uploaded, {len(site.local())} unchanged, 0 deleted," in run.out
    assert site.objects() == before
    assert site.server.client().head_object(Bucket=site.bucket, Key=MANIFEST)["ETag"] == etag


def test_one_retitled_article_uploads_exactly_the_documents_the_build_rewrote(
    site: Site, puts: list[str]
) -> None:
    pushed(site)
    before = site.local()
    site.article("g2.md", "Go two, retitled", "Go", month=5)
    site.build()
    after = site.local()
    rewritten = {key.removeprefix(PREFIX) for key in after if after[key] != before.get(key)}
    assert rewritten, "the edit changed nothing"
    puts.clear()

    run = site.publish()

    assert run.code == 0
    assert sorted(puts) == sorted(rewritten)
    assert uploaded(run) == len(rewritten)
    assert bodies(site.ours()) == after


def test_a_topic_gone_loses_its_objects_and_foreign_objects_stay(site: Site) -> None:
    pushed(site)
    for key, body in FOREIGN.items():
        site.put(key, body)
    go = {key for key in site.local() if "/go" in key}
    assert {kind_of(key) for key in go} == {"feeds", "pages", "archives"}
    (site.seeds / "g1.md").unlink()
    site.article("g2.md", "Go two", "AI", month=5)  # re-topiced
    site.build()

    run = site.publish()

    assert run.code == 0
    assert ", 0 deleted," not in run.out
    stored = bodies(site.objects())
    assert not go & stored.keys()
    assert stored == {**site.local(), **FOREIGN, MANIFEST: stored[MANIFEST]}


def test_a_first_push_to_a_bucket_holding_the_same_objects_uploads_nothing(
    site: Site,
) -> None:
    pushed(site)
    before = site.objects()
    site.server.client().delete_object(Bucket=site.bucket, Key=MANIFEST)

    run = site.publish()

    assert run.code == 0
    assert uploaded(run) == 0
    after = site.objects()
    del before[MANIFEST], after[MANIFEST]
    assert after == before


def test_objects_adopted_by_a_first_push_are_ours_and_deleted_when_gone(site: Site) -> None:
    # Without a manifest recording them, a later push could not tell them
    # from foreign objects: a topic gone would stay in the bucket.
    pushed(site)
    site.server.client().delete_object(Bucket=site.bucket, Key=MANIFEST)
    assert site.publish().code == 0
    for name in ("g1.md", "g2.md"):
        (site.seeds / name).unlink()
    site.build()

    run = site.publish()

    assert run.code == 0
    assert bodies(site.ours()) == site.local()


def test_a_foreign_object_at_one_of_our_keys_is_overwritten_and_then_ours(site: Site) -> None:
    pushed(site)
    key = PREFIX + "topics/ai.html"
    site.server.client().delete_object(Bucket=site.bucket, Key=MANIFEST)
    site.put(key, b"<p>someone else's page</p>")

    run = site.publish()

    assert run.code == 0
    assert uploaded(run) == 1
    assert site.objects()[key].body == site.local()[key]
    assert key.removeprefix(PREFIX) in site.manifest()


# A few kinds at the server; test_oneshot_manifest has the rest.
HOSTILE = {
    "not JSON": b"\x00\xff{{{ not json",
    "another layout": b'{"layout": "feeds-manifest/9", "objects": {"notes/readme.txt": null}}',
    "a name with ..": (
        b'{"layout": "feeds-manifest/1", "objects": {"notes/readme.txt": {"sha256": null},'
        b' "../elsewhere/page.html": {"sha256": null}}}'
    ),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_manifest_not_ours_counts_as_none_and_deletes_nothing(site: Site, body: bytes) -> None:
    pushed(site)
    for key, foreign in FOREIGN.items():
        site.put(key, foreign)
    site.put(MANIFEST, body)

    run = site.publish()

    assert run.code == 0, run.err
    assert uploaded(run) == 0
    stored = bodies(site.objects())
    assert {key: stored.get(key) for key in FOREIGN} == FOREIGN
    assert bodies(site.ours()) == {**site.local(), PREFIX + "notes/readme.txt": b"not ours"}


def test_a_manifest_over_the_size_limit_counts_as_none(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed(site)
    site.put(FOREIGN_KEY, b"not ours")
    claim = b'{"layout": "feeds-manifest/1", "objects": {"notes/readme.txt": {"sha256": null}}}'
    monkeypatch.setattr(manifest_module, "MAX_BYTES", len(claim) + 10)
    monkeypatch.setattr(store_module, "MAX_BYTES", len(claim) + 10)
    site.put(MANIFEST, claim + b" " * 11)

    run = site.publish()

    assert run.code == 0, run.err
    assert site.objects()[FOREIGN_KEY].body == b"not ours"


def test_a_dry_run_lists_the_changes_and_changes_nothing(site: Site) -> None:
    pushed(site)
    before = site.local()
    (site.seeds / "g1.md").unlink()
    site.article("g2.md", "Go two", "AI", month=5)
    site.build()
    after = site.local()
    expected = {key.removeprefix(PREFIX) for key in after if after[key] != before.get(key)}
    expected |= {key.removeprefix(PREFIX) for key in before.keys() - after.keys()}
    stored = site.objects()

    run = site.publish("--dry-run")

    assert run.code == 0
    listed = {line.strip() for line in run.out.splitlines() if line.startswith("  ")}
    assert listed == expected
    gone = len(before.keys() - after.keys())
    assert f"{len(expected) - gone} would upload" in run.out
    assert f"{gone} to delete" in run.out
    assert site.objects() == stored


def test_a_dry_run_to_an_empty_bucket_writes_no_manifest(site: Site) -> None:
    site.build()

    run = site.publish("--dry-run")

    assert run.code == 0
    assert f"{len(site.local())} would upload" in run.out
    assert site.objects() == {}
