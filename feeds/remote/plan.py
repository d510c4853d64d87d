"""What a push does: the local objects against what the target holds.

An object is uploaded when its bytes, media type or ``Cache-Control`` differ
from its manifest entry (or it has none, or a pending one); an object the
manifest names and the output no longer has is deleted. Uploads go in
`TIERS` order, and within the archives, new documents before changed ones
(a changed archive's next-archive may name a new one), and those a push
cut short left pending in between. Among the entry
documents, the OPML list goes after the index page: on a first push every
feed it lists links to the index page, which must be there first (the index
page links back to the list, the one break no order avoids). Deletions come
last, when nothing uploaded links to them any more, and in the reverse
order: a page before the feeds it offers, a feed before its archives, a
newer archive before an older one (JSON Feed archives link only to older
ones), so a stale object still there links only to objects still there,
or to one already gone that links back to it (no order avoids those).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from feeds.formats import OPML
from feeds.remote.local import TIERS, LocalObject, tier_of
from feeds.remote.manifest import Entry, Manifest
from feeds.remote.targets import Target


@dataclass(frozen=True, slots=True)
class Upload:
    object: LocalObject
    entry: Entry


@dataclass(frozen=True, slots=True)
class PushPlan:
    #: Uploads in the order they may happen: each batch only after the one before.
    batches: tuple[tuple[Upload, ...], ...]
    #: Names to delete once every batch is stored.
    deletions: tuple[str, ...]
    unchanged: int

    @property
    def uploads(self) -> tuple[Upload, ...]:
        return tuple(upload for batch in self.batches for upload in batch)

    @property
    def pending(self) -> int:
        """Objects this plan writes or removes."""
        return len(self.uploads) + len(self.deletions)


def entry_for(obj: LocalObject, target: Target) -> Entry:
    return Entry(obj.sha256, obj.content_type, target.cache_control[obj.kind])


def plan_push(local: Mapping[str, LocalObject], remote: Manifest, target: Target) -> PushPlan:
    """The uploads, in order, and the deletions that make ``remote`` match ``local``."""
    groups = ("new archives", "pending archives", *TIERS, "opml")
    by_tier: dict[str, list[Upload]] = {tier: [] for tier in groups}
    unchanged = 0
    for name in sorted(local):
        obj = local[name]
        entry = entry_for(obj, target)
        held = remote.entries.get(name)
        if held == entry:
            unchanged += 1
            continue
        by_tier[_group(obj, held)].append(Upload(obj, entry))
    deletions = tuple(
        sorted(remote.entries.keys() - local.keys(), key=_deletion_order, reverse=True)
    )
    batches = tuple(tuple(uploads) for uploads in by_tier.values() if uploads)
    return PushPlan(batches, deletions, unchanged)


def _group(obj: LocalObject, held: Entry | None) -> str:
    """Which batch uploads ``obj``, which the target holds as ``held``."""
    if obj.name == OPML.filename:
        return "opml"
    if obj.tier != "archives":
        return obj.tier
    if held is None:
        return "new archives"
    if held.sha256 is None:
        # Entered before a push that was cut short: held in an old version, or
        # not at all. After the new ones, which it may now link to; before the
        # changed ones, which may link to it.
        return "pending archives"
    return "archives"


def _deletion_order(name: str) -> tuple[int, str]:
    # Sorted in reverse: later tiers first, and archive months newest first.
    return TIERS.index(tier_of(name)), name
