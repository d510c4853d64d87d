"""`feeds` and `python -m feeds`: the command line, imported only when needed.

`feeds --version` is answered before click or any other part of feeds is
imported: scripts, package managers and health checks ask it often, and it
should cost no more than starting Python. Its line is click's own, checked
by tests/test_cli.py.
"""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:] == ["--version"]:
        from feeds import __version__

        sys.stdout.write(f"feeds, version {__version__}\n")
        return 0
    from feeds.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
