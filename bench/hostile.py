"""Time and peak memory of reading the heaviest hostile seeds (figures for
docs/RELIABILITY.md, "Hostile input"). Run: .venv/bin/python -m bench.hostile"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from datetime import UTC
from pathlib import Path

from feeds.errors import ArticleError
from feeds.seeds.reader import ReadOptions, read_article
from tests.hostile import populate

CASES = [
    "huge-excerpt.txt",
    "oversized.txt",
    "thousands-of-topics.txt",
    "reject-billion-laughs.txt",
    "reject-merge-key-bomb.txt",
    "repair-aliased-topics.txt",
]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = populate(root / "seeds", root / "outside")
        for name in CASES:
            path = paths[name]
            tracemalloc.start()
            started = time.perf_counter()
            try:
                read_article(path, UTC, ReadOptions(seeds=root / "seeds"))
                result = "published"
            except ArticleError as error:
                result = error.reason
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            size = path.stat().st_size
            print(
                f"| {name} | {size / 1e6:.2f} MB | {seconds * 1000:.0f} ms"
                f" | {peak / 1e6:.1f} MB | {result} |"
            )


if __name__ == "__main__":
    main()
