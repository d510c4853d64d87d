"""Specs of pushes that fail part way: the S3 server stopped mid-push, the
publishing process killed mid-push, the output rewritten under a push.
Whatever stopped it, the bucket a reader sees between that moment and the
next push links only to objects that exist, and the next push converges
without uploading again what the manifest records as stored."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from feeds.errors import PublishError
from feeds.remote import pusher
from feeds.remote.local import LocalObject, OutputFolder
from feeds.remote.manifest import MANIFEST_NAME, Entry, Manifest, parse_manifest
from feeds.remote.oneshot import push_with_retries
from feeds.remote.pusher import OutputChanged, push
from feeds.remote.store import S3Store
from feeds.remote.targets import Target
from tests.publish.bucket import StoredObject, bodies, roots, snapshot, unreachable_breaks
from tests.publish.s3server import S3Server
from tests.publish.sites import (
    BASE,
    CACHE_CONTROL,
    PREFIX,
    Article,
    MemoryStore,
    build_site,
    many_articles,
    output_bodies,
    site_config,
    target,
    wanted_entries,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANIFEST_KEY = PREFIX + MANIFEST_NAME
INDEX_KEY, OPML_KEY = PREFIX + "index.html", PREFIX + "feeds.opml"


def breaks(objects: dict[str, StoredObject], before: Iterable[str]) -> list[tuple[str, str]]:
    """What a reader entering at the entry documents or at any object there
    before the push meets; a first push may leave the index page without
    the OPML list it links to (they link to each other: no order helps)."""
    before = set(before)
    found = unreachable_breaks(
        bodies(objects), base_url=BASE, prefix=PREFIX, roots=roots(before, prefix=PREFIX)
    )
    return [b for b in found if not (b == (INDEX_KEY, OPML_KEY) and OPML_KEY not in before)]


def manifest_of(objects: dict[str, StoredObject]) -> Manifest:
    manifest = parse_manifest(objects[MANIFEST_KEY].body)
    assert manifest is not None
    return manifest


def assert_converged(client: S3Client, bucket: str, output: Path, where: Target) -> None:
    """The bucket holds the output exactly (bytes, media types, caching),
    and a manifest that records every object as stored."""
    objects = snapshot(client, bucket, PREFIX)
    wanted = wanted_entries(output, where)
    assert manifest_of(objects).entries == wanted
    del objects[MANIFEST_KEY]
    assert bodies(objects) == output_bodies(output)
    for key, stored in objects.items():
        entry = wanted[key.removeprefix(PREFIX)]
        assert (stored.content_type, stored.cache_control) == (
            entry.content_type,
            entry.cache_control,
        )


def not_recorded(manifest: Manifest, wanted: dict[str, Entry]) -> set[str]:
    """The objects a push must upload given ``manifest``: those it does not
    record as stored with the wanted bytes and headers."""
    return {name for name, entry in wanted.items() if manifest.entries.get(name) != entry}


class StoppingStore(S3Store):
    """The real store, which stops the server once ``after`` uploads are in."""

    def __init__(self, where: Target, server: S3Server, after: int) -> None:
        super().__init__(where)
        self.server, self.after = server, after
        self.stored: list[str] = []
        self._lock = threading.Lock()

    def put(self, name: str, body: bytes, entry: Entry) -> None:
        super().put(name, body, entry)
        with self._lock:
            self.stored.append(name)
            if len(self.stored) == self.after:
                self.server.stop()


def big_site(folder: Path) -> tuple[Path, dict[int, Article]]:
    """A few hundred objects: 60 articles over a year, six topics, archives."""
    config = site_config(folder, max_items=3)
    articles = many_articles(60)
    build_site(config, articles)
    return config.output, articles


def edit(articles: dict[int, Article]) -> None:
    """A save that adds a month, retitles, and drops the topic Go."""
    for key in range(60, 66):
        articles[key] = Article(f"Late {key}", 12, ("AI", "Web"))
    for key in (3, 17):
        articles[key] = Article(f"Revised {key}", articles[key].month, articles[key].topics)
    for key, article in list(articles.items()):
        articles[key] = Article(
            article.title, article.month, tuple(t for t in article.topics if t != "Go") or ("AI",)
        )


def interrupted_push(
    s3_server: S3Server, bucket: str, output: Path, fraction: float
) -> tuple[set[str], set[str]]:
    """A push stopped by the server going away after ``fraction`` of its
    uploads; then the server back. The keys before it, and the uploads
    the push reported stored."""
    client = s3_server.client()
    where = target(bucket, s3_server.endpoint_url)
    before = set(snapshot(client, bucket, PREFIX))
    planned = len(not_recorded(_manifest_or_empty(client, bucket), wanted_entries(output, where)))
    store = StoppingStore(where, s3_server, after=max(1, int(planned * fraction)))
    with pytest.raises(PublishError) as failed:
        push(where, OutputFolder(output), store)
    assert failed.value.transient
    s3_server.start()
    return before, set(store.stored)


def _manifest_or_empty(client: S3Client, bucket: str) -> Manifest:
    objects = snapshot(client, bucket, PREFIX + ".")
    return manifest_of(objects) if MANIFEST_KEY in objects else Manifest({})


def check_then_converge(s3_server: S3Server, bucket: str, output: Path, before: set[str]) -> None:
    client = s3_server.client()
    where = target(bucket, s3_server.endpoint_url)
    objects = snapshot(client, bucket, PREFIX)
    assert breaks(objects, before) == []
    owed = not_recorded(manifest_of(objects), wanted_entries(output, where))

    report = push(where, OutputFolder(output), S3Store(where))

    assert set(report.changed) - set(report.changed[report.uploaded :]) == owed
    assert report.uploaded == len(owed)
    assert_converged(client, bucket, output, where)


@pytest.mark.parametrize("fraction", [0.05, 0.97])
def test_a_first_push_cut_by_the_server_stopping_is_consistent_then_converges(
    s3_server: S3Server, bucket: str, tmp_path: Path, fraction: float
) -> None:
    output, _ = big_site(tmp_path)
    total = len(output_bodies(output))
    assert total > 200

    before, stored = interrupted_push(s3_server, bucket, output, fraction)

    assert 0 < len(stored) < total
    check_then_converge(s3_server, bucket, output, before)


@pytest.mark.parametrize("fraction", [0.5])
def test_an_update_cut_by_the_server_stopping_is_consistent_then_converges(
    s3_server: S3Server, bucket: str, tmp_path: Path, fraction: float
) -> None:
    output, articles = big_site(tmp_path)
    where = target(bucket, s3_server.endpoint_url)
    push(where, OutputFolder(output), S3Store(where))
    edit(articles)
    build_site(site_config(tmp_path, max_items=3), articles)

    before, stored = interrupted_push(s3_server, bucket, output, fraction)

    assert stored
    check_then_converge(s3_server, bucket, output, before)


class RebuiltMidPush(OutputFolder):
    """An output folder rebuilt (as the daemon would, after a save) right
    after the first scan of a push: between its plan and its uploads."""

    def __init__(self, root: Path, rebuild: Callable[[], None]) -> None:
        super().__init__(root)
        self.rebuild = rebuild
        self.scans = 0

    def scan(self) -> dict[str, LocalObject]:
        found = super().scan()
        self.scans += 1
        if self.scans == 1:
            self.rebuild()
        return found


def test_an_output_rewritten_under_a_push_stops_it_consistent_then_it_converges(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    output, articles = big_site(tmp_path)
    client = s3_server.client()
    where = target(bucket, s3_server.endpoint_url)
    push(where, OutputFolder(output), S3Store(where))
    before = set(snapshot(client, bucket, PREFIX))
    config = site_config(tmp_path, max_items=3)
    edit(articles)
    build_site(config, articles)
    retitled = {**articles, 5: Article("Retitled meanwhile", articles[5].month, articles[5].topics)}
    folder = RebuiltMidPush(output, lambda: build_site(config, retitled))

    with pytest.raises(OutputChanged):
        push(where, folder, S3Store(where))

    objects = snapshot(client, bucket, PREFIX)
    assert breaks(objects, before) == []
    # Nothing the plan did not order went up: what is stored is from before
    # the push or from the output the plan saw, and never the rewritten page.
    assert b"Retitled meanwhile" not in b"".join(bodies(objects).values())
    report = push_with_retries(where, folder, sleep=lambda _: None)
    assert report.uploaded > 0
    assert_converged(client, bucket, output, where)


def publish_config(folder: Path, s3_server: S3Server, bucket: str) -> Path:
    """The config file of ``folder``'s site, publishing to ``bucket``."""
    site_config(
        folder,
        max_items=3,
        publish=f"""\
        seeds: {folder / "seeds"}
        output: {folder / "output"}
        publish:
          - url: s3://{bucket}/{PREFIX}
            endpoint_url: {s3_server.endpoint_url}
            region: us-east-1
            cache_control:
              feeds: "{CACHE_CONTROL["feeds"]}"
              archives: "{CACHE_CONTROL["archives"]}"
              pages: "{CACHE_CONTROL["pages"]}"
        """,
    )
    return folder / "feeds.yaml"


#: `feeds publish`, saving its manifest every 50 ms (as a long push on any
#: machine would every `CHECKPOINT`, once it sent `CHECKPOINT_WEIGHT` times
#: the manifest): the kill then lands mid-push, after a checkpoint, however
#: fast the machine runs this small push.
_FREQUENT_CHECKPOINTS = (
    "import sys; import feeds.remote.pusher as pusher; pusher.CHECKPOINT = 0.05; "
    "pusher.CHECKPOINT_WEIGHT = 0; "
    "from feeds.cli import main; sys.exit(main(sys.argv[1:]))"
)


def feeds_publish(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _FREQUENT_CHECKPOINTS, "publish", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def recorded(client: S3Client, bucket: str) -> int:
    """How many objects the bucket's manifest records as stored."""
    found = _manifest_or_empty(client, bucket)
    return sum(entry.sha256 is not None for entry in found.entries.values())


def kill_mid_push(process: subprocess.Popen[str], client: S3Client, bucket: str) -> None:
    """Kills ``process`` with SIGKILL as soon as the bucket's manifest
    records some objects stored (a checkpoint): mid-push, in a push of
    several seconds."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if recorded(client, bucket) > 0:
            process.kill()
            process.communicate()
            return
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"the push ended before it could be killed: {process.communicate()}")


def test_feeds_publish_killed_mid_push_leaves_it_consistent_and_a_rerun_converges(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    output, _ = big_site(tmp_path)
    total = len(output_bodies(output))
    config = publish_config(tmp_path, s3_server, bucket)
    client = s3_server.client()

    kill_mid_push(feeds_publish(config), client, bucket)

    objects = snapshot(client, bucket, PREFIX)
    assert len(objects) < total
    assert breaks(objects, before=()) == []
    where = target(bucket, s3_server.endpoint_url)
    owed = not_recorded(manifest_of(objects), wanted_entries(output, where))
    rerun = subprocess.run(
        [sys.executable, "-m", "feeds", "publish", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    uploaded = re.search(r": (\d+) uploaded, (\d+) unchanged", rerun.stdout)
    assert uploaded is not None, rerun.stdout
    # What the manifest recorded as stored before the kill is not sent again.
    assert int(uploaded[1]) == len(owed) < total
    assert_converged(client, bucket, output, where)


def test_a_long_batch_saves_the_manifest_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a kill -9 at the 150th upload would leave: the manifest then.
    monkeypatch.setattr(pusher, "CHECKPOINT", 0.0)
    monkeypatch.setattr(pusher, "CHECKPOINT_WEIGHT", 0)
    output, _ = big_site(tmp_path)
    at_kill: list[Manifest] = []

    def put(_: str) -> None:
        at_kill.append(store.manifest or Manifest({}))
        time.sleep(0.002)  # as slow as a fast store: the pusher keeps up

    store = MemoryStore(on_put=put)

    push(target(), OutputFolder(output), store)

    # Still in the first batch (the new archives), which is longer.
    manifest = at_kill[150]
    assert manifest.entries["index.html"].sha256 is None
    assert any(entry.sha256 is not None for entry in manifest.entries.values())
