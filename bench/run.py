"""The benchmark runner: cold, warm, latency and memory, beside Hugo when installed.

    python -m bench.run [--sizes 1000 10000 100000] [--repeat 3] [--edits 50]

Writes bench/RESULTS.md (machine, versions, table). Each size gets its own
deterministic corpus under bench/.work/ (ignored by git). Timings are medians
of --repeat runs, ours and Hugo's alternating so both see the same noise.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from bench.corpus import VERSION as CORPUS_VERSION
from bench.corpus import write_corpus
from bench.latency import measure as measure_latency
from feeds.config import Config

ROOT = Path(__file__).resolve().parent
DEBOUNCE_MS: int = Config.model_fields["debounce_ms"].default
# Sections other benchmarks keep in the same file (bench/load.py, bench/connections.py,
# bench/publish.py).
KEPT_SECTIONS = ("startup", "archives", "million", "load", "connections", "publish")

#: Why parts of the design card's libraries are bypassed on hot paths (measured;
#: see the issue notes for the profiles).
NOTES = """\
## Hot paths that do not go through feedgen

feedgen writes every feed document's skeleton (channel or feed element,
titles, links, authors), from one `FeedGenerator` per config whose
feed-level fields are set again for each plan (making one and loading its
extensions cost about 230 us, once per plan). Entries are built with lxml
directly (`feeds/render/entries.py`) into the very elements feedgen builds,
checked byte for byte against feedgen by `tests/render/test_entries.py`. Measured
on 2,000 corpus articles: feedgen's `FeedEntry` model plus `atom_entry()`
and `rss_entry()` 116 us per article, the direct builder 73 us. The larger
saving is that each entry is built and serialised once per article and
format, and its bytes placed into every document it belongs to (an article
sits in about six: the combined feed, its topics, and their monthly
archives, in Atom and RSS); lxml pretty-prints an element by its depth
alone, so the bytes are the same in each document, and
`tests/render/test_splice.py` compares every spliced document with one built
whole. At 10,000 articles, feedgen entry building was 21.5 s of a 46 s
profiled cold build before; moving built elements between documents left
1.5 s of serialising in `render_xml`; splicing bytes leaves 0.33 s there
(cProfile, one process). The renderer's CPU for a 10k cold build fell
from 6.5 to 5.6 s user, its peak memory from 137 to 99 MB, and a daemon
that rendered all 100,000 articles itself holds 295 MB instead of 323 MB
(entries kept as bytes, not lxml trees).

## Memory at 100,000 articles

What the daemon holds once started (tracemalloc, 200 MB traced of ~280 MB
resident): the articles' own text (ids, titles, links, excerpts) 61 MB, their
related articles kept deflated 29 MB, the Article objects and dates 20 MB,
images 14 MB, the seed files' names, versions and states 25 MB, and the
planner (each feed's members by month, ids to files) 44 MB. An article was
3.1 KB as objects and is 1.9 KB (related articles and images as one
plain-data blob each, equal topics, categories and providers shared). A
build's peak came from packing the whole parse cache at once (390 MB, the
seed records alone 25 MB); it is now written and read in records of 1,000
articles (and seed records in chunks of 10,000), so the peak is the
publish itself: the entries of 2,048 articles kept serialised (about 7 KB
each) and the documents being written.

The smaller savings: equal topics, categories and providers kept once,
about 30 MB; related articles deflated, 275 bytes an article instead of
640 on the benchmark corpus (36 MB less in all), for 5 us when an entry is
built (a raw deflate with a 4 KiB window: zlib.compress's defaults took
30 us a call just to set up, this 4 us, for the same size); a seed's
fingerprint packed into one int, ~50 bytes instead of ~160 as a tuple of
three (11 MB), and seeds named by strings, as a Path costs ~500 bytes a
file; archive months as one string per month, where a string per article
was 20 MB.

Titles and excerpts are kept as UTF-8 bytes. News text is seldom all
Latin-1 (’ “ ” —), and Python keeps such a string at two bytes a
character: on a copy of the 100k corpus with typography in every title and
excerpt, the idle daemon held 321 MB as strings and 281 MB as UTF-8.

## Reading, and builds with nothing to do

libyaml's `CSafeLoader` parses seeds about ten times faster than PyYAML's
pure-Python loader. At 100,000 files, the up-to-date check looks names up
in the order the cache saved them (0.29 s, where any order took 0.40 s);
checking every cached seed record up front was a fifth of a build with
nothing to do, so each is checked where it is used; and seed names stay
strings, as pathlib's `relative_to`, or sorting Path objects, costs
seconds.

## Corpus

Version 2 of `bench/corpus.py` gives about half of all titles and excerpts
news typography (’s, “quotes”, a dash), like the samples. Version 1 was
all ASCII, which skipped mojibake repair (ftfy runs on every non-ASCII
value) and hid the memory of two-byte strings. The same code on version 1
gave: 10k cold 5.51 s (Hugo 2.44 s, 2.26x), 100k cold 46.1 s (Hugo 32.2 s,
1.43x), 100k build peak 298 MB, daemon 284 MB. The real samples read in
537 and 777 us each with `fix_text` on, 386 and 534 us with it off.
"""
WORK = ROOT / ".work"
RESULTS = ROOT / "RESULTS.md"

# Only the home feed and one feed per topic, 50 items each. The seeds'
# `published: false` is Hugo's draft flag, so Hugo runs with --buildDrafts,
# as our default config includes those articles.
HUGO_CONFIG = """\
baseURL = "http://127.0.0.1:8080/"
disableKinds = ["section", "sitemap", "robotsTXT", "404"]
[outputs]
home = ["RSS"]
page = []
taxonomy = []
term = ["RSS"]
[services.rss]
limit = 50
[taxonomies]
topic = "topics"
[frontmatter]
date = ["publishedDateTime", ":default"]
"""


#: What the Hugo site writes, and no more (issue 17's like-for-like row):
#: the combined feed and one per topic, RSS only, 50 items, no archives and
#: no pages beside them.
LIKE_FOR_LIKE = "seeds: seeds\noutput: output-like\nformats: [rss]\narchives: false\npages: false\n"


@dataclass
class Row:
    size: int
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    hugo: list[float] = field(default_factory=list)
    #: Cold builds of the `LIKE_FOR_LIKE` config.
    like: list[float] = field(default_factory=list)
    cold_rss_mb: float = 0.0
    daemon_rss_mb: float = 0.0
    latency: dict[str, float] = field(default_factory=dict)


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, waited for with wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{command[:3]} exited {process.returncode}")
    return elapsed, usage.ru_maxrss / 1024


def _corpus(size: int) -> Path:
    folder = WORK / f"corpus-{size}"
    version = folder / "CORPUS_VERSION"
    current = version.is_file() and version.read_text().strip() == str(CORPUS_VERSION)
    if not (current and (folder / "seeds" / f"{size - 1:06d}.txt").exists()):
        shutil.rmtree(folder, ignore_errors=True)
        write_corpus(folder / "seeds", size)
        version.write_text(f"{CORPUS_VERSION}\n")
    return folder


def _hugo_site(corpus: Path) -> Path | None:
    if shutil.which("hugo") is None:
        return None
    site = corpus / "hugo"
    content = site / "content" / "posts"
    if not content.exists():
        content.mkdir(parents=True)
        for seed in (corpus / "seeds").iterdir():
            shutil.copyfile(seed, content / (seed.stem + ".md"))
    (site / "hugo.toml").write_text(HUGO_CONFIG)
    return site


def _feeds_build(corpus: Path, *, cold: bool) -> tuple[float, float]:
    output, cache = corpus / "output", corpus / "cache"
    if cold:
        shutil.rmtree(output, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    return _timed(
        [
            sys.executable, "-m", "feeds", "build", "-q",
            "--seeds", str(corpus / "seeds"),
            "--output", str(output),
            "--cache-dir", str(cache),
        ]
    )  # fmt: skip


def _like_for_like_build(corpus: Path) -> float:
    """Wall seconds of a cold build that writes what the Hugo site writes."""
    config = corpus / "like-for-like.yaml"
    config.write_text(LIKE_FOR_LIKE)
    shutil.rmtree(corpus / "output-like", ignore_errors=True)
    shutil.rmtree(corpus / "cache-like", ignore_errors=True)
    return _timed(
        [
            sys.executable, "-m", "feeds", "build", "-q", "--config", str(config),
            "--cache-dir", str(corpus / "cache-like"),
        ]
    )[0]  # fmt: skip


def _daemon_rss(corpus: Path) -> float:
    """Resident memory of `feeds run` once it is ready, in MB."""
    config = corpus / "daemon.yaml"
    config.write_text("seeds: seeds\noutput: output\nrescan_interval: 3600\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "feeds", "run", "--no-serve", "--config", str(config),
         "--cache-dir", str(corpus / "cache")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if " ready" in line:
                break
        time.sleep(2.0)  # let the first build's garbage be collected
        status = Path(f"/proc/{process.pid}/status").read_text()
        rss_kb = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
        )
        return rss_kb / 1024
    finally:
        process.terminate()
        process.wait(30)


def run(sizes: list[int], repeat: int, edits: int, *, daemon: bool = True) -> list[Row]:
    rows = []
    for size in sizes:
        corpus = _corpus(size)
        row = Row(size)
        hugo = _hugo_site(corpus)
        for _ in range(repeat):
            seconds, rss = _feeds_build(corpus, cold=True)
            row.cold.append(seconds)
            row.cold_rss_mb = max(row.cold_rss_mb, rss)
            row.warm.append(_feeds_build(corpus, cold=False)[0])
            row.like.append(_like_for_like_build(corpus))
            if hugo is not None:
                shutil.rmtree(hugo / "public", ignore_errors=True)
                row.hugo.append(_timed(["hugo", "--quiet", "--buildDrafts", "-s", str(hugo)])[0])
        if not daemon:
            rows.append(row)
            continue
        row.daemon_rss_mb = _daemon_rss(corpus)
        if edits:
            samples = sorted(measure_latency(size, edits, DEBOUNCE_MS, corpus=corpus / "seeds"))
            row.latency = {
                "p50": statistics.median(samples),
                "p95": samples[max(0, round(0.95 * len(samples)) - 1)],
            }
        rows.append(row)
        print(_table([row]).splitlines()[-1], flush=True)
    return rows


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "–"


def _table(rows: list[Row]) -> str:
    lines = [
        "| articles | cold build s | warm build s | Hugo s | cold / Hugo | like for like s "
        "| like / Hugo | peak RSS MB (build) | daemon RSS MB | save→feed p50 ms | p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    nan = float("nan")
    for row in rows:
        ratio = (
            f"{statistics.median(row.cold) / statistics.median(row.hugo):.2f}x" if row.hugo else "–"
        )
        like = (
            f"{statistics.median(row.like) / statistics.median(row.hugo):.2f}x"
            if row.hugo and row.like
            else "–"
        )
        lines.append(
            f"| {row.size:,} | {_median(row.cold)} | {_median(row.warm)} | {_median(row.hugo)} "
            f"| {ratio} | {_median(row.like)} | {like} "
            f"| {row.cold_rss_mb:.0f} | {row.daemon_rss_mb:.0f} "
            f"| {row.latency.get('p50', nan):.0f} | {row.latency.get('p95', nan):.0f} |"
        )
    return "\n".join(lines)


def _targets(rows: list[Row]) -> str:
    """Issue 5's targets beside this run's figures."""
    by_size = {row.size: row for row in rows}

    def ratio(size: int, like: bool = False) -> str:
        row = by_size.get(size)
        ours = (row.like if like else row.cold) if row is not None else []
        if row is None or not row.hugo or not ours:
            return "–"
        return f"{statistics.median(ours) / statistics.median(row.hugo):.2f}x"

    def figure(size: int, value: Callable[[Row], float], unit: str) -> str:
        row = by_size.get(size)
        return f"{value(row):.2f} {unit}".replace(".00 ", " ") if row is not None else "–"

    big = 100_000
    lines = [
        "## Against the targets of issues 5 and 17",
        "",
        "| target | this run |",
        "|---|---|",
        "| like for like (RSS only, no archives, no pages) cold build ≤ 0.5x Hugo at 10k / 100k "
        f"| {ratio(10_000, like=True)} / {ratio(big, like=True)} |",
        f"| full default cold build ≤ 1.0x Hugo at 100k | {ratio(big)} |",
        "| warm build at 100k < 1 s | "
        + figure(big, lambda row: statistics.median(row.warm) if row.warm else nan, "s")
        + " |",
        "| save→feed p95 at 100k ≤ 400 ms | "
        + figure(big, lambda row: row.latency.get("p95", nan), "ms")
        + " |",
        f"| peak RSS of a 100k build ≤ 400 MB | {figure(big, lambda row: row.cold_rss_mb, 'MB')} |",
        f"| idle daemon at 100k ≤ 300 MB | {figure(big, lambda row: row.daemon_rss_mb, 'MB')} |",
    ]
    return "\n".join(lines) + "\n"


nan = float("nan")


def _versions() -> str:
    hugo = "not installed"
    if shutil.which("hugo"):
        hugo = subprocess.run(["hugo", "version"], capture_output=True, text=True).stdout.strip()
    packages = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("feeds", "feedgen", "PyYAML", "lxml", "watchdog", "APScheduler")
    )
    return (
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}\n"
        f"- Python {platform.python_version()}; {packages}\n"
        f"- Hugo: {hugo}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--builds-only",
        action="store_true",
        help="cold, warm, like-for-like and Hugo builds only; print the table, write nothing",
    )
    args = parser.parse_args()
    rows = run(args.sizes, args.repeat, args.edits, daemon=not args.builds_only)
    if args.builds_only:
        print(_table(rows))
        return
    # Other benchmarks keep their own sections; a rerun of this one leaves them alone.
    previous = args.results.read_text("utf-8") if args.results.exists() else ""
    kept = ""
    for name in KEPT_SECTIONS:
        opening, closing = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        begin, end = previous.find(opening), previous.find(closing)
        if 0 <= begin < end:
            kept += ("\n" if kept else "") + previous[begin : end + len(closing)] + "\n"
    args.results.write_text(
        "# Benchmark results\n\n"
        "Regenerate with `make bench-all` (or `python -m bench.run`). Cold: empty output and\n"
        "cache; warm: the same build again with nothing changed; Hugo renders the same files\n"
        "as content pages with only home and per-topic RSS (limit 50), alternating with ours;\n"
        f"medians of the runs. Save→feed: `feeds run` with the default {DEBOUNCE_MS} ms debounce,\n"
        "one article edited at a time, until the combined JSON feed on disk has the change.\n"
        "Peak RSS is the main process (parse workers are separate processes).\n\n"
        f"{_versions()}\n\n{_table(rows)}\n\n{_targets(rows)}\n{NOTES}\n{kept}",
        encoding="utf-8",
    )
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
