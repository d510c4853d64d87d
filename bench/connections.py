"""Idle and slow connections against `feeds run`, while readers poll it.

    python -m bench.connections [--idle 2000] [--slow 1000] [--readers 20]
                                [--seconds 30] [--articles 1000] [--baseline]
                                [--open-files N] [--nginx] [--no-results] [--log FILE]

A real `feeds run` subprocess serves a generated corpus while one process
holds ``--idle`` TCP connections that never send a byte (each one opened
again as soon as the server closes it) and ``--slow`` connections that each
ask for a large file and then read 4 bytes a second through a small receive
buffer (each one asking again once the server closes it). On loopback the
kernel's socket buffers take in a few MB of a response at once, so the slow
readers ask for two files placed in the output folder, one of 6 MB (kept in
memory) and one of 12 MB (streamed from disk), half each. Once every
connection is open, ``--readers`` feed readers (bench/load.py's clients, in
a process of their own) poll the feeds with conditional GETs, and a probe
asks for /healthz five times a second on a new connection each time. The
server's memory and open descriptors are sampled every second. ``--baseline``
first measures the readers with no other connections; ``--open-files`` runs
the daemon under a lower open-files limit, and so a lower connection limit;
``--nginx`` runs the same against nginx serving the same folder. Results go between the
`connections` markers of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import platform
import re
import resource
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from bench.corpus import write_corpus
from bench.load import (
    RESULTS,
    Daemon,
    Stats,
    cpu_seconds,
    feed_urls,
    nginx,
    run_clients,
    write_section,
)

MARKERS = ("<!-- connections:begin -->", "<!-- connections:end -->")
SLOW_FILES = {"slow-kept.json": 6 * 1024 * 1024, "slow-streamed.json": 12 * 1024 * 1024}
SLOW_BYTES_PER_SECOND = 4
SLOW_RECEIVE_BUFFER = 1024  # the kernel doubles it and keeps a floor of its own
RAMP_SECONDS = 30.0  # for every hostile connection to be open before the clock starts
HEALTH_INTERVAL = 0.2
_TCP_ESTABLISHED = 1


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Hostile:
    """What the idle and slow connections saw."""

    idle_opened: int = 0
    idle_closed: int = 0  # by the server
    idle_failed: int = 0  # could not connect
    idle_lifetimes: list[float] = field(default_factory=list)
    slow_opened: int = 0
    slow_closed: int = 0
    slow_failed: int = 0
    slow_lifetimes: list[float] = field(default_factory=list)
    # Of those answered 200: cut off by the server while their file was under way.
    slow_cut_lifetimes: list[float] = field(default_factory=list)
    slow_bytes: list[int] = field(default_factory=list)  # read before the server closed
    slow_statuses: dict[str, int] = field(default_factory=dict)
    open_samples: list[tuple[int, int]] = field(default_factory=list)  # (idle, slow) open


def _established(sock: socket.socket) -> bool:
    """Whether the server has neither closed nor reset the connection. A reader
    this slow would take minutes to read its way through its own buffer to the
    end, so it asks the kernel (Linux: the first byte of TCP_INFO)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == _TCP_ESTABLISHED


def _receive(sock: socket.socket, size: int) -> bytes | None:
    """Up to ``size`` bytes; None when none has come, b"" once closed or reset."""
    try:
        return sock.recv(size)
    except BlockingIOError:
        return None
    except OSError:
        return b""


async def _connect(host: str, port: int, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _Holder:
    def __init__(
        self, host: str, port: int, stats: Hostile, stop: asyncio.Event, window: list[float]
    ) -> None:
        self.host, self.port, self.stats, self.stop = host, port, stats, stop
        self.window = window  # [start, end]: only what ends inside it is counted
        self.idle_open = 0
        self.slow_open = 0

    def _counted(self) -> bool:
        return self.window[0] <= time.monotonic() <= self.window[1]

    async def idle(self) -> None:
        """One connection that never sends anything, opened again whenever it is closed."""
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            try:
                sock = await _connect(self.host, self.port)
            except OSError:
                self.stats.idle_failed += self._counted()
                await asyncio.sleep(0.1)
                continue
            self.stats.idle_opened += self._counted()
            self.idle_open += 1
            opened = time.monotonic()
            try:
                receive = asyncio.ensure_future(loop.sock_recv(sock, 1))
                stopping = asyncio.ensure_future(self.stop.wait())
                await asyncio.wait({receive, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if receive.done():
                    receive.exception()  # b"" or a reset: closed by the server either way
                    if self._counted():
                        self.stats.idle_closed += 1
                        self.stats.idle_lifetimes.append(time.monotonic() - opened)
                else:
                    receive.cancel()
                stopping.cancel()
            finally:
                self.idle_open -= 1
                sock.close()

    async def slow(self, path: str) -> None:
        """One reader of ``path`` at 4 bytes a second, asking again whenever it is closed."""
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAccept-Encoding: identity\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            try:
                sock = await _connect(self.host, self.port, SLOW_RECEIVE_BUFFER)
                await loop.sock_sendall(sock, request)
            except OSError:
                self.stats.slow_failed += self._counted()
                await asyncio.sleep(0.1)
                continue
            self.stats.slow_opened += self._counted()
            self.slow_open += 1
            try:
                await self._read_slowly(sock)
            finally:
                self.slow_open -= 1
                sock.close()

    async def _read_slowly(self, sock: socket.socket) -> None:
        """Reads ``sock`` at 4 bytes a second until the server closes it or the run ends."""
        opened = time.monotonic()
        head = b""
        received = 0
        while not self.stop.is_set():
            chunk = _receive(sock, SLOW_BYTES_PER_SECOND)
            if chunk == b"" or not _established(sock):
                if self._counted():
                    lifetime = time.monotonic() - opened
                    self.stats.slow_closed += 1
                    self.stats.slow_lifetimes.append(lifetime)
                    self.stats.slow_bytes.append(received)
                    if head.startswith(b"HTTP/1.1 200"):
                        self.stats.slow_cut_lifetimes.append(lifetime)
                break
            if chunk:
                received += len(chunk)
                if len(head) < 12:
                    head += chunk
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 1.0)
        status = head[9:12].decode("latin-1", "replace") or "none"
        self.stats.slow_statuses[status] = self.stats.slow_statuses.get(status, 0) + 1


async def hold(
    host: str, port: int, idle: int, slow: int, start_at: float, seconds: float
) -> Hostile:
    """Opens the connections now; counts what happens from ``start_at`` (monotonic,
    system-wide) for ``seconds``, then closes them."""
    stats = Hostile()
    stop = asyncio.Event()
    holder = _Holder(host, port, stats, stop, [start_at, start_at + seconds])
    paths = [f"/{name}" for name in SLOW_FILES]
    tasks = []
    for n in range(max(idle, slow)):
        if n < idle:
            tasks.append(asyncio.ensure_future(holder.idle()))
        if n < slow:
            tasks.append(asyncio.ensure_future(holder.slow(paths[n % len(paths)])))
        if n % 50 == 49:
            await asyncio.sleep(0.01)  # a ramp, not a SYN flood
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    while time.monotonic() < start_at + seconds:
        stats.open_samples.append((holder.idle_open, holder.slow_open))
        await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def _hold_process(
    host: str, port: int, idle: int, slow: int, start_at: float, seconds: float
) -> Hostile:
    raise_open_files_limit()
    return asyncio.run(hold(host, port, idle, slow, start_at, seconds))


def _readers_process(urls: list[str], readers: int, seconds: float, start_at: float) -> Stats:
    return asyncio.run(run_clients(urls, readers, seconds, 1, start_at))


@dataclass
class Probe:
    """/healthz on a new connection each time."""

    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.statuses.get("200", 0)

    @property
    def asked(self) -> int:
        return sum(self.statuses.values())


def probe_health(url: str, seconds: float) -> Probe:
    result = Probe()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
                response.read()
                status = str(response.status)
        except urllib.error.HTTPError as error:
            status = str(error.code)
        except OSError as error:
            status = type(error).__name__
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        time.sleep(HEALTH_INTERVAL)
    return result


def process_sample(pid: int) -> tuple[float, int]:
    """Resident memory in MB and open file descriptors of ``pid`` and its children."""
    rss, fds = 0.0, 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
            fds += len(os.listdir(f"/proc/{current}/fd"))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pids.extend(int(child) for child in children)
    return rss, fds


@dataclass
class Outcome:
    name: str
    readers: Stats
    hostile: Hostile
    health: Probe
    rss_before_mb: float
    rss_mb: list[float]
    fds: list[int]
    server_cpu: float
    log_lines: list[str]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(
    name: str,
    base: str,
    pid: int,
    urls: list[str],
    args: argparse.Namespace,
    log: Path | None,
    probe: str = "healthz",
) -> Outcome:
    match = re.match(r"http://([^:/]+):(\d+)/", base)
    assert match is not None
    host, port = match.group(1), int(match.group(2))
    context = multiprocessing.get_context("spawn")  # the parent has threads
    log_before = len(log.read_text().splitlines()) if log is not None else 0
    rss_before = process_sample(pid)[0]
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        start_at = time.monotonic() + (RAMP_SECONDS if args.idle or args.slow else 5.0)
        hostile = pool.submit(
            _hold_process, host, port, args.idle, args.slow, start_at, args.seconds
        )
        readers = pool.submit(_readers_process, urls, args.readers, args.seconds, start_at)
        time.sleep(max(0.0, start_at - time.monotonic()))
        cpu_before = cpu_seconds(pid)
        samples: list[tuple[float, int]] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(1.0):
                samples.append(process_sample(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        health = probe_health(base + probe, args.seconds)
        reader_stats = readers.result()
        cpu_after = cpu_seconds(pid)
        sampling.set()
        sampler.join()
        hostile_stats = hostile.result()
    lines = log.read_text().splitlines()[log_before:] if log is not None else []
    return Outcome(
        name,
        reader_stats,
        hostile_stats,
        health,
        rss_before,
        [rss for rss, _ in samples],
        [fds for _, fds in samples],
        cpu_after - cpu_before,
        lines,
    )


def place_slow_files(output: Path) -> None:
    for name, size in SLOW_FILES.items():
        line = b'{"id": "x", "title": "a large feed, for slow readers"},\n'
        (output / name).write_bytes((line * (size // len(line) + 1))[:size])


def scenario(args: argparse.Namespace) -> list[Outcome]:
    raise_open_files_limit()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="feeds-connections-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx's workers read the output as another user
        write_corpus(root / "seeds", args.articles)
        (root / "feeds.yaml").write_text(
            "seeds: seeds\noutput: output\ncache_dir: cache\nrescan_interval: 3600\n"
        )
        # prlimit (util-linux) sets the limit the daemon cannot raise past.
        wrapper = ["prlimit", f"--nofile={args.open_files}"] if args.open_files else []
        daemon = Daemon(root / "feeds.yaml", root / "daemon.log", wrapper)
        try:
            port = int(daemon.wait_for(r"serving .* on http://127\.0\.0\.1:(\d+)/").group(1))
            daemon.wait_for(r"\bready\b")
            place_slow_files(root / "output")
            base = f"http://127.0.0.1:{port}/"
            urls = feed_urls(root / "output", base)
            urls = [url for url in urls if "slow-" not in url]
            if args.baseline:
                alone = argparse.Namespace(**{**vars(args), "idle": 0, "slow": 0})
                outcome = measure(
                    "feeds run, readers alone", base, daemon.process.pid, urls, alone, None
                )
                outcomes.append(outcome)
                print(summary(outcome), flush=True)
            outcome = measure("feeds run", base, daemon.process.pid, urls, args, daemon.log_path)
            outcomes.append(outcome)
            print(summary(outcome), flush=True)
            if args.nginx:
                with nginx(root / "output", root / "nginx") as (nginx_port, process):
                    nginx_base = f"http://127.0.0.1:{nginx_port}/"
                    urls = [u for u in feed_urls(root / "output", nginx_base) if "slow-" not in u]
                    # nginx has no /healthz: the probe asks for the index page instead.
                    outcome = measure("nginx", nginx_base, process.pid, urls, args, None, "")
                    outcomes.append(outcome)
                    print(summary(outcome), flush=True)
        finally:
            daemon.stop()
            if args.log is not None:
                args.log.write_text((root / "daemon.log").read_text())
    return outcomes


def _seconds(values: list[float], fraction: float | None = None) -> str:
    """The ``fraction`` percentile of ``values``, or their largest, in seconds."""
    if not values:
        return "–"
    return f"{percentile(values, fraction) if fraction is not None else max(values):.1f} s"


def _range(values: list[int]) -> str:
    return f"{min(values)}–{max(values)}" if values else "–"


def summary(outcome: Outcome) -> str:
    readers, hostile, health = outcome.readers, outcome.hostile, outcome.health
    idle_open = [idle for idle, _ in hostile.open_samples]
    slow_open = [slow for _, slow in hostile.open_samples]
    refusal_lines = [line for line in outcome.log_lines if "refused or cut off" in line]
    return "\n".join(
        [
            f"{outcome.name}:",
            f"  readers: {readers.requests} requests, {readers.requests / readers.seconds:.0f}/s, "
            f"p50 {readers.percentile(0.5):.1f} ms, p95 {readers.percentile(0.95):.1f} ms, "
            f"p99 {readers.percentile(0.99):.1f} ms, 200: {readers.ok}, "
            f"304: {readers.not_modified}, errors: {readers.errors} "
            f"{readers.error_samples[:3] if readers.errors else ''}",
            f"  /healthz: {health.statuses}, p50 {percentile(health.latencies_ms, 0.5):.1f} ms, "
            f"max {max(health.latencies_ms, default=float('nan')):.1f} ms",
            f"  idle: open {_range(idle_open)}, opened {hostile.idle_opened}, "
            f"closed by the server {hostile.idle_closed} "
            f"(held p50 {percentile(hostile.idle_lifetimes, 0.5):.1f} s), "
            f"failed to connect {hostile.idle_failed}",
            f"  slow: open {_range(slow_open)}, opened {hostile.slow_opened}, "
            f"closed by the server {hostile.slow_closed} "
            f"(held p50 {percentile(hostile.slow_lifetimes, 0.5):.1f} s, "
            f"max {max(hostile.slow_lifetimes, default=float('nan')):.1f} s; "
            f"read p50 {percentile([float(b) for b in hostile.slow_bytes], 0.5):.0f} bytes; "
            f"{len(hostile.slow_cut_lifetimes)} cut off while sent a file, after "
            f"p50 {percentile(hostile.slow_cut_lifetimes, 0.5):.1f} s, "
            f"max {max(hostile.slow_cut_lifetimes, default=float('nan')):.1f} s), "
            f"failed to connect {hostile.slow_failed}, statuses {hostile.slow_statuses}",
            f"  server: RSS {outcome.rss_before_mb:.0f} MB before, "
            f"max {max(outcome.rss_mb, default=0):.0f} MB, "
            f"descriptors max {max(outcome.fds, default=0)}, "
            f"CPU {outcome.server_cpu / readers.seconds:.2f} cores, "
            f"log lines {len(outcome.log_lines)} ({len(refusal_lines)} refusal summaries)",
            *(f"    {line}" for line in refusal_lines[:3]),
        ]
    )


def section(outcomes: list[Outcome], args: argparse.Namespace) -> str:
    lines = [
        MARKERS[0],
        "## Connections: idle and slow clients while readers poll",
        "",
        f"`python -m bench.connections{' --baseline' * args.baseline}{' --nginx' * args.nginx}`"
        f" (`make bench-connections`): {args.articles} articles; {args.idle} connections "
        "that never send a byte (each opened again as soon as the server closes it) and "
        f"{args.slow} that each ask for a large file (6 MB kept in memory or 12 MB streamed, "
        f"half each) and read it {SLOW_BYTES_PER_SECOND} bytes a second through a small receive "
        "buffer (each asking again once closed), all opened before the clock starts; then "
        f"for {args.seconds:.0f} s, {args.readers} readers polling with conditional GETs "
        "(bench/load.py's clients) and /healthz asked on a new connection every "
        f"{HEALTH_INTERVAL:g} s. {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: clients and server share them.",
        "",
        "| server | reader req/s | p50 ms | p99 ms | reader errors | /healthz 200 | idle open "
        "| idle closed by server (held p50) | slow closed by server (held p50) "
        "| slow cut off mid-file (held p50, max) | RSS MB before → max | descriptors max "
        "| server CPU | refusal log lines |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        readers, hostile, health = outcome.readers, outcome.hostile, outcome.health
        idle_open = [idle for idle, _ in hostile.open_samples]
        refusal_lines = [line for line in outcome.log_lines if "refused or cut off" in line]
        lines.append(
            f"| {outcome.name} | {readers.requests / readers.seconds:.0f} "
            f"| {readers.percentile(0.5):.1f} | {readers.percentile(0.99):.1f} "
            f"| {readers.errors} | {health.ok}/{health.asked} | {_range(idle_open)} "
            f"| {hostile.idle_closed} ({_seconds(hostile.idle_lifetimes, 0.5)}) "
            f"| {hostile.slow_closed} ({_seconds(hostile.slow_lifetimes, 0.5)}) "
            f"| {len(hostile.slow_cut_lifetimes)} ({_seconds(hostile.slow_cut_lifetimes, 0.5)}, "
            f"{_seconds(hostile.slow_cut_lifetimes)}) "
            f"| {outcome.rss_before_mb:.0f} → {max(outcome.rss_mb, default=0):.0f} "
            f"| {max(outcome.fds, default=0)} "
            f"| {outcome.server_cpu / readers.seconds:.2f} cores "
            f"| {len(refusal_lines) if outcome.name == 'feeds run' else '–'} |"
        )
    lines += [
        "",
        "Held: how long a connection the server closed had been open. RSS and "
        "descriptors are the server's (nginx: master and workers), sampled each second. "
        "nginx has no /healthz; its probe asks for the index page.",
        MARKERS[1],
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--nginx", action="store_true")
    parser.add_argument(
        "--baseline", action="store_true", help="first, the readers with no other connections"
    )
    parser.add_argument(
        "--open-files",
        type=int,
        help="the daemon's open-files limit, to try a lower connection limit",
    )
    parser.add_argument("--no-results", action="store_true", help="print only")
    parser.add_argument("--log", type=Path, help="keep the daemon's log here")
    args = parser.parse_args()
    outcomes = scenario(args)
    if not args.no_results:
        write_section(section(outcomes, args), RESULTS, MARKERS)
    if any(outcome.readers.errors for outcome in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
