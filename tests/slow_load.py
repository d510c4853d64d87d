"""Runs the `feeds` command given after it, with each article the parse cache
holds unpacked slowly: ``FEEDS_TEST_UNPACK_DELAY`` seconds apiece, and a
stop looked for before each one.

A daemon's load after a proven start (`Builder.resume`) is over in a blink
on a test's few seeds; a test that acts during it (a save, a reload, a stop)
needs it to last. Usage: ``python tests/slow_load.py python -m feeds run ...``.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from typing import Any

import feeds.build.cachesession

_unpacked = feeds.build.cachesession._unpacked


def _slow_unpacked(packed: Any, path: str) -> Any:
    time.sleep(float(os.environ.get("FEEDS_TEST_UNPACK_DELAY", "0.5")))
    return _unpacked(packed, path)


def main() -> None:
    feeds.build.cachesession._unpacked = _slow_unpacked
    feeds.build.cachesession.STOP_CHECK = 1
    arguments = sys.argv[1:]
    module = arguments.index("-m") + 1
    sys.argv = [arguments[module], *arguments[module + 1 :]]
    runpy.run_module(arguments[module], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
