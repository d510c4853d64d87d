"""The hostile-input corpus: committed seeds, generated ones, and their manifest."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

CORPUS = REPO / "tests" / "data" / "hostile"
#: In `secured` and an unknown field of every corpus file; must never be shown.
MARKER = "hostile-secret-9f2c7a"


@dataclass(frozen=True)
class Case:
    name: str
    outcome: str  # "rejected", "repaired" or "warned"
    reason: str = ""
    #: A warned case's warnings, each reason in full, in the order given.
    warnings: tuple[str, ...] = ()
    expect: dict[str, Any] = field(default_factory=dict)
    generated: bool = False

    @property
    def published(self) -> bool:
        return self.outcome != "rejected"


def manifest() -> dict[str, Case]:
    with (CORPUS / "manifest.yaml").open(encoding="utf-8") as file:
        entries = yaml.safe_load(file)
    return {
        name: Case(
            name=name,
            outcome=entry["outcome"],
            reason=entry.get("reason", ""),
            warnings=tuple(entry.get("warnings", ())),
            expect=entry.get("expect", {}),
            generated=entry.get("generated", False),
        )
        for name, entry in entries.items()
    }


def _seed(title: str, slug: str, body: str = "") -> str:
    return (
        "---\n"
        f'secured: "{MARKER}"\n'
        f'internalNotes: "{MARKER}"\n'
        f'title: "{title}"\n'
        f'webUrl: "https://example.org/hostile/{slug}"\n'
        "publishedDateTime: 2024-03-02T10:00:00Z\n"
        f"{body}"
        "---\n"
    )


def populate(seeds: Path, outside: Path) -> dict[str, Path]:
    """Copies the corpus into ``seeds`` and generates the rest; ``outside`` is a
    folder beside it (for the symlink case). Returns each case's path."""
    seeds.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for case in manifest().values():
        path = seeds / case.name
        paths[case.name] = path
        if not case.generated:
            shutil.copyfile(CORPUS / case.name, path)
    # Generated: megabytes are made here rather than committed.
    words = "word <b>bold</b> &amp; " * 250_000  # about 5.5 MB
    paths["huge-excerpt.txt"].write_text(
        _seed("Huge excerpt", "huge-excerpt", f'excerpt: "{words}"\n'), encoding="utf-8"
    )
    topics = "".join(f"  - topic {index}\n" for index in range(5000))
    paths["thousands-of-topics.txt"].write_text(
        _seed("Thousands of topics", "thousands-of-topics", f"topics:\n{topics}"),
        encoding="utf-8",
    )
    nesting = "- " * 50_000  # about 30,000 levels overflowed libyaml's C stack
    paths["deeply-nested.txt"].write_text(
        _seed("Deeply nested", "deeply-nested", f"related:\n  {nesting}x\n"), encoding="utf-8"
    )
    filler = "x" * (16 * 1024 * 1024)
    paths["oversized.txt"].write_text(
        _seed("Oversized", "oversized", f'excerpt: "{filler}"\n'), encoding="utf-8"
    )
    secret = outside / "elsewhere.txt"
    secret.write_text(_seed("Outside the seeds folder", "outside"), encoding="utf-8")
    paths["symlink-outside.txt"].symlink_to(secret)
    target = seeds / "linked-target.dat"  # not an article name: read only through the link
    target.write_text(_seed("Linked from inside", "inside"), encoding="utf-8")
    paths["symlink-inside.txt"].symlink_to(target.name)
    paths["control\nchars\x1b[31m.txt"].write_text(f'secured: "{MARKER}"\n', encoding="utf-8")
    return paths
