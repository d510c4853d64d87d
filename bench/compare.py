"""Two revisions side by side: the same output, byte for byte, and their timings.

    python -m bench.compare REV [--articles 10000] [--warm-articles 100000]
                                [--repeat 5] [--edits 30]

For a change that must not change behaviour (a refactor, a dependency bump):
REV (a commit, tag or branch) is exported with ``git archive`` and its
``feeds`` package run with this venv's libraries, beside the working tree's.

1. Sameness: both build the ``--articles`` corpus from cold, and the two
   output trees are compared file by file (names and bytes). Any difference
   is printed and the exit code is 1.
2. Timings, runs of the two alternating so both see the same noise: cold
   builds at ``--articles``, warm (nothing changed) builds at
   ``--warm-articles``, and save→feed latency of ``feeds run`` at
   ``--articles``. Medians are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.latency import code_env
from bench.latency import measure as measure_latency
from bench.run import DEBOUNCE_MS, WORK, _corpus

REPO = Path(__file__).resolve().parent.parent


def _export(revision: str, into: Path) -> Path:
    """The tree of ``revision``, written under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _build(code: Path, corpus: Path, work: Path, *, cold: bool) -> float:
    """Wall seconds of one ``feeds build`` of ``corpus`` by the tree ``code``."""
    output, cache = work / "output", work / "cache"
    if cold:
        shutil.rmtree(output, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    command = [
        sys.executable, "-m", "feeds", "build", "-q",
        "--seeds", str(corpus / "seeds"), "--output", str(output), "--cache-dir", str(cache),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=code, env=code_env(code), capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{code}: feeds build exited {done.returncode}: {done.stderr[-2000:]!r}")
    return elapsed


def _files(root: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path.relative_to(root).as_posix(), hashlib.sha256(path.read_bytes()).hexdigest()


def differences(before: Path, after: Path) -> list[str]:
    """Every file that is only in one tree or differs between the two."""
    old, new = dict(_files(before)), dict(_files(after))
    lines = [f"only before: {name}" for name in sorted(old.keys() - new.keys())]
    lines += [f"only after: {name}" for name in sorted(new.keys() - old.keys())]
    both = sorted(old.keys() & new.keys())
    lines += [f"differs: {name}" for name in both if old[name] != new[name]]
    return lines


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revision")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--warm-articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        root = Path(tmp)
        trees = {
            "before": _export(args.revision, root / "code"),
            "after": REPO,
        }
        corpus = _corpus(args.articles)
        work = {name: root / name for name in trees}
        cold: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.repeat):
            for name, code in trees.items():
                cold[name].append(_build(code, corpus, work[name], cold=True))
        found = differences(work["before"] / "output", work["after"] / "output")
        count = sum(1 for _ in _files(work["after"] / "output"))
        print(f"{args.articles:,} articles: {count:,} files; {len(found)} differ", flush=True)
        for line in found[:50]:
            print(f"  {line}")
        warm_corpus = _corpus(args.warm_articles)
        warm_work = {name: root / f"warm-{name}" for name in trees}
        warm: dict[str, list[float]] = {name: [] for name in trees}
        for name, code in trees.items():
            _build(code, warm_corpus, warm_work[name], cold=True)
        for _ in range(args.repeat):
            for name, code in trees.items():
                warm[name].append(_build(code, warm_corpus, warm_work[name], cold=False))
        latency: dict[str, list[float]] = {}
        for name, code in trees.items():
            latency[name] = measure_latency(
                args.articles, args.edits, DEBOUNCE_MS, corpus=corpus / "seeds", code=code
            )
        print()
        print(f"| median | {args.revision} | working tree |")
        print("|---|---:|---:|")
        print(
            f"| cold build, {args.articles:,} articles (s) | "
            f"{_median(cold['before']):.2f} | {_median(cold['after']):.2f} |"
        )
        print(
            f"| warm build, {args.warm_articles:,} articles (s) | "
            f"{_median(warm['before']):.2f} | {_median(warm['after']):.2f} |"
        )
        print(
            f"| save→feed p50, {args.articles:,} articles (ms) | "
            f"{_median(latency['before']):.0f} | {_median(latency['after']):.0f} |"
        )
        print(
            f"| save→feed p95, {args.articles:,} articles (ms) | "
            f"{_p95(latency['before']):.0f} | {_p95(latency['after']):.0f} |"
        )
        return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
