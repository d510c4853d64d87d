"""A real `feeds run` subprocess on temp folders, and ways to wait on it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Generous: CI machines are slow and busy. Tests poll, they never sleep blindly.
TIMEOUT = 20.0


def wait_for(condition: Callable[[], T | None], timeout: float = TIMEOUT, what: str = "") -> T:
    """Polls ``condition`` until it returns something truthy; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(0.02)


class RunningDaemon:
    def __init__(
        self,
        config: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        environment = dict(os.environ)
        environment.pop("NOTIFY_SOCKET", None)
        environment.pop("JOURNAL_STREAM", None)
        environment.update(env or {})
        self.process = subprocess.Popen(
            # ``prefix`` wraps the process, e.g. in setpriv to drop privileges.
            [
                *prefix,
                sys.executable,
                "-m",
                "feeds",
                "run",
                "--config",
                str(config),
                "--port",
                "0",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for_log(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            for line in list(self.lines):
                match = regex.search(line)
                if match:
                    return match
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited ({self.process.returncode}):\n{self.log}")
            return None

        return wait_for(found, timeout, f"log line /{pattern}/\n{self.log}")

    def wait_ready(self) -> None:
        self.wait_for_log(r"\bready\b")

    @property
    def port(self) -> int:
        return int(self.wait_for_log(r"serving .* on http://127\.0\.0\.1:(\d+)/").group(1))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def read_json(path: Path) -> Any:
    """The feed's JSON, or None while it is missing (never half-written)."""
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None


def titles(path: Path) -> list[str]:
    document = read_json(path)
    return [item["title"] for item in document["items"]] if document else []


def http_get(
    url: str, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NotifySocket:
    """A stand-in for systemd's notification socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop:
            try:
                self.messages.extend(self.sock.recv(4096).decode().splitlines())
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


__all__ = ["signal"]
