"""Which output folders feeds writes and serves.

The output folder is written (files replaced, stale feeds removed) and served.
`output: /etc` served /etc and tried to write /etc/all.atom.xml; `output: /`
served /etc/xml/...; `output: <the seeds folder>` wrote feeds among the seeds.
Such folders are refused with a config error, at start and on SIGHUP (the
running config is kept), and feeds writes and serves only a folder it made:
one holding its marker dotfile, which a build writes. A folder an older
version made is taken over by its next build.

Subprocess checks that a regression would turn into writes use /proc (where
every write fails), never a folder a regression could damage.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from feeds.build.oneshot import build
from feeds.config import Config, load_config
from feeds.errors import ConfigError, OutputError
from feeds.render import index_html, opml
from feeds.serve.server import ServerThread, create_app
from feeds.system.folders import MARKER, SIGNATURE, folder_problems
from tests.conftest import seed_text
from tests.daemon_harness import RunningDaemon, http_get, titles, wait_for

SITE_CONFIG = "seeds: seeds\noutput: output\ndebounce_ms: 50\nrescan_interval: 3600\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A config file beside a seeds folder with one article."""
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.txt").write_text(seed_text(title="First"))
    config = tmp_path / "feeds.yaml"
    config.write_text(SITE_CONFIG)
    return config


def refusal(
    config: Path,
    *,
    seeds: Path | None = None,
    output: Path | None = None,
    cache_dir: Path | None = None,
) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(config, seeds=seeds, output=output, cache_dir=cache_dir)
    message = str(caught.value)
    assert all(line.startswith(f"{config}: ") for line in message.splitlines()), message
    return message


def run_feeds(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- folders that are never an output folder ---------------------------------


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("/", "output: / is the root folder"),
        ("/etc", "output: /etc is a system folder"),
        ("/etc/feeds-output", "output: /etc/feeds-output is inside the system folder /etc"),
        ("/usr/share/feeds", "is inside the system folder /usr"),
        ("/proc/self", "is inside the system folder /proc"),
        ("/dev/shm", "is inside the system folder /dev"),
        ("/boot", "is a system folder"),
        ("/lib", "is a system folder"),
        ("/var", "output: /var is a system folder"),
        ("/var/lib", "output: /var/lib is a system folder"),
        ("/home", "output: /home is a system folder"),
        ("/root", "output: /root is a system folder"),
        ("/tmp", "output: /tmp is a system folder"),
        ("/srv", "output: /srv is a system folder"),
    ],
)
def test_system_folders_are_refused(site: Path, output: str, reason: str) -> None:
    # From the file and from --output alike.
    site.write_text(SITE_CONFIG.replace("output: output", f"output: {output}"))
    assert reason in refusal(site)
    site.write_text(SITE_CONFIG)
    assert reason in refusal(site, output=Path(output))


def test_a_symlink_to_a_system_folder_is_refused_as_what_it_leads_to(
    site: Path, tmp_path: Path
) -> None:
    (tmp_path / "published").symlink_to("/etc")
    message = refusal(site, output=tmp_path / "published")
    assert f"output: {tmp_path / 'published'} (that is /etc) is a system folder" in message


def test_the_home_folder_is_refused(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert f"output: {home} is your home folder" in refusal(site, output=home)
    load_config(site, output=home / "feeds")  # a folder in it is fine


def test_the_seeds_folder_inside_it_or_around_it_is_refused(site: Path, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    assert "is the seeds folder" in refusal(site, output=seeds)
    assert f"is inside the seeds folder {seeds}" in refusal(site, output=seeds / "out")
    assert f"holds the seeds folder {seeds}" in refusal(site, output=tmp_path)


def test_the_parse_cache_folder_is_refused(
    site: Path, tmp_path: Path, private_cache_home: Path
) -> None:
    cache = tmp_path / "cache"
    site.write_text(SITE_CONFIG + f"cache_dir: {cache}\n")
    assert "is the parse cache's folder" in refusal(site, output=cache)
    assert f"is inside the parse cache's folder {cache}" in refusal(site, output=cache / "out")
    assert "inside the output folder, which is served" in refusal(
        site, cache_dir=tmp_path / "output" / "c"
    )
    # The default cache folder counts as well.
    site.write_text(SITE_CONFIG)
    assert "is the parse cache's folder" in refusal(site, output=private_cache_home / "feeds")


def test_cache_dir_is_not_a_system_folder_nor_in_the_seeds(site: Path, tmp_path: Path) -> None:
    assert "cache_dir: / is the root folder" in refusal(site, cache_dir=Path("/"))
    assert "cache_dir: /etc is a system folder" in refusal(site, cache_dir=Path("/etc"))
    seeds = tmp_path / "seeds"
    assert f"is in the seeds folder {seeds}" in refusal(site, cache_dir=seeds)
    assert f"is in the seeds folder {seeds}" in refusal(site, cache_dir=seeds / "cache")


def test_systemd_service_folders_hold_the_output_but_are_not_it(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    assert f"is the service's state folder {state}" in refusal(site, output=state)
    load_config(site, output=state / "output")  # the README's layout
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path / 'other'}:{state / 'sub'}")
    assert "holds the service's state folder" in refusal(site, output=state)


def test_folders_of_a_usual_layout_are_accepted() -> None:
    assert (
        folder_problems(
            Path("/srv/feeds/seeds"),
            Path("/var/lib/feeds/output"),
            Path("/var/cache/feeds"),
            {"STATE_DIRECTORY": "/var/lib/feeds", "CACHE_DIRECTORY": "/var/cache/feeds"},
        )
        == []
    )
    assert (
        folder_problems(Path("/srv/seeds"), Path("/srv/www/feeds"), Path("/var/cache/f"), {}) == []
    )


def test_a_bad_output_folder_stops_a_build_before_anything_is_written(site: Path) -> None:
    done = run_feeds("build", "--config", str(site), "--output", "/proc")
    assert done.returncode == 2
    assert "output: /proc is a system folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_daemon_refuses_to_start_on_a_bad_output_folder(site: Path, tmp_path: Path) -> None:
    for output in ("/proc", str(tmp_path / "seeds")):
        daemon = RunningDaemon(site, "--output", output)
        try:
            assert daemon.process.wait(timeout=30) == 2
        finally:
            daemon.stop()
        assert "output:" in daemon.log
        assert "Traceback" not in daemon.log
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == ["a.txt"]


def test_sighup_keeps_the_running_config_when_the_new_output_is_bad(
    site: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "notes.json").write_text('{"private": true}')
    daemon = RunningDaemon(site)
    try:
        daemon.wait_ready()
        feed_url = daemon.url("all.json")
        for bad in ("seeds", str(foreign), "/proc"):
            site.write_text(SITE_CONFIG.replace("output: output", f"output: {bad}"))
            daemon.signal(signal.SIGHUP)
            daemon.wait_for_log(
                f"reload failed, keeping the running config: .*output: .*{re.escape(bad)}"
            )
            daemon.lines.clear()
        (tmp_path / "seeds" / "b.txt").write_text(seed_text(title="Second", link="https://e.org/b"))
        wait_for(lambda: "Second" in titles(tmp_path / "output" / "all.json"), what="published")
        status, _, _ = http_get(feed_url)
        assert status == 200
    finally:
        assert daemon.stop() == 0
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == ["a.txt", "b.txt"]
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.json"]


# --- only a folder feeds made --------------------------------------------------


def test_a_folder_feeds_did_not_make_is_refused(site: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "taxes.json").write_text('{"private": true}')
    (foreign / "topics").mkdir()
    (foreign / "topics" / "mine.json").write_text("{}")

    message = refusal(site, output=foreign)

    assert f"output: {foreign} holds files feeds did not write (such as 'taxes.json')" in message
    assert f"create the file {foreign / MARKER}" in message
    done = run_feeds("build", "--config", str(site), "--output", str(foreign))
    assert done.returncode == 2, done.stderr
    assert "holds files feeds did not write" in done.stderr
    # Nothing written, nothing swept away.
    assert sorted(p.relative_to(foreign).as_posix() for p in foreign.rglob("*")) == [
        "taxes.json",
        "topics",
        "topics/mine.json",
    ]
    # The operator's word that feeds may use it.
    (foreign / MARKER).write_text("")
    assert run_feeds("build", "--config", str(site), "--output", str(foreign)).returncode == 0
    assert (foreign / "all.atom.xml").is_file()


def test_new_empty_and_dotfile_only_folders_are_taken_and_marked(
    site: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / ".gitkeep").write_text("")
    for output in (tmp_path / "new" / "output", empty, kept):
        build(load_config(site, output=output))
        assert (output / MARKER).is_file(), output
        assert (output / "all.atom.xml").is_file(), output


def test_the_writer_refuses_a_folder_feeds_did_not_make_whatever_the_config(
    tmp_path: Path,
) -> None:
    # A Config made without load_config skips its checks; the writer still refuses.
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text(seed_text())
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "taxes.json").write_text("{}")
    config = Config.model_validate({"seeds": str(seeds), "output": str(foreign)})
    with pytest.raises(OutputError, match="refusing to write into a folder feeds did not make"):
        build(config)
    assert [p.name for p in foreign.iterdir()] == ["taxes.json"]


def test_an_older_versions_output_folder_is_taken_over_by_one_build(
    site: Path, tmp_path: Path
) -> None:
    output = tmp_path / "output"
    assert run_feeds("build", "--config", str(site)).returncode == 0
    # As an older version left it: no marker, perhaps a stylesheet added by hand.
    (output / MARKER).unlink()
    (output / "style.css").write_text("body {}\n")
    load_config(site)  # accepted

    # Nothing changed: the build that would do nothing still marks the folder.
    assert run_feeds("build", "--config", str(site)).returncode == 0

    assert (output / MARKER).is_file()
    server = ServerThread(create_app(output), "127.0.0.1", 0)
    server.start()
    try:
        status, _, _ = http_get(f"http://127.0.0.1:{server.port}/all.atom.xml")
        assert status == 200
        (output / MARKER).unlink()
        status, _, _ = http_get(f"http://127.0.0.1:{server.port}/all.atom.xml")
        assert status == 404
    finally:
        server.stop()


def test_the_daemon_serves_an_older_versions_folder_after_its_first_build(
    site: Path, tmp_path: Path
) -> None:
    output = tmp_path / "output"
    assert run_feeds("build", "--config", str(site)).returncode == 0
    (output / MARKER).unlink()
    daemon = RunningDaemon(site)
    try:
        daemon.wait_ready()
        status, _, body = http_get(daemon.url("all.json"))
        assert status == 200
        assert b"First" in body
        assert (output / MARKER).is_file()
    finally:
        assert daemon.stop() == 0


def test_the_signature_is_what_every_build_writes() -> None:
    assert set(SIGNATURE) == {index_html.FILENAME, opml.FILENAME, "all.atom.xml"}


def test_a_folder_is_checked_as_resolved(tmp_path: Path, site: Path) -> None:
    # A link to the seeds folder is the seeds folder.
    (tmp_path / "link").symlink_to(tmp_path / "seeds", target_is_directory=True)
    message = refusal(site, output=tmp_path / "link")
    assert f"(that is {os.path.realpath(tmp_path / 'seeds')}) is the seeds folder" in message
