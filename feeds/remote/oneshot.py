"""`feeds publish` and `feeds build --publish`: every target pushed once.

A transient failure (the network, a throttled service) is retried with
backoff a few times before it is reported; a refused credential or a missing
bucket is reported at once. Each target is pushed on its own: one failing
leaves the others pushed.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from feeds.config import Config
from feeds.errors import OutputError, PublishError
from feeds.formats import INDEX_PAGE
from feeds.remote.local import OutputFolder
from feeds.remote.pusher import OutputChanged, PushReport, push
from feeds.remote.targets import Target, targets_of

log = logging.getLogger("feeds.publish")

#: Tries of a push that fails transiently, and the first wait between them.
ATTEMPTS = 4
FIRST_DELAY = 1.0
#: Pushes again from a new scan when the output changed under one.
RESCANS = 5

Pushed = Callable[[Target, PushReport], None]


def check_output(output: Path) -> None:
    """A push mirrors the folder, deletions included: a folder that holds no
    build (a wrong ``--output``) would empty the targets. Refused instead."""
    if not (output / INDEX_PAGE.filename).is_file():
        raise OutputError(
            f"{output}: holds no built feeds ({INDEX_PAGE.filename} is missing), and a push "
            "would empty the targets; run `feeds build` first"
        )


def publish(
    config: Config, *, dry_run: bool = False, pushed: Pushed | None = None
) -> tuple[list[PushReport], list[PublishError]]:
    """Pushes the output folder to every target once; the reports of those
    pushed and the errors of those that failed."""
    check_output(config.output)
    reports, errors = [], []
    for target in targets_of(config):
        try:
            report = push_with_retries(target, OutputFolder(config.output), dry_run=dry_run)
        except PublishError as error:
            errors.append(error)
            continue
        reports.append(report)
        if pushed is not None and not dry_run:
            pushed(target, report)
    return reports, errors


def push_with_retries(
    target: Target,
    folder: OutputFolder,
    *,
    dry_run: bool = False,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> PushReport:
    from feeds.remote.store import S3Store  # boto3 only when a target is pushed

    store = S3Store(target)
    delay, failures, rescans = FIRST_DELAY, 0, 0
    while True:
        try:
            return push(target, folder, store, dry_run=dry_run)
        except OutputChanged:
            rescans += 1
            if rescans > RESCANS:
                raise PublishError(
                    target.url, "the output folder kept changing during the push", transient=True
                ) from None
        except PublishError as error:
            failures += 1
            if not error.transient or failures >= attempts:
                raise
            log.warning("%s; trying again in %.0f s", error, delay)
            sleep(delay * random.uniform(1.0, 1.5))  # noqa: S311  # jitter, not secrecy
            delay *= 2
