"""The one-million-article figures of issue 17, in one run.

    python -m bench.million [--articles 1000000] [--edits 30]

Not part of `make bench-all`: at a million articles it takes about 15
minutes and 25 GB of disk on the 2-core machine. In order, on the bench corpus
(bench/.work/corpus-N, made if missing) with the default config:

1. a cold build: wall time, peak RSS of the main process, output size and
   file count;
2. a warm build with nothing to do, median of 3;
3. `feeds run --no-serve` over that output and cache: seconds from the
   command to the `ready` line (a restart), resident memory once idle;
4. save→feed: one seed edited at a time (made the newest, so it is in the
   combined feed), until `all.json` on disk has the new title; p50 and p95.
   One untimed edit first, so the samples are of a daemon that has settled.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.latency import _newest, _wait_for_title
from bench.run import WORK, _corpus, _timed


def _tree(output: Path) -> tuple[int, int]:
    files = [path for path in output.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def _resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _daemon(config: Path, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    """A started daemon and the seconds it took to say ``ready``."""
    started = time.monotonic()
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "feeds", "run", "--no-serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    while " ready" not in log.read_text():
        if process.poll() is not None:
            raise RuntimeError(f"feeds run exited {process.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.02)
    return process, time.monotonic() - started


def _edits(seeds: Path, output: Path, edits: int) -> list[float]:
    target = seeds / "000007.txt"
    original = target.read_text("utf-8")
    samples = []
    for n in range(edits + 1):
        title = f"Million probe {n}"
        text = _newest(original.replace('title: "', f'title: "{title} ', 1), n)
        started = time.monotonic()
        target.unlink()  # a new file: the bench's corpus stays as it was
        target.write_text(text, encoding="utf-8")
        finished = _wait_for_title(output / "all.json", title, timeout=600)
        if n:
            samples.append((finished - started) * 1000)
        time.sleep(0.2)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    corpus = _corpus(args.articles)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        root = Path(tmp)
        seeds = root / "seeds"
        subprocess.run(["cp", "-al", str(corpus / "seeds"), str(seeds)], check=True)
        output, cache = root / "output", root / "cache"
        build = [
            sys.executable, "-m", "feeds", "build", "-q",
            "--seeds", str(seeds), "--output", str(output), "--cache-dir", str(cache),
        ]  # fmt: skip
        cold, peak = _timed(build)
        files, size = _tree(output)
        warm = statistics.median(_timed(build)[0] for _ in range(3))
        config = root / "feeds.yaml"
        config.write_text(
            f"seeds: {seeds}\noutput: {output}\ncache_dir: {cache}\nrescan_interval: 3600\n"
        )
        process, ready = _daemon(config, root / "daemon.log")
        try:
            samples = sorted(_edits(seeds, output, args.edits))
            time.sleep(5)
            idle = _resident_mb(process.pid)
        finally:
            process.terminate()
            process.wait(120)
        p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
        print(f"| at {args.articles:,} articles | measured |")
        print("|---|---:|")
        print(f"| cold build | {cold:,.0f} s, peak {peak:,.0f} MB |")
        print(f"| output | {size / 2**30:,.1f} GiB in {files:,} files |")
        print(f"| warm no-op build (median of 3) | {warm:.2f} s |")
        print(f"| daemon restart over its output and cache → ready | {ready:.1f} s |")
        print(f"| idle daemon | {idle:,.0f} MB resident |")
        print(
            f"| save→feed p50 / p95 ({len(samples)} edits) | "
            f"{statistics.median(samples):,.0f} / {p95:,.0f} ms |"
        )
        shutil.rmtree(output, ignore_errors=True)


if __name__ == "__main__":
    main()
