"""The operator's purge command, run with the public paths a push changed.

A CDN in front of a bucket keeps serving what it cached until it is told;
the command (say, a script calling CloudFront's or Cloudflare's purge API)
gets the changed paths as arguments, a bounded number per run, so no
argument list outgrows what the system allows.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

from feeds.errors import shown_path
from feeds.remote.targets import Target

log = logging.getLogger("feeds.publish")

#: Paths per run of the command.
BATCH = 500
#: Seconds one run may take before it is stopped.
TIMEOUT = 120.0


def purge(target: Target, names: Sequence[str]) -> bool:
    """Runs ``purge_command`` over the public paths of ``names``; False when a run failed."""
    if not target.purge_command or not names:
        return True
    paths = [target.public_path(name) for name in names]
    ok = True
    for start in range(0, len(paths), BATCH):
        ok = _run(target, paths[start : start + BATCH]) and ok
    return ok


def _run(target: Target, paths: list[str]) -> bool:
    command = [*target.purge_command, *paths]
    program = shown_path(target.purge_command[0])
    try:
        # Its output is the operator's: to our stderr, never mixed into the
        # summary lines scripts read from stdout.
        done = subprocess.run(  # noqa: S603  # the operator's own command, no shell
            command, stdin=subprocess.DEVNULL, stdout=2, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        log.warning("%s: purge command %s ran over %.0f s; stopped", target.url, program, TIMEOUT)
        return False
    except OSError as error:
        log.warning("%s: purge command %s cannot run: %s", target.url, program, error.strerror)
        return False
    if done.returncode != 0:
        log.warning("%s: purge command %s exited %d", target.url, program, done.returncode)
        return False
    return True
