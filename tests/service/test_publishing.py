"""`Publishing` with an in-memory store: coalescing, backoff that logs once,
hubs told only after a push, and a stop that never waits on a stuck push.
(The daemon end to end against an S3 server: tests/publish/test_daemon_publish.py.)"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from feeds.build.report import BuildReport
from feeds.config import Config, load_config
from feeds.errors import PublishError
from feeds.remote.manifest import EMPTY, Entry, Manifest
from feeds.remote.targets import Target
from feeds.service.metrics import Metrics
from feeds.service.publishing import Publishing
from feeds.service.pushworker import Backoff
from tests.daemon_harness import wait_for

URL = "s3://bucket/site/"
BASE = "https://cdn.example.org/"
FAST = Backoff(first=0.01, max=0.05)


class FakeStore:
    """A bucket in memory; ``gate`` holds every upload, ``down`` fails every request."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.manifest: Manifest | None = None
        self.pushes = 0
        self.gate = threading.Event()
        self.gate.set()
        self.down = False

    def _up(self) -> None:
        if self.down:
            raise PublishError(URL, "the storage service cannot be reached", transient=True)

    def read_manifest(self) -> Manifest | None:
        self._up()
        self.pushes += 1
        return self.manifest

    def write_manifest(self, manifest: Manifest) -> None:
        self._up()
        self.manifest = manifest

    def put(self, name: str, body: bytes, entry: Entry) -> None:
        self._up()
        self.gate.wait(10)
        self.objects[name] = body

    def delete(self, names: Sequence[str]) -> None:
        self._up()
        for name in names:
            self.objects.pop(name, None)

    def adopt(self, wanted: Mapping[str, Entry], body: Callable[[str], bytes | None]) -> Manifest:
        return EMPTY


class FakeHubs:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.local: list[BuildReport] = []
        #: Each feed URL told, with whether the store held its object then.
        self.told: list[tuple[str, bool]] = []

    def ping(self, report: BuildReport) -> None:
        self.local.append(report)

    def notify(self, feed_urls: Iterable[str]) -> None:
        for url in feed_urls:
            self.told.append((url, url.removeprefix(BASE) in self.store.objects))


def _config(tmp_path: Path, publish: bool = True) -> Config:
    text = f'seeds: seeds\noutput: output\nbase_url: "{BASE}"\n'
    if publish:
        text += f'publish:\n  - url: "{URL}"\n'
    (tmp_path / "seeds").mkdir(exist_ok=True)
    (tmp_path / "feeds.yaml").write_text(text)
    return load_config(tmp_path / "feeds.yaml")


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "output"
    folder.mkdir()
    (folder / ".made-by-feeds").write_text("")  # the config accepts it as ours
    (folder / "all.atom.xml").write_text("<feed>one</feed>")
    (folder / "index.html").write_text("<html>index</html>")
    return folder


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def publishing(
    tmp_path: Path, output: Path, store: FakeStore
) -> Iterator[tuple[Publishing, FakeHubs]]:
    config = _config(tmp_path)
    hubs = FakeHubs(store)

    def make_store(target: Target) -> FakeStore:
        return store

    running = Publishing(
        lambda: config, threading.Lock(), Metrics(), hubs, backoff=FAST, make_store=make_store
    )
    yield running, hubs
    store.gate.set()
    running.close(1.0)


def _state(publishing: Publishing) -> dict[str, object]:
    health = publishing.health()[URL]
    assert isinstance(health, dict)
    return health


def test_changes_during_a_push_coalesce_into_one_more_push(
    publishing: tuple[Publishing, FakeHubs], store: FakeStore, output: Path
) -> None:
    running, hubs = publishing
    store.gate.clear()
    running.start()
    wait_for(lambda: _state(running)["state"] == "pushing")
    (output / "all.atom.xml").write_text("<feed>two</feed>")
    for _ in range(5):
        running.changed()
    time.sleep(0.1)
    assert _state(running)["lag_seconds"] > 0  # type: ignore[operator]
    store.gate.set()
    wait_for(lambda: _state(running)["state"] == "current", what="the target current")
    # One more push covered all five changes (the first stored the old
    # version, or stopped at the changed file: a race this test allows).
    assert store.objects["all.atom.xml"] == b"<feed>two</feed>"
    assert store.pushes == 2
    assert _state(running)["lag_seconds"] == 0
    assert set(hubs.told) == {(f"{BASE}all.atom.xml", True)}
    assert hubs.local == []


def test_a_failing_target_is_said_once_and_its_recovery_once(
    publishing: tuple[Publishing, FakeHubs],
    store: FakeStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running, hubs = publishing
    caplog.set_level(logging.DEBUG, "feeds.publish")
    store.down = True
    running.start()
    wait_for(lambda: _state(running)["state"] == "failing")
    wait_for(lambda: caplog.text.count("still failing") >= 5, what="five retries")
    health = _state(running)
    assert health["pending_objects"] == 2
    assert health["last_error"] == "the storage service cannot be reached"
    assert hubs.told == []
    store.down = False
    wait_for(lambda: _state(running)["state"] == "current")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert caplog.text.count("recovered after") == 1
    assert {url for url, _ in hubs.told} == {f"{BASE}all.atom.xml"}


def test_without_targets_the_hubs_are_told_at_the_build(tmp_path: Path, output: Path) -> None:
    config = _config(tmp_path, publish=False)
    hubs = FakeHubs(FakeStore())
    running = Publishing(lambda: config, threading.Lock(), Metrics(), hubs)
    running.start()
    report = BuildReport(written=["all.atom.xml"])
    running.built(report)
    assert hubs.local == [report]
    assert running.health() == {}
    running.close()


def test_with_targets_a_build_is_pushed_not_told(
    publishing: tuple[Publishing, FakeHubs], store: FakeStore
) -> None:
    running, hubs = publishing
    running.start()
    wait_for(lambda: _state(running)["state"] == "current")
    running.built(BuildReport())  # wrote nothing: no push
    running.built(BuildReport(written=["all.atom.xml"]))
    wait_for(lambda: store.pushes == 2)
    assert hubs.local == []


def test_a_stop_abandons_a_stuck_push_within_its_grace(
    publishing: tuple[Publishing, FakeHubs], store: FakeStore
) -> None:
    running, _ = publishing
    store.gate.clear()
    running.start()
    wait_for(lambda: _state(running)["state"] == "pushing")
    started = time.monotonic()
    running.close(0.2)
    assert time.monotonic() - started < 2.0
    store.gate.set()


def test_the_backoff_doubles_to_its_cap_and_waits_longest_on_refusals() -> None:
    backoff = Backoff(first=1.0, max=60.0)
    for failures, base in ((1, 1.0), (2, 2.0), (4, 8.0), (7, 60.0), (100, 60.0)):
        delay = backoff.delay(failures, transient=True)
        assert base / 2 <= delay <= base
    assert backoff.delay(1, transient=False) == 60.0
