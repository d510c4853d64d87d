"""Save-to-feed latency of `feeds run`: edit one article, time until the feed on disk has it.

    python -m bench.latency [--articles 1000] [--edits 50] [--debounce-ms 250]

Prints p50/p95/max in milliseconds. The clock starts when the edited file is
closed and stops when the combined JSON feed (written atomically) holds the
new title, polled every millisecond.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import write_corpus


def _wait_for_title(feed: Path, title: str, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if title in feed.read_text("utf-8"):
                return time.monotonic()
        except FileNotFoundError:
            pass
        time.sleep(0.001)
    raise TimeoutError(title)


def measure(
    articles: int,
    edits: int,
    debounce_ms: int,
    corpus: Path | None = None,
    code: Path | None = None,
) -> list[float]:
    """Latency samples in ms; ``corpus`` (a seeds folder) is copied, never edited.

    ``code`` is a source tree whose ``feeds`` package runs instead of the
    installed one (bench/compare.py times two revisions this way).
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if corpus is not None:
            shutil.copytree(corpus, root / "seeds")
        else:
            write_corpus(root / "seeds", articles)
        # Every edit makes its article the newest, so it is in the combined feed.
        (root / "feeds.yaml").write_text(
            f"seeds: seeds\noutput: output\ndebounce_ms: {debounce_ms}\nrescan_interval: 3600\n"
        )
        log = (root / "daemon.log").open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feeds",
                "run",
                "--no-serve",
                "--config",
                str(root / "feeds.yaml"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=code,
            env=code_env(code),
        )
        try:
            feed = root / "output" / "all.json"
            # Time edits only once the first build is done ("ready" in the log).
            while " ready" not in (root / "daemon.log").read_text():
                if process.poll() is not None:
                    raise RuntimeError(f"feeds run exited {process.returncode}")
                time.sleep(0.05)
            time.sleep(1.0)  # let the first build's garbage be collected
            target = root / "seeds" / "000007.txt"
            original = target.read_text("utf-8")
            samples = []
            for n in range(edits):
                title = f"Latency probe {n}"
                text = original.replace('title: "', f'title: "{title} ', 1)
                text = _newest(text, n)
                start = time.monotonic()
                target.write_text(text, encoding="utf-8")
                try:
                    samples.append((_wait_for_title(feed, title) - start) * 1000)
                except TimeoutError:
                    print((root / "daemon.log").read_text()[-2000:], file=sys.stderr)
                    raise
                time.sleep(0.05)
            return samples
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                print((root / "daemon.log").read_text()[-3000:], file=sys.stderr)
                raise
            finally:
                log.close()


def code_env(code: Path | None) -> dict[str, str] | None:
    """The environment that makes ``python -m feeds`` run the tree ``code``."""
    if code is None:
        return None
    return {**os.environ, "PYTHONPATH": str(code)}


def _newest(text: str, n: int) -> str:
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("publishedDateTime:"):
            lines[i] = f"publishedDateTime: 2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z\n"
    return "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--debounce-ms", type=int, default=250)
    args = parser.parse_args()
    samples = sorted(measure(args.articles, args.edits, args.debounce_ms))
    p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
    print(
        json.dumps(
            {
                "articles": args.articles,
                "edits": len(samples),
                "debounce_ms": args.debounce_ms,
                "p50_ms": round(statistics.median(samples), 1),
                "p95_ms": round(p95, 1),
                "max_ms": round(samples[-1], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
