"""Publishing to object storage (issue 16): what a push uploads, and how long it takes.

    python -m bench.publish [--sizes 10000 100000] [--repeat 5] [--results bench/RESULTS.md]

For each size, bench/run.py's corpus is copied under bench/.work/ and built
with the default config plus a publish target on moto's S3 server, run in
this process on loopback with made-up keys (no request leaves the machine).
Then the output is pushed cold (empty bucket), with nothing changed, and
after single-article changes, each push twice, to two prefixes of one bucket:
through `feeds.remote.oneshot.push_with_retries` in this process (exact
objects and bytes; the HTTP requests are counted on the server), and through
`feeds publish` in a subprocess (wall seconds that include Python's start,
the boto3 import and hashing the whole output, as a cron job would pay).
Also times `OutputFolder.scan()` cold and warm, the local side of every push.
Results go between the `publish` markers of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.corpus import article
from bench.run import WORK, _corpus
from feeds.config import load_config
from feeds.remote.local import OutputFolder
from feeds.remote.manifest import MANIFEST_NAME, parse_manifest
from feeds.remote.oneshot import push_with_retries
from feeds.remote.pusher import WORKERS, PushReport
from feeds.remote.targets import targets_of

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "RESULTS.md"
BEGIN, END = "<!-- publish:begin -->", "<!-- publish:end -->"
#: The last run's figures, from which ``--render`` writes the section again.
SAVED = WORK / "publish-results.json"
HOST, BUCKET, REGION = "127.0.0.1", "feeds-bench", "us-east-1"
#: The two prefixes: pushed from this process, and by `feeds publish`.
PREFIXES = {"inprocess": "p/", "cli": "c/"}
#: The article every edit changes (bench/latency.py edits the same one).
EDITED = "000007.txt"
#: After every corpus article (they end before 2025-12-30), in the corpus's
#: last month: where a new article lands, without opening a month.
NEWEST = "2025-12-31T12:00:00Z"
NEWER = "2025-12-31T13:00:00Z"
_SUMMARY = re.compile(r": (\d+) uploaded, (\d+) unchanged, (\d+) deleted, .* in ([\d.]+) s")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _aws_env() -> None:
    """Made-up keys and nothing botocore could find elsewhere (no profile,
    shared files or instance role), for this process and its subprocesses."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    missing = str(WORK / "no-aws-config")
    os.environ.update(
        AWS_ACCESS_KEY_ID="AKIAFEEDSBENCH000000",
        AWS_SECRET_ACCESS_KEY="feeds-bench-not-a-secret",  # noqa: S106  # made up, for moto
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=missing,
        AWS_SHARED_CREDENTIALS_FILE=missing,
        NO_PROXY=HOST,
        no_proxy=HOST,
    )


class Requests(logging.Handler):
    """Counts the requests moto's server answers, from werkzeug's request log
    (method and path only: bodies are never seen)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.methods: Counter[str] = Counter()
        self.manifest_puts = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(record.args, tuple) or not record.args:
            return
        method, _, rest = _ANSI.sub("", str(record.args[0])).partition(" ")
        with self._guard:
            self.methods[method] += 1
            if method == "PUT" and MANIFEST_NAME in rest:
                self.manifest_puts += 1

    def reset(self) -> None:
        with self._guard:
            self.methods.clear()
            self.manifest_puts = 0


@contextmanager
def moto_server() -> Iterator[tuple[str, Requests]]:
    """moto's S3 server on a free loopback port: its endpoint and request count."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = int(probe.getsockname()[1])
    werkzeug = logging.getLogger("werkzeug")
    requests = Requests()
    level, propagate = werkzeug.level, werkzeug.propagate
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False  # counted, not printed
    werkzeug.addHandler(requests)
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{HOST}:{port}", requests
    finally:
        server.stop()
        werkzeug.removeHandler(requests)
        werkzeug.setLevel(level)
        werkzeug.propagate = propagate


@dataclass(frozen=True)
class Push:
    """One push of a scenario: in this process, then by `feeds publish`."""

    objects: int
    bytes: int
    seconds: float
    #: The push report's own seconds: without making the boto3 client.
    push_seconds: float
    requests: int
    manifest_puts: int
    cli_objects: int
    cli_push_seconds: float
    cli_wall_seconds: float


@dataclass(frozen=True)
class Scan:
    files: int
    bytes: int
    cold_seconds: float
    warm_seconds: float


@dataclass(frozen=True)
class SizeResult:
    size: int
    scan: Scan
    manifest: ManifestCost
    pushes: dict[str, Push]
    noop_runs: int


class Site:
    """A copy of the corpus, its output, and one config per prefix."""

    def __init__(self, size: int, endpoint: str) -> None:
        self.size = size
        self.root = WORK / f"publish-{size}"
        self.seeds, self.output = self.root / "seeds", self.root / "output"
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        shutil.copytree(_corpus(size) / "seeds", self.seeds)
        self.configs: dict[str, Path] = {}
        for name, prefix in PREFIXES.items():
            config = self.root / f"{name}.yaml"
            config.write_text(
                f"seeds: {self.seeds}\noutput: {self.output}\ncache_dir: {self.root / 'cache'}\n"
                f"publish:\n  - url: s3://{BUCKET}/{prefix}\n"
                f"    endpoint_url: {endpoint}\n    region: {REGION}\n",
                encoding="utf-8",
            )
            self.configs[name] = config
        (self.target,) = targets_of(load_config(self.configs["inprocess"]))

    def build(self) -> float:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "feeds", "build", "-q", "--config", str(self.configs["cli"])],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode not in (0, 1):  # 1: some articles rejected, as in bench/run.py
            raise RuntimeError(f"feeds build exited {done.returncode}: {done.stderr[-2000:]}")
        return time.perf_counter() - started


def _cli_push(site: Site) -> tuple[int, float, float]:
    """`feeds publish` once: objects uploaded, its own push seconds, wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "feeds", "publish", "--config", str(site.configs["cli"])],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    found = _SUMMARY.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"feeds publish exited {done.returncode}: {done.stderr[-2000:]}")
    return int(found[1]), float(found[4]), wall


@dataclass(frozen=True)
class _InProcess:
    report: PushReport
    #: push_with_retries's wall time: the report's seconds plus making the client.
    seconds: float
    requests: int


def _inprocess_push(site: Site, folder: OutputFolder, requests: Requests) -> _InProcess:
    requests.reset()
    started = time.perf_counter()
    report = push_with_retries(site.target, folder)
    seconds = time.perf_counter() - started
    return _InProcess(report, seconds, sum(requests.methods.values()))


def push_both(site: Site, folder: OutputFolder, requests: Requests) -> Push:
    done = _inprocess_push(site, folder, requests)
    manifest_puts = requests.manifest_puts
    cli_objects, cli_seconds, cli_wall = _cli_push(site)
    if cli_objects != done.report.uploaded:
        print(f"  note: feeds publish uploaded {cli_objects}, in-process {done.report.uploaded}")
    return Push(
        done.report.uploaded,
        done.report.bytes,
        done.seconds,
        done.report.seconds,
        done.requests,
        manifest_puts,
        cli_objects,
        cli_seconds,
        cli_wall,
    )


def noop_pushes(site: Site, folder: OutputFolder, requests: Requests, runs: int) -> Push:
    """``runs`` pushes with nothing to do, each way; medians (objects: the most seen)."""
    inprocess = [_inprocess_push(site, folder, requests) for _ in range(runs)]
    manifest_puts = requests.manifest_puts
    cli = [_cli_push(site) for _ in range(runs)]
    return Push(
        max(done.report.uploaded for done in inprocess),
        max(done.report.bytes for done in inprocess),
        statistics.median(done.seconds for done in inprocess),
        statistics.median(done.report.seconds for done in inprocess),
        max(done.requests for done in inprocess),
        manifest_puts,
        max(objects for objects, _, _ in cli),
        statistics.median(seconds for _, seconds, _ in cli),
        statistics.median(wall for _, _, wall in cli),
    )


def scan_times(output: Path, runs: int) -> Scan:
    """`OutputFolder.scan()` of a new folder object (hashes every file; the
    files are in the page cache, just written), and again of the same one
    (hash cache); medians of ``runs`` each."""
    cold, warm = [], []
    for _ in range(runs):
        folder = OutputFolder(output)
        started = time.perf_counter()
        found = folder.scan()
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        folder.scan()
        warm.append(time.perf_counter() - started)
    size = sum(obj.size for obj in found.values())
    return Scan(len(found), size, statistics.median(cold), statistics.median(warm))


# --- single-article changes ----------------------------------------------------


def _retitled(text: str) -> str:
    return text.replace('title: "', 'title: "Publish probe ', 1)


def _dated(text: str, when: str) -> str:
    """``text`` with its own (unindented) publishedDateTime set to ``when``."""
    return re.sub(r"(?m)^publishedDateTime: .*$", f"publishedDateTime: {when}", text, count=1)


def edit_title(seeds: Path, _: int) -> None:
    path = seeds / EDITED
    path.write_text(_retitled(path.read_text("utf-8")), encoding="utf-8")


def edit_title_newest(seeds: Path, _: int) -> None:
    """bench/latency.py's edit: a new title, and the article made the newest."""
    path = seeds / EDITED
    text = path.read_text("utf-8").replace('title: "Publish probe ', 'title: "Publish probe 2 ', 1)
    path.write_text(_dated(text, NEWEST), encoding="utf-8")


def new_article(seeds: Path, size: int) -> None:
    """A new seed saved: a corpus-shaped article, the newest of all."""
    text = article(random.Random(size), size)
    (seeds / f"{size:06d}.txt").write_text(_dated(text, NEWER), encoding="utf-8")


COLD, NOOP, EDIT = "cold push (empty bucket)", "nothing changed", "one title edited"
CHANGES: dict[str, Callable[[Path, int], None]] = {
    EDIT: edit_title,
    "one title edited, made newest": edit_title_newest,
    "one new article (newest)": new_article,
}


@dataclass(frozen=True)
class ManifestCost:
    bytes: int
    #: Medians: reading it (parse and check every entry), writing it (JSON).
    parse_seconds: float
    write_seconds: float


def _client(endpoint: str) -> Any:
    """A boto3 S3 client of the moto server (typed loosely: the S3 stubs are
    a test dependency, not a benchmark one)."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


def manifest_cost(endpoint: str, runs: int) -> ManifestCost:
    """The in-process prefix's manifest, and the CPU each push spends on it."""
    client = _client(endpoint)
    try:
        answer = client.get_object(Bucket=BUCKET, Key=PREFIXES["inprocess"] + MANIFEST_NAME)
        body = answer["Body"].read()
    finally:
        client.close()
    manifest = parse_manifest(body)
    assert manifest is not None
    return ManifestCost(
        len(body),
        _median_seconds(lambda: parse_manifest(body), runs),
        _median_seconds(manifest.to_bytes, runs),
    )


def _median_seconds(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(size: int, runs: int) -> SizeResult:
    with moto_server() as (endpoint, requests):
        client = _client(endpoint)
        client.create_bucket(Bucket=BUCKET)
        client.close()
        site = Site(size, endpoint)
        _log(size, f"cold build {site.build():.1f} s")
        scan = scan_times(site.output, runs)
        _log(size, f"scan {scan}")
        folder = OutputFolder(site.output)  # kept between pushes, as a daemon would
        pushes = {COLD: push_both(site, folder, requests)}
        _log(size, f"cold {pushes[COLD]}")
        pushes[NOOP] = noop_pushes(site, folder, requests, runs)
        _log(size, f"no-op {pushes[NOOP]}")
        for name, change in CHANGES.items():
            change(site.seeds, size)
            _log(size, f"{name}: rebuilt in {site.build():.1f} s")
            pushes[name] = push_both(site, folder, requests)
            _log(size, f"{name}: {pushes[name]}")
        return SizeResult(size, scan, manifest_cost(endpoint, runs), pushes, runs)


def _log(size: int, message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {size:,}: {message}", flush=True)


# --- RESULTS.md ------------------------------------------------------------------


def _mb(count: int) -> str:
    if count == 0:
        return "0"
    return f"{count / 1e6:,.2f}" if count >= 10_000 else f"{count / 1e6:.3f}"


def _versions() -> str:
    from importlib import metadata

    return ", ".join(
        f"{name} {metadata.version(name)}" for name in ("feeds", "boto3", "botocore", "moto")
    )


def section(results: list[SizeResult]) -> str:
    import platform

    intro = (
        "`make bench-publish` (`python -m bench.publish --sizes 10000 100000 --repeat 5`; "
        "also run by `make bench-all`): the corpus above, built with the default config and "
        "a publish target on moto's S3 server, run in the benchmark's process on loopback "
        "with made-up keys. Each push goes twice, to two prefixes of one bucket: through "
        "`push_with_retries` in the benchmark's process (objects and bytes uploaded, as its "
        "report gives them; requests counted on the server, of which manifest writes; wall "
        "seconds), then by `feeds publish` in a subprocess (wall seconds, which include "
        "Python's start, the boto3 import and hashing every output file). In brackets, "
        "each way: the push's own seconds (its report's), without making the boto3 "
        "client. The changes are cumulative, each followed "
        "by a build, and made to the same article bench/latency.py edits; the new article "
        "is a corpus-shaped one dated after all the others, in the corpus's last month. "
        f"Nothing changed: medians of {results[0].noop_runs if results else 0} pushes "
        f"each way. {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {_versions()}."
    )
    return (
        "\n".join(
            [
                BEGIN,
                "## Publishing to object storage",
                "",
                intro,
                "",
                *_push_table(results),
                "",
                *_local_table(results),
                "",
                *_meaning(results),
                END,
            ]
        )
        + "\n"
    )


def _push_table(results: list[SizeResult]) -> list[str]:
    lines = [
        "| articles | push | objects uploaded | MB uploaded | requests (manifest PUTs) "
        "| in-process s | `feeds publish` s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for name, push in result.pushes.items():
            lines.append(
                f"| {result.size:,} | {name} | {push.objects:,} | {_mb(push.bytes)} "
                f"| {push.requests:,} ({push.manifest_puts}) "
                f"| {push.seconds:.2f} ({push.push_seconds:.2f}) "
                f"| {push.cli_wall_seconds:.2f} ({push.cli_push_seconds:.2f}) |"
            )
    return lines


def _local_table(results: list[SizeResult]) -> list[str]:
    lines = [
        "The local side of every push, `OutputFolder.scan()`: cold hashes every file "
        "(a new folder object, as each `feeds publish` makes; the files in the page cache, "
        "just built), warm finds every file's hash by its size, mtime and inode "
        "(the folder object kept, as a daemon would); medians of the same runs. "
        "The manifest is read (parsed, every entry checked) by every push, and written "
        "(JSON) by every push that uploads: before the uploads with them pending, at "
        "the end, and in a long push every second once the uploads since the last "
        "save outweigh the manifest ten times (`CHECKPOINT`, `CHECKPOINT_WEIGHT`).",
        "",
        "| articles | output files | output MB | scan cold s | scan warm s "
        "| manifest KB | manifest read ms | manifest write ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        scan, manifest = result.scan, result.manifest
        lines.append(
            f"| {result.size:,} | {scan.files:,} | {scan.bytes / 1e6:,.0f} "
            f"| {scan.cold_seconds:.2f} | {scan.warm_seconds:.3f} "
            f"| {manifest.bytes / 1e3:,.0f} | {manifest.parse_seconds * 1e3:.0f} "
            f"| {manifest.write_seconds * 1e3:.0f} |"
        )
    return lines


#: Round trips of one PUT to real object storage, for the estimates (not measured).
ROUND_TRIPS_MS = (30, 100)
#: An uplink, for the estimates (not measured): 100 Mbit/s.
UPLINK_BYTES_PER_S = 100e6 / 8


def _meaning(results: list[SizeResult]) -> list[str]:
    """What the figures say for real S3 or R2, from the figures themselves."""
    lines = []
    for result in results:
        cold, edit = result.pushes[COLD], result.pushes[EDIT]
        rate = cold.objects / cold.cli_push_seconds
        estimates = " or ".join(
            f"{cold.objects / WORKERS * ms / 1000:.0f} s" for ms in ROUND_TRIPS_MS
        )
        manifest_kb = result.manifest.bytes / 1e3
        lines.append(
            f"- {result.size:,} articles: moto stored {rate:.0f} objects/s "
            f"({cold.bytes / 1e6 / cold.cli_push_seconds:.1f} MB/s) for `feeds publish`. "
            f"On S3 or R2 at {' or '.join(f'{ms} ms' for ms in ROUND_TRIPS_MS)} a PUT, "
            f"{cold.objects:,} objects {WORKERS} at a time take about {estimates}, plus "
            f"{cold.bytes / UPLINK_BYTES_PER_S:.0f} s for the bytes at 100 Mbit/s "
            f"(estimates, not measured). One title edited: {edit.objects} objects, "
            f"{edit.bytes / 1e3:,.0f} KB, and the manifest ({manifest_kb:,.0f} KB) written "
            f"{edit.manifest_puts} times, {edit.manifest_puts * manifest_kb:,.0f} KB. "
            f"Per push the daemon's side spends the warm scan "
            f"({result.scan.warm_seconds * 1e3:.0f} ms), reading the manifest "
            f"({result.manifest.parse_seconds * 1e3:.0f} ms) and writing it "
            f"({result.manifest.write_seconds * 1e3:.0f} ms a time); making the boto3 "
            f"client took {_client_seconds(result) * 1e3:.0f} ms (no-op push, wall minus "
            "its own seconds)."
        )
    return [*lines, "", NOTES]


def _client_seconds(result: SizeResult) -> float:
    noop = result.pushes[NOOP]
    return noop.seconds - noop.push_seconds


#: What the figures mean (prose; the figures above are written by the run).
NOTES = """\
moto is the bottleneck of every cold push here, not the pusher: its server
is werkzeug's threaded development server in one Python process, which
parses each request, hashes and keeps each body, under one GIL. In the
benchmark's own process the pusher's 8 upload threads share that GIL (and
the 2 cores) with it, so the in-process cold push is the slower one; the
subprocess figure is the fairer, and both vary by up to a fifth between
runs. Real S3 or R2 answer each PUT in tens of milliseconds however many are
in flight, so there a push is bound by round trips: `WORKERS = 8` uploads at
once (feeds/remote/pusher.py), each batch (new archives, archives, feeds,
pages, index and OPML) waiting for its last upload before the next, so a
cold push costs about objects / 8 round trips plus the bytes at the
uplink's rate; more workers would shorten it in proportion, up to the
service's request rate. A push with nothing changed is the local scan and
one GET of the manifest; a push after one article's change uploads tens of
objects in one to four batches and writes the whole manifest twice, before
and after (an earlier version wrote it after each batch too, 2 to 5 times,
more bytes than the objects at 10,000 articles; a cold push writes it a few
dozen times, at most a tenth of its bytes). With some 10,000 objects the
manifest is about 2 MB. A
daemon that pushes after every build pays the warm scan and those two
writes; it keeps its `S3Store`, whose manifest GET is conditional on the
ETag it last saw (a 304 when nothing else wrote it). `feeds publish` also
hashes the whole output (the cold scan), imports boto3 and makes a new
client (the difference between a no-op push's wall time and its own
seconds).
"""


def _load(path: Path) -> list[SizeResult]:
    """Results a run saved (``--render``: the section written again from them)."""
    return [
        SizeResult(
            saved["size"],
            Scan(**saved["scan"]),
            ManifestCost(**saved["manifest"]),
            {name: Push(**push) for name, push in saved["pushes"].items()},
            saved["noop_runs"],
        )
        for saved in json.loads(path.read_text("utf-8"))
    ]


def main() -> None:
    from bench.load import write_section

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--render", type=Path, help="write the section from a saved run's JSON; measure nothing"
    )
    args = parser.parse_args()
    if args.render is not None:
        write_section(section(_load(args.render)), args.results, (BEGIN, END))
        return
    _aws_env()
    results: list[SizeResult] = []
    for size in args.sizes:
        results.append(measure(size, args.repeat))
        # Saved and written after each size: the larger ones take long.
        SAVED.write_text(json.dumps([asdict(result) for result in results], indent=1))
        write_section(section(results), args.results, (BEGIN, END))
        print(f"wrote {args.results} and {SAVED}")


if __name__ == "__main__":
    main()
