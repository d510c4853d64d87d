"""Specs of `feeds build --publish` (the build's exit code, unless the push
fails) and of what follows a push: the purge command, the WebSub pings."""

from __future__ import annotations

import http.server
import logging
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from tests.publish.site import BASE_URL, PREFIX, Site, puts, site, uploaded

__all__ = ["puts", "site"]  # fixtures


def test_build_publish_builds_then_pushes_and_exits_0(site: Site) -> None:
    run = site.cli("build", "--publish")

    assert run.code == 0, run.err
    summary = run.out.splitlines()
    assert len(summary) == 2
    assert summary[0].startswith("4 articles")
    assert uploaded(run) == len(site.local())
    assert {key: o.body for key, o in site.ours().items()} == site.local()


def test_build_publish_with_a_rejected_seed_pushes_and_exits_1(site: Site) -> None:
    bad = site.write_seed("bad.md", "---\ntitle: no link\n---\n")

    run = site.cli("build", "--publish", "-q")

    assert run.code == 1
    assert run.err.splitlines() == [f"{bad}: missing link: set webUrl or originalUrl"]
    assert {key: o.body for key, o in site.ours().items()} == site.local()


@pytest.mark.parametrize("rejected", [False, True], ids=["good", "rejected"])
def test_build_publish_whose_push_fails_exits_2_with_the_build_written(
    site: Site, rejected: bool
) -> None:
    if rejected:
        site.write_seed("bad.md", "---\ntitle: no link\n---\n")
    site.configure({"url": "s3://no-such-bucket-here/site/"})

    run = site.cli("build", "--publish", "-q")

    assert run.code == 2
    assert run.err.splitlines()[-1].startswith(
        "feeds: error: publish target s3://no-such-bucket-here/site/: "
    )
    assert (site.output / "index.html").is_file()


def test_build_publish_without_targets_builds_nothing(site: Site) -> None:
    site.config.write_text(f"seeds: {site.seeds}\noutput: {site.output}\n", encoding="utf-8")

    run = site.cli("build", "--publish")

    assert run.code == 2
    assert "no publish targets" in run.err
    assert not (site.output / "index.html").exists()


def purge_script(tmp_path: Path, exit_code: int = 0) -> tuple[Path, Path]:
    """A purge command that appends one line per argument to a log; the
    command and the log."""
    log = tmp_path / "purged.txt"
    script = tmp_path / "purge.py"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"with open({str(log)!r}, 'a', encoding='utf-8') as log:\n"
        "    log.writelines(arg + '\\n' for arg in sys.argv[1:])\n"
        f"sys.exit({exit_code})\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script, log


def test_the_purge_command_gets_the_public_paths_of_what_changed(
    site: Site, tmp_path: Path, puts: list[str]
) -> None:
    script, log = purge_script(tmp_path)
    site.configure({"purge_command": [str(script)]})
    site.build()
    assert site.publish().code == 0
    first = log.read_text(encoding="utf-8").splitlines()
    assert sorted(first) == sorted(f"/feeds/{name}" for name in puts)
    log.unlink()
    before = set(site.local())
    (site.seeds / "g1.md").unlink()
    (site.seeds / "g2.md").unlink()
    site.build()
    deleted = {key.removeprefix(PREFIX) for key in before - set(site.local())}
    puts.clear()

    run = site.publish()

    assert run.code == 0
    purged = log.read_text(encoding="utf-8").splitlines()
    assert sorted(purged) == sorted(f"/feeds/{name}" for name in [*puts, *deleted])
    assert deleted
    assert puts


def test_a_public_url_sets_the_purged_paths(site: Site, tmp_path: Path) -> None:
    script, log = purge_script(tmp_path)
    site.configure({"purge_command": [str(script)], "public_url": "https://cdn.example.net/x/"})
    site.build()

    assert site.publish().code == 0

    purged = log.read_text(encoding="utf-8").splitlines()
    assert "/x/index.html" in purged
    assert all(path.startswith("/x/") for path in purged)


def test_a_failing_purge_command_warns_and_the_push_succeeds(
    site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script, log = purge_script(tmp_path, exit_code=3)
    site.configure({"purge_command": [str(script)]})
    site.build()

    with caplog.at_level(logging.WARNING, logger="feeds.publish"):
        run = site.publish()

    assert run.code == 0
    assert uploaded(run) == len(site.local())
    assert log.is_file()
    warnings = [r.getMessage() for r in caplog.records if r.name == "feeds.publish"]
    assert warnings == [f"{site.url}: purge command {script} exited 3"]


def test_a_purge_command_that_cannot_run_warns_and_the_push_succeeds(
    site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-purge"
    site.configure({"purge_command": [str(missing)]})
    site.build()

    with caplog.at_level(logging.WARNING, logger="feeds.publish"):
        run = site.publish()

    assert run.code == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "feeds.publish"]
    assert warnings == [
        f"{site.url}: purge command {missing} cannot run: No such file or directory"
    ]


class _Hub(http.server.BaseHTTPRequestHandler):
    """A WebSub hub recording each ping with the object its feed had then."""

    site: Site
    pings: list[tuple[str, bytes | None]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        held = {key: stored.body for key, stored in self.site.ours().items()}
        for url in form.get("hub.url", []):
            self.pings.append((url, held.get(PREFIX + url.removeprefix(BASE_URL))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_publish_pings_the_hubs_at_the_public_urls_once_the_bucket_holds_the_feeds(
    site: Site,
) -> None:
    pings: list[tuple[str, bytes | None]] = []
    handler = type("Hub", (_Hub,), {"site": site, "pings": pings})
    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    try:
        site.configure(extra=f'websub:\n  hubs: ["http://127.0.0.1:{hub.server_address[1]}/"]\n')
        site.build()
        assert site.publish().code == 0
    finally:
        hub.shutdown()
        hub.server_close()

    feeds = {
        name
        for name in site.local()
        if name.endswith((".atom.xml", ".rss.xml", ".json")) and "/archive/" not in name
    }
    assert {PREFIX + url.removeprefix(BASE_URL) for url, _ in pings} == feeds
    # Each feed was in the bucket, as it is here, when its hub was told.
    assert all(held == site.local()[PREFIX + url.removeprefix(BASE_URL)] for url, held in pings)
