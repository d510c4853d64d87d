"""Conditional-GET load on `feeds run` while it rebuilds every second, beside nginx.

    python -m bench.load [--articles 1000] [--clients 200] [--seconds 60]
                         [--processes 2] [--no-nginx] [--no-results]

A real `feeds run` subprocess serves a generated corpus (bench/corpus.py) while
an editor rewrites one seed a second, each time as the newest article, so the
combined feeds and some topic feeds change every second and the rest do not.
Clients, spread over several processes (asyncio + aiohttp), each follow one
combined feed and four topic feeds in one format and poll them at random with
no pause, remembering ETag and Last-Modified per URL and sending
If-None-Match / If-Modified-Since. Every 200 body is checked to parse as a whole
feed (feedparser, bozo == 0, for XML; json for JSON Feed): each process keeps
one copy of every distinct body it got and parses them once the clock has
stopped, so parsing takes no CPU from the server during the measurement.
Then the same clients poll nginx serving the same folder, the editor still
running. Results go between the `load` markers of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import grp
import hashlib
import json
import multiprocessing
import os
import platform
import pwd
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import aiohttp
import feedparser

from bench.corpus import write_corpus

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "RESULTS.md"
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"
FEED_SUFFIXES = (".atom.xml", ".rss.xml", ".json")
ERRORS_KEPT = 20
SUBSCRIBED_TOPICS = 4
STARTUP_SECONDS = 5.0  # for the client processes to start and import aiohttp


@dataclass
class Stats:
    """What one or more clients saw; merged across processes."""

    seconds: float = 0.0
    ok: int = 0
    not_modified: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    bodies_checked: int = 0
    cpu_seconds: float = 0.0  # the clients' own, while measuring
    check_seconds: float = 0.0  # parsing the bodies, afterwards

    @property
    def requests(self) -> int:
        return self.ok + self.not_modified + self.errors

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < ERRORS_KEPT:
            self.error_samples.append(message)

    def merge(self, other: Stats) -> None:
        self.seconds = max(self.seconds, other.seconds)
        self.ok += other.ok
        self.not_modified += other.not_modified
        self.errors += other.errors
        self.error_samples.extend(other.error_samples[: ERRORS_KEPT - len(self.error_samples)])
        self.latencies_ms.extend(other.latencies_ms)
        self.bodies_checked += other.bodies_checked
        self.cpu_seconds += other.cpu_seconds
        self.check_seconds += other.check_seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def check_feed(url: str, body: bytes) -> str | None:
    """Why ``body`` is not a whole feed, or None when it is one."""
    if url.endswith(".json"):
        try:
            document = json.loads(body)
        except ValueError as error:
            return f"invalid JSON: {error}"
        if not isinstance(document, dict) or "items" not in document:
            return "JSON without items"
        if not str(document.get("version", "")).startswith("https://jsonfeed.org/version/"):
            return "not a JSON Feed"
        return None
    parsed = feedparser.parse(body)
    if parsed.bozo:
        return f"feedparser: {parsed.bozo_exception}"
    if not parsed.version:
        return "not a feed"
    return None


def subscriptions(
    urls: list[str], rng: random.Random, topics: int = SUBSCRIBED_TOPICS
) -> list[str]:
    """What one reader follows: one combined feed, which changes with every edit,
    and a few topic feeds in the same format, most of which do not."""
    combined = [url for url in urls if "/topics/" not in url]
    chosen = rng.choice(combined)
    suffix = next(end for end in FEED_SUFFIXES if chosen.endswith(end))
    same_format = [url for url in urls if "/topics/" in url and url.endswith(suffix)]
    return [chosen, *rng.sample(same_format, min(topics, len(same_format)))]


class _Client:
    """One feed reader: its own connection, and its own validators per URL."""

    def __init__(
        self, urls: list[str], stats: Stats, bodies: dict[bytes, tuple[str, bytes]], seed: int
    ) -> None:
        self.rng = random.Random(seed)
        self.urls = subscriptions(urls, self.rng)
        self.stats = stats
        self.bodies = bodies  # every distinct 200 body by digest, shared in a process
        self.validators: dict[str, dict[str, str]] = {}

    async def run(self, deadline: float) -> None:
        connector = aiohttp.TCPConnector(limit=1, force_close=False)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            while time.monotonic() < deadline:
                await self.poll(session, self.rng.choice(self.urls))

    async def poll(self, session: aiohttp.ClientSession, url: str) -> None:
        started = time.perf_counter()
        try:
            async with session.get(url, headers=self.validators.get(url, {})) as response:
                body = await response.read()
                status = response.status
                headers = response.headers
        except (aiohttp.ClientError, TimeoutError) as error:
            self.stats.error(f"{url}: {type(error).__name__}: {error}")
            return
        self.stats.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status == 304:
            self.stats.not_modified += 1
        elif status == 200:
            self.bodies.setdefault(hashlib.sha256(body).digest(), (url, body))
            self.stats.ok += 1
            remembered = {}
            if "ETag" in headers:
                remembered["If-None-Match"] = headers["ETag"]
            if "Last-Modified" in headers:
                remembered["If-Modified-Since"] = headers["Last-Modified"]
            self.validators[url] = remembered
        else:
            self.stats.error(f"{url}: HTTP {status}")


async def run_clients(
    urls: list[str], clients: int, seconds: float, seed: int = 0, start_at: float = 0.0
) -> Stats:
    """``clients`` concurrent readers polling ``urls`` for ``seconds``, in this process,
    from the monotonic time ``start_at`` (system-wide on Linux) or now."""
    stats = Stats()
    bodies: dict[bytes, tuple[str, bytes]] = {}
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    before = _cpu()
    started = time.monotonic()
    deadline = started + seconds
    readers = [_Client(urls, stats, bodies, seed * 100_003 + n) for n in range(clients)]
    await asyncio.gather(*(reader.run(deadline) for reader in readers))
    stats.seconds = time.monotonic() - started
    stats.cpu_seconds = _cpu() - before
    # Every 200 response was one of these bodies, byte for byte.
    for url, body in bodies.values():
        problem = check_feed(url, body)
        if problem is not None:
            stats.error(f"{url}: 200 but {problem}")
        stats.bodies_checked += 1
    stats.check_seconds = _cpu() - before - stats.cpu_seconds
    return stats


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker(urls: list[str], clients: int, seconds: float, seed: int, start_at: float) -> Stats:
    return asyncio.run(run_clients(urls, clients, seconds, seed, start_at))


def run_load(
    urls: list[str], clients: int, seconds: float, processes: int, start_at: float
) -> Stats:
    """The clients spread over ``processes`` worker processes, all starting at
    ``start_at``, once every process has had time to start and import."""
    shares = [clients // processes + (n < clients % processes) for n in range(processes)]
    total = Stats()
    context = multiprocessing.get_context("spawn")  # the parent has threads
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        jobs = [
            pool.submit(_worker, urls, share, seconds, seed, start_at)
            for seed, share in enumerate(shares)
            if share
        ]
        for job in jobs:
            total.merge(job.result())
    return total


# --- the scenario --------------------------------------------------------------


class Editor(threading.Thread):
    """Rewrites one seed a second as the newest article, with a new title."""

    def __init__(self, seeds: Path, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.files = sorted(seeds.glob("*.txt"))[:10]
        self.originals = {path: path.read_text("utf-8") for path in self.files}
        self.interval = interval
        self.edits = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            path = self.files[self.edits % len(self.files)]
            # Now, not later: a future date would keep the article out of every feed.
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            text = self.originals[path].replace('title: "', f'title: "Edit {self.edits} ', 1)
            text = re.sub(r"(?m)^publishedDateTime: .*$", f"publishedDateTime: {stamp}", text)
            path.write_text(text, encoding="utf-8")
            self.edits += 1

    def stop(self) -> None:
        self._done.set()
        self.join()


class Daemon:
    """`feeds run` on a config, its log in a file."""

    def __init__(self, config: Path, log: Path, wrapper: Sequence[str] = ()) -> None:
        self.log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [
                *wrapper,
                sys.executable,
                *("-m", "feeds", "run", "--config", str(config), "--port", "0"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log_path.read_text())
            if match:
                return match
            if self.process.poll() is not None:
                raise RuntimeError(f"feeds run exited {self.process.returncode}")
            time.sleep(0.05)
        raise TimeoutError(pattern)

    def rebuilds(self) -> int:
        return len(re.findall(r"files written", self.log_path.read_text()))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        finally:
            self._log.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pids.extend(int(child) for child in children)
    return total


NGINX_CONFIG = """\
{user}
worker_processes auto;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 5;
    etag on;
    if_modified_since exact;
    gzip on;
    gzip_types application/atom+xml application/rss+xml application/feed+json;
    add_header Cache-Control "max-age=60";
    server {{
        listen 127.0.0.1:{port};
        root {output};
        location ~ /\\. {{ return 404; }}
        # nginx takes the type from the last dot only, so the feed types go by location.
        charset utf-8;
        charset_types application/atom+xml application/rss+xml application/feed+json;
        location ~ \\.atom\\.xml$ {{ types {{ }} default_type application/atom+xml; }}
        location ~ \\.rss\\.xml$ {{ types {{ }} default_type application/rss+xml; }}
        location ~ \\.json$ {{ types {{ }} default_type application/feed+json; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def nginx(output: Path, prefix: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """nginx in the foreground on loopback, everything under ``prefix``."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    user = ""
    if os.geteuid() == 0:
        # As root nginx would switch its workers to a user; name one that exists.
        nobody = pwd.getpwnam("nobody")
        user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    port = _free_port()
    config = prefix / "nginx.conf"
    config.write_text(NGINX_CONFIG.format(user=user, prefix=prefix, port=port, output=output))
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "nginx did not start: " + (prefix / "error.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.05)
        yield port, process
    finally:
        process.terminate()
        process.wait(30)


def feed_urls(output: Path, base: str) -> list[str]:
    """The combined and topic feeds (archives change rarely and are left out)."""
    names = [
        path.relative_to(output).as_posix()
        for path in sorted(output.rglob("*"))
        if path.is_file() and path.name.endswith(FEED_SUFFIXES)
    ]
    return [base + name for name in names if not name.startswith("archive/")]


@dataclass
class Outcome:
    name: str
    stats: Stats
    server_cpu: float
    rebuilds: int


def scenario(
    articles: int,
    clients: int,
    seconds: float,
    processes: int,
    with_nginx: bool,
    keep_log: Path | None = None,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="feeds-load-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx's workers read the output as another user
        write_corpus(root / "seeds", articles)
        (root / "feeds.yaml").write_text(
            "seeds: seeds\noutput: output\ncache_dir: cache\nrescan_interval: 3600\n"
        )
        daemon = Daemon(root / "feeds.yaml", root / "daemon.log")
        editor = Editor(root / "seeds")
        try:
            port = int(daemon.wait_for(r"serving .* on http://127\.0\.0\.1:(\d+)/").group(1))
            daemon.wait_for(r"\bready\b")
            output = root / "output"
            editor.start()
            time.sleep(2)  # the first edits' rebuilds under way
            targets = [("feeds run", f"http://127.0.0.1:{port}/", daemon.process.pid)]
            with contextmanager_nginx(with_nginx, output, root / "nginx") as nginx_target:
                if nginx_target is not None:
                    targets.append(nginx_target)
                for name, base, pid in targets:
                    urls = feed_urls(output, base)
                    start_at = time.monotonic() + STARTUP_SECONDS
                    samples: list[tuple[float, int]] = []

                    def sample(pid: int = pid, into: list[tuple[float, int]] = samples) -> None:
                        into.append((cpu_seconds(pid), daemon.rebuilds()))

                    # The server's CPU and the rebuilds over the clients' window only.
                    timers = [
                        threading.Timer(start_at - time.monotonic(), sample),
                        threading.Timer(start_at + seconds - time.monotonic(), sample),
                    ]
                    for timer in timers:
                        timer.start()
                    stats = run_load(urls, clients, seconds, processes, start_at)
                    for timer in timers:
                        timer.join()
                    (cpu_before, rebuilds_before), (cpu_after, rebuilds_after) = samples
                    outcomes.append(
                        Outcome(
                            name, stats, cpu_after - cpu_before, rebuilds_after - rebuilds_before
                        )
                    )
                    print(_summary(outcomes[-1], len(urls)), flush=True)
        finally:
            if editor.is_alive():
                editor.stop()
            daemon.stop()
            if keep_log is not None:
                shutil.copyfile(root / "daemon.log", keep_log)
    return outcomes


@contextmanager
def contextmanager_nginx(
    wanted: bool, output: Path, prefix: Path
) -> Iterator[tuple[str, str, int] | None]:
    if not wanted:
        yield None
        return
    with nginx(output, prefix) as (port, process):
        yield ("nginx", f"http://127.0.0.1:{port}/", process.pid)


def _summary(outcome: Outcome, urls: int) -> str:
    stats = outcome.stats
    return (
        f"{outcome.name}: {stats.requests} requests in {stats.seconds:.1f} s over {urls} URLs, "
        f"{stats.requests / stats.seconds:.0f}/s, p50 {stats.percentile(0.5):.1f} ms, "
        f"p95 {stats.percentile(0.95):.1f} ms, p99 {stats.percentile(0.99):.1f} ms, "
        f"200: {stats.ok}, 304: {stats.not_modified}, errors: {stats.errors}, "
        f"bodies parsed: {stats.bodies_checked} (in {stats.check_seconds:.1f} s CPU), "
        f"client CPU {stats.cpu_seconds:.1f} s, "
        f"server CPU {outcome.server_cpu:.1f} s, rebuilds {outcome.rebuilds}"
        + (f"\n  first errors: {stats.error_samples[:5]}" if stats.errors else "")
    )


# --- RESULTS.md -----------------------------------------------------------------


def section(outcomes: list[Outcome], args: argparse.Namespace) -> str:
    nginx_version = (
        subprocess.run(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-v"],
            capture_output=True,
            text=True,
            check=False,
        )
        .stderr.strip()
        .removeprefix("nginx version: ")
    )
    lines = [
        BEGIN,
        "## Load: conditional GETs while the daemon rebuilds every second",
        "",
        f"`make bench-load` (`python -m bench.load`): {args.articles} articles, an editor "
        f"rewriting one seed a second as the newest article; {args.clients} clients in "
        f"{args.processes} processes (asyncio + aiohttp {metadata.version('aiohttp')}) each "
        "follow one combined feed and four topic feeds of one format and poll them at random "
        "with no pause, remembering ETag and Last-Modified per URL, for "
        f"{args.seconds:.0f} s per server. Every 200 body parses as a whole feed (feedparser "
        "bozo 0, or JSON Feed): each distinct body is kept and parsed after the clock stops, "
        "which takes the clients' parsing out of the measurement. "
        f"{nginx_version} serves the same folder (etag on, if_modified_since exact, "
        "gzip, 2 workers), the editor still running. "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}: "
        "clients, daemon and nginx share the same 2 cores.",
        "",
        "| server | requests/s | p50 ms | p95 ms | p99 ms | errors | 200 | 304 "
        "| bodies parsed | client CPU | server CPU | rebuilds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        stats = outcome.stats
        lines.append(
            f"| {outcome.name} | {stats.requests / stats.seconds:.0f} "
            f"| {stats.percentile(0.5):.1f} | {stats.percentile(0.95):.1f} "
            f"| {stats.percentile(0.99):.1f} | {stats.errors} | {stats.ok} "
            f"| {stats.not_modified} | {stats.bodies_checked} "
            f"| {stats.cpu_seconds / stats.seconds:.2f} cores "
            f"| {outcome.server_cpu / stats.seconds:.2f} cores | {outcome.rebuilds} |"
        )
    lines += [
        "",
        "CPU is user + system time over the run's wall time, in cores (2 in all). "
        "The server CPU of `feeds run` includes its rebuilds; nginx's is its master "
        "and workers only. Rebuilds counts the daemon's builds that wrote files.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(
    text: str, results: Path = RESULTS, markers: tuple[str, str] = (BEGIN, END)
) -> None:
    """Replaces the section of ``results`` between ``markers`` (the load
    section's by default), or appends one."""
    begin, finish = markers
    current = results.read_text("utf-8") if results.exists() else ""
    start, end = current.find(begin), current.find(finish)
    if start != -1 and end > start:
        updated = current[:start] + text + current[end + len(finish) :].removeprefix("\n")
    else:
        updated = current + ("\n" if current and not current.endswith("\n\n") else "") + text
    results.write_text(updated, "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-nginx", action="store_true")
    parser.add_argument("--no-results", action="store_true", help="print only")
    parser.add_argument("--log", type=Path, help="keep the daemon's log here")
    args = parser.parse_args()
    outcomes = scenario(
        args.articles, args.clients, args.seconds, args.processes, not args.no_nginx, args.log
    )
    if not args.no_results:
        write_section(section(outcomes, args))
    if any(outcome.stats.errors for outcome in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
