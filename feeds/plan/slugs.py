"""Topic names to file names that are safe, readable and stable."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from slugify import slugify

_MAX_LENGTH = 80


def slug_for(topic: str) -> str:
    """Lower-case ASCII words joined by ``-``; transliterated where possible.

    The result only ever holds ``[a-z0-9-]``, so it cannot name a path
    separator or ``..``. A topic with nothing transliterable (only punctuation,
    say) gets ``topic-`` plus a short hash of its name.
    """
    slug = slugify(topic, max_length=_MAX_LENGTH, word_boundary=True, save_order=True)
    return slug or f"topic-{_digest(topic)}"


def assign_slugs(topics: Iterable[str]) -> dict[str, str]:
    """One distinct slug per topic.

    When several topics share a slug ("C++" and "C"), the one whose name sorts
    first keeps the plain slug and the others get a hash suffix derived from
    their own name, so each suffix stays the same whichever other topics exist.
    """
    by_slug: dict[str, list[str]] = defaultdict(list)
    for topic in set(topics):
        by_slug[slug_for(topic)].append(topic)
    assigned: dict[str, str] = {}
    taken = set(by_slug)
    for slug in sorted(by_slug):
        first, *others = sorted(by_slug[slug])
        assigned[first] = slug
        for name in others:
            # A suffixed slug could equal another topic's plain slug ("c-f1deb75f"
            # is a possible topic); lengthen the hash until it is free.
            length = 8
            candidate = f"{slug}-{_digest(name, length)}"
            while candidate in taken:
                length += 4
                candidate = f"{slug}-{_digest(name, length)}"
            taken.add(candidate)
            assigned[name] = candidate
    return assigned


def _digest(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]
