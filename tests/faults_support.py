"""Shared pieces of the fault tests: real faults (tmpfs, dropped privileges,
libfaketime) around real `feeds build` and `feeds run` processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from feeds.build.writer import TEMP_PREFIX, TEMP_SUFFIX
from tests.daemon_harness import RunningDaemon, http_get

#: CI sets this so a missing tool fails the run instead of skipping a fault test.
STRICT = os.environ.get("FEEDS_FAULT_TESTS_STRICT") == "1"
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
ATOM = "{http://www.w3.org/2005/Atom}"

CONFIG = """\
title: "Fault Feeds"
seeds: seeds
output: output
debounce_ms: 50
rescan_interval: 3600
"""


def need(condition: bool, reason: str) -> None:
    """Skips on a developer's machine without the tool; fails in CI."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"fault test cannot run: {reason}")
    pytest.skip(reason)


def make_site(root: Path, extra: str = "") -> Path:
    """A site folder with an empty seeds folder; ``extra`` lines replace or add settings."""
    (root / "seeds").mkdir(exist_ok=True)
    settings = dict(line.split(":", 1) for line in (CONFIG + extra).splitlines())
    (root / "feeds.yaml").write_text("".join(f"{k}:{v}\n" for k, v in settings.items()))
    return root / "feeds.yaml"


def run_build(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", "build", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size_kib: int) -> Iterator[Path]:
    """A real, tiny filesystem: writes past its size fail with ENOSPC."""
    need(shutil.which("mount") is not None and os.geteuid() == 0, "mounting a tmpfs needs root")
    mountpoint.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    need(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)


def fill(folder: Path) -> Path:
    """Fills the filesystem holding ``folder``; returns the filler to delete
    later (a dotfile: the daemon neither serves nor removes it)."""
    filler = folder / ".filler"
    chunk = b"\0" * 4096
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while os.write(descriptor, chunk):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(descriptor)
    return filler


def unprivileged() -> list[str]:
    """A prefix that makes file permissions bind: root ignores them unless it
    drops CAP_DAC_OVERRIDE (setpriv, util-linux)."""
    if os.geteuid() != 0:
        return []
    need(shutil.which("setpriv") is not None, "setpriv (util-linux) is not installed")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def faketime_env(rc: Path) -> dict[str, str]:
    """The daemon's wall clock follows ``rc`` (an offset like "+3600"); its
    monotonic clock stays real, as in a real clock jump."""
    need(FAKETIME_LIB.exists(), "libfaketime is not installed (apt-get install faketime)")
    rc.write_text("+0\n")
    return {
        "LD_PRELOAD": str(FAKETIME_LIB),
        "FAKETIME_TIMESTAMP_FILE": str(rc),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def health(daemon: RunningDaemon) -> Mapping[str, Any]:
    status, _, body = http_get(daemon.url("healthz"))
    assert status in (200, 503)
    result: Mapping[str, Any] = json.loads(body)
    return result


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"))


def invalid_documents(output: Path) -> list[str]:
    """Every document of the output folder that does not parse, with why."""
    problems = []
    for path in sorted(output.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            data = path.read_bytes()
            if path.suffix == ".json":
                json.loads(data)
            elif path.suffix in (".xml", ".opml"):
                ET.fromstring(data)
            elif path.suffix == ".html" and not data.rstrip().endswith(b"</html>"):
                raise ValueError("truncated HTML")
        except (ValueError, ET.ParseError) as error:
            problems.append(f"{path.relative_to(output)}: {error}")
    return problems


def published_titles(output: Path) -> set[str]:
    """Titles in the combined Atom feed and its monthly archives: every
    published article, however many."""
    found: set[str] = set()
    documents = [output / "all.atom.xml", *sorted((output / "archive" / "all").glob("*.atom.xml"))]
    for path in documents:
        if not path.exists():
            continue
        root = ET.fromstring(path.read_bytes())
        found.update(entry.findtext(f"{ATOM}title") or "" for entry in root.iter(f"{ATOM}entry"))
    return found
