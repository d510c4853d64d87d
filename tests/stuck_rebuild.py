"""Runs the `feeds` command given after it, with reads of seeds whose file name
holds "stuck" blocked in the kernel: each opens the FIFO named by
``FEEDS_TEST_STUCK_FIFO`` and waits there for a writer, as a read on a hung
network mount would, until the test opens its other end.

Nothing in feeds blocks like that any more (see `feeds.system.regular`); a rebuild
that never ends must still be seen, reported and survived, so the test makes
one. Usage: ``python tests/stuck_rebuild.py python -m feeds run ...``.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

import feeds.seeds.reader

_read_seed = feeds.seeds.reader.read_seed


def _blocking_read_seed(path: Path, *args: Any, **kwargs: Any) -> Any:
    if "stuck" in os.path.basename(path):
        with open(os.environ["FEEDS_TEST_STUCK_FIFO"], "rb"):
            pass
    return _read_seed(path, *args, **kwargs)


def main() -> None:
    # Before feeds.build.scanner imports the name.
    feeds.seeds.reader.read_seed = _blocking_read_seed
    arguments = sys.argv[1:]
    module = arguments.index("-m") + 1
    sys.argv = [arguments[module], *arguments[module + 1 :]]
    runpy.run_module(arguments[module], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
