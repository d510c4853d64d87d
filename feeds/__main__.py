"""`feeds` and `python -m feeds`: the command line, imported only when needed.

`feeds --version` is answered before click or any other part of feeds is
imported: scripts, package managers and health checks ask it often, and it
should cost no more than starting Python. Its line is click's own, checked
by tests/test_cli.py. A `feeds build` with nothing to do is answered before
click, pydantic or PyYAML is imported, when the no-op stamp of the last build
proves it (`feeds.build.quick`): cron and CI run it often, mostly for nothing.
"""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:] == ["--version"]:
        from feeds import __version__

        sys.stdout.write(f"feeds, version {__version__}\n")
        return 0
    if "build" in sys.argv[1:]:
        from feeds.build.quick import answer

        code = answer(sys.argv[1:])
        if code is not None:
            return code
    from feeds.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
