"""Logging for people and for journald: one event per line, with its level."""

from __future__ import annotations

import logging
import os
import sys

# sd-daemon(3) priorities: journald reads a "<N>" prefix as the message's priority.
_PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _OneLine(logging.Formatter):
    """Keeps an event on one line: newlines inside messages are escaped."""

    def __init__(self, fmt: str, journald: bool) -> None:
        super().__init__(fmt, datefmt="%Y-%m-%dT%H:%M:%S%z")
        self._journald = journald

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage().replace("\n", "\\n")
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info:
            text += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        if self._journald:
            priority = _PRIORITIES.get(record.levelno, 6)
            text = f"<{priority}>{text}"
        return text


def under_journald() -> bool:
    """Whether stderr is connected to the journal (systemd sets JOURNAL_STREAM)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in stream.split(":"))
        info = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)


def setup_logging(level: int = logging.INFO) -> None:
    journald = under_journald()
    # journald stamps every line itself; a terminal or a plain file needs the time.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not journald:
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine(fmt, journald))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every job run at INFO; that is noise in a service's journal.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # botocore says where it found credentials at every start (never the
    # credentials); the push's own lines say what matters.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # uvicorn announces its own start and stop; the daemon says what matters.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
