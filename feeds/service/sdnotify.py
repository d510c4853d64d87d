"""systemd's notification protocol (sd_notify(3)): a datagram to $NOTIFY_SOCKET.

A few lines of standard library; the PyPI bindings either need libsystemd
headers to build or are unmaintained. Without ``NOTIFY_SOCKET`` every call is
a no-op, so the daemon behaves the same under a shell, cron or Docker.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("feeds.sdnotify")


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # Linux abstract sockets are written with a leading "@".
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_interval = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, *messages: str) -> None:
        if not self._address:
            return
        payload = "\n".join(messages).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload, self._address)
        except OSError as error:
            log.warning("cannot notify systemd: %s", error.strerror or error)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> None:
        self.notify("RELOADING=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds between keep-alive pings: half of WATCHDOG_USEC (see sd_watchdog_enabled(3))."""
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2 / 1_000_000 if usec > 0 else None
