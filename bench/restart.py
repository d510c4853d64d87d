"""Restart time of `feeds run`: seconds from the command to its `ready` line,
over its own parse cache and output (issue 17).

    python -m bench.restart [--articles 100000] [--runs 3] [--site DIR --seeds DIR]

Uses the corpus of `bench/.work/corpus-N` with its own output and cache
(made by a first start when missing), or seeds read from ``--seeds`` with the
output and cache in ``--site``; never serving (``--no-serve``).
Prints each run and the median; each daemon is stopped after it is ready,
and how long the stop took (during the background load) is printed too.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.run import _corpus


def _daemon(site: Path, seeds: Path) -> subprocess.Popen[str]:
    config = site / "restart.yaml"
    config.write_text(f"seeds: {seeds.absolute()}\noutput: output\nrescan_interval: 3600\n")
    return subprocess.Popen(
        [sys.executable, "-m", "feeds", "run", "--no-serve", "--config", str(config),
         "--cache-dir", str(site / "cache")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def restart(site: Path, seeds: Path) -> tuple[float, float]:
    """Seconds to ready, and seconds the stop that follows took."""
    started = time.monotonic()
    process = _daemon(site, seeds)
    assert process.stderr is not None
    ready = None
    for line in process.stderr:
        if " ready" in line:
            ready = time.monotonic() - started
            break
    stopping = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    if ready is None or process.returncode != 0:
        raise RuntimeError(f"feeds run exited {process.returncode} before or after ready")
    return ready, time.monotonic() - stopping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--site", type=Path, help="where the output and cache are kept")
    parser.add_argument("--seeds", type=Path, help="the seeds folder (with --site)")
    options = parser.parse_args()
    site = options.site or _corpus(options.articles)
    seeds = options.seeds or site / "seeds"
    restart(site, seeds)  # a first start may build (no cache, or another's): not counted
    samples = []
    for _ in range(options.runs):
        ready, stop = restart(site, seeds)
        samples.append(ready)
        print(f"ready in {ready:.2f} s (stop {stop:.2f} s)", flush=True)
    print(f"median {statistics.median(samples):.2f} s of {len(samples)}")


if __name__ == "__main__":
    main()
