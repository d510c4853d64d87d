"""The command line: parses arguments, calls the core, turns errors into exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds import __version__
from feeds.errors import ArticleWarning, ConfigError, ExitCode, FeedsError, shown_path

# Each command imports what it needs when it runs: `feeds --version` and
# `--help` load none of it, and a build imports no daemon.
if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.remote.pusher import PushReport
    from feeds.remote.targets import Target

log = logging.getLogger("feeds")

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file [default: config/feeds.yaml when present].",
)
_seeds_option = click.option(
    "--seeds",
    type=click.Path(path_type=Path, file_okay=False),
    help="Seeds folder (overrides the config).",
)
_output_option = click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder (overrides the config).",
)
_cache_dir_option = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Parse cache folder (overrides the config) [default: ~/.cache/feeds].",
)
_quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Print problems only, no summary line."
)
_strict_option = click.option(
    "--strict",
    is_flag=True,
    help="Reject an article for any optional field of the wrong shape instead of "
    "publishing it without that field (exit code 1) [default: the config's strict].",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to stderr.")
def cli(verbose: bool) -> None:
    """Turn a folder of articles into Atom, RSS and JSON feeds.

    \b
    Exit codes:
      0  all good (warnings too: articles published without a broken optional field)
      1  some articles were rejected (the feeds were written from the good ones);
         with --strict or strict: true, any warning rejects its article
      2  a config or usage error, or nothing could be written
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@cli.command()
@_config_option
@_seeds_option
@_output_option
@_cache_dir_option
@click.option("--no-cache", is_flag=True, help="Read every file again; ignore the parse cache.")
@_strict_option
@click.option(
    "--publish",
    "and_publish",
    is_flag=True,
    help="Then push the output folder to the config's publish targets (like `feeds publish`).",
)
@_quiet_option
def build(
    config_path: Path | None,
    seeds: Path | None,
    output: Path | None,
    cache_dir: Path | None,
    no_cache: bool,
    strict: bool,
    and_publish: bool,
    quiet: bool,
) -> int:
    """Build every feed once from the seeds folder into the output folder."""
    from feeds.build import oneshot, stamp
    from feeds.config import load_config

    invocation = stamp.Invocation(
        config=_text(config_path),
        seeds=_text(seeds),
        output=_text(output),
        cache_dir=_text(cache_dir),
        strict=strict,
    )
    key = stamp.key_of(invocation)  # before the config is read: see stamp.save
    config = load_config(
        config_path, seeds=seeds, output=output, cache_dir=cache_dir, strict=strict or None
    )
    if key is not None and not no_cache:
        stamp.save(invocation, key, config)  # for the next build with nothing to do
    if and_publish:
        _require_targets(config)
    progress = _progress_bar if sys.stderr.isatty() else None
    report = oneshot.build(config, progress=progress, use_cache=not no_cache)
    _report_problems(report.rejected, report.warnings)
    for duplicate in report.duplicates:
        log.info("%s: same link as %s, which is published", duplicate.dropped, duplicate.kept)
    if not quiet:
        click.echo(report.summary())
    if not and_publish:
        return report.exit_code
    return max(report.exit_code, _publish(config, dry_run=False, quiet=quiet))


@cli.command()
@_config_option
@_output_option
@click.option(
    "--dry-run", is_flag=True, help="Say what would be uploaded and deleted; change nothing."
)
@_quiet_option
def publish(config_path: Path | None, output: Path | None, dry_run: bool, quiet: bool) -> int:
    """Push the output folder, as it is, to the config's publish targets.

    Uploads only the objects whose bytes changed, in an order that never
    shows a reader a broken link, and deletes only the objects feeds wrote.
    Credentials come from the standard AWS chain, never from the config.
    """
    from feeds.config import load_config

    config = load_config(config_path, output=output)
    _require_targets(config)
    return _publish(config, dry_run=dry_run, quiet=quiet)


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _require_targets(config: Config) -> None:
    if not config.publish:
        raise ConfigError(
            "no publish targets: add a `publish:` list to the config (see the README)"
        )


def _publish(config: Config, *, dry_run: bool, quiet: bool) -> int:
    from feeds.remote import oneshot  # boto3 is imported only to publish

    reports, errors = oneshot.publish(config, dry_run=dry_run, pushed=_after_push(config))
    for report in reports:
        if dry_run:
            for name in report.changed:
                click.echo(f"  {shown_path(name)}")
        if not quiet:
            click.echo(report.summary())
    for error in errors:
        click.echo(f"feeds: error: {error}", err=True)
    return ExitCode.FAILURE if errors else ExitCode.OK


def _after_push(config: Config) -> Callable[[Target, PushReport], None]:
    """What follows each target's push: its CDN purged, its hubs told."""

    def pushed(target: Target, report: PushReport) -> None:
        from feeds.remote.purge import purge

        purge(target, report.changed)
        if config.websub.hubs and report.feeds:
            from feeds.service.websub import HubNotifier

            hubs = HubNotifier(config.websub.hubs, attempts=3)
            hubs.notify(target.public(name) for name in report.feeds)
            hubs.wait_idle(30.0)
            hubs.close(1.0)

    return pushed


@cli.command()
@_config_option
@_seeds_option
@_strict_option
@_quiet_option
def check(config_path: Path | None, seeds: Path | None, strict: bool, quiet: bool) -> int:
    """Read and validate every article and report problems; write nothing."""
    from feeds.build.builder import scan  # not imported by a build with nothing to do
    from feeds.config import load_config

    config = load_config(config_path, seeds=seeds, strict=strict or None)
    found = scan(config, _progress_bar if sys.stderr.isatty() else None)
    _report_problems(found.rejected, found.warnings)
    for duplicate in found.duplicates:
        for dropped in duplicate.dropped:
            click.echo(
                f"{shown_path(str(dropped))}: duplicate of {shown_path(str(duplicate.kept))}"
                f" (same link {duplicate.link}); {shown_path(str(duplicate.kept))} is published",
                err=True,
            )
    if not quiet:
        click.echo(
            f"{found.files} files: {len(found.articles)} articles, "
            f"{len(found.rejected)} rejected, {len(found.warnings)} warnings, "
            f"{sum(len(d.dropped) for d in found.duplicates)} duplicates"
        )
    return ExitCode.REJECTED if found.rejected else ExitCode.OK


@cli.command()
@_config_option
@_seeds_option
@_output_option
@_cache_dir_option
@click.option("--host", help="Address to serve on (overrides the config) [default: 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port to serve on (overrides the config) [default: 8080].",
)
@click.option("--no-serve", is_flag=True, help="Keep the feeds current without serving them.")
def run(
    config_path: Path | None,
    seeds: Path | None,
    output: Path | None,
    cache_dir: Path | None,
    host: str | None,
    port: int | None,
    no_serve: bool,
) -> int:
    """Build, then keep the feeds current until stopped (SIGTERM or Ctrl-C).

    Watches the seeds folder, publishes future-dated articles at their time,
    rescans periodically, and serves the output folder over HTTP. SIGHUP
    reloads the config.
    """
    from feeds.config import load_config
    from feeds.logs import setup_logging
    from feeds.service.daemon import Daemon, ServeOptions

    setup_logging(logging.DEBUG if _verbose() else logging.INFO)
    daemon = Daemon(
        lambda: load_config(config_path, seeds=seeds, output=output, cache_dir=cache_dir),
        ServeOptions(enabled=not no_serve, host=host, port=port),
    )
    return daemon.run()


@cli.command()
@_config_option
def stats(config_path: Path | None) -> int:
    """Print the subscribers that feed readers report, by feed and service.

    Reads the counts `feeds run` keeps in the state folder (state_dir), so it
    works while the daemon runs; they are saved every few seconds.
    """
    from feeds.config import load_config
    from feeds.service.subscribers import state_file, stats_lines

    for line in stats_lines(state_file(load_config(config_path))):
        click.echo(line)
    return ExitCode.OK


def _verbose() -> bool:
    context = click.get_current_context()
    return bool(context.find_root().params.get("verbose"))


def _report_problems(
    rejected: Sequence[FeedsError], warnings: Sequence[ArticleWarning] = ()
) -> None:
    for problem in (*rejected, *warnings):
        click.echo(str(problem), err=True)


def _progress_bar(paths: Sequence[Path]) -> Iterator[Path]:
    with click.progressbar(paths, label="Reading articles", file=sys.stderr) as bar:
        yield from bar


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI and returns its exit code; ``feeds`` and ``python -m feeds``
    call this through `feeds.__main__`, which answers ``--version`` itself."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="feeds", standalone_mode=False
        )
    except click.ClickException as error:
        error.show()
        return ExitCode.FAILURE
    except click.Abort:
        click.echo("Aborted.", err=True)
        return ExitCode.FAILURE
    except FeedsError as error:
        for line in str(error).splitlines():
            click.echo(f"feeds: error: {line}", err=True)
        return error.exit_code
    return int(result) if isinstance(result, int) else ExitCode.OK
