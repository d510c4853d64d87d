"""A small site for the one-shot publish specs: a seeds folder, a config whose
one publish target is a bucket on the test S3 server, and the real CLI
(`feeds.cli.main`) run in this process to build and push it."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from feeds.cli import main
from feeds.remote.manifest import Entry
from tests.conftest import SeedWriter
from tests.publish.bucket import StoredObject, snapshot
from tests.publish.s3server import S3Server

BASE_URL = "https://cdn.example.org/feeds/"
PREFIX = "site/"
MANIFEST = PREFIX + ".feeds-manifest.json"
CACHE = {"feeds": "public, max-age=11", "archives": "public, max-age=22", "pages": "no-cache"}


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@dataclass
class Site:
    """One test's seeds, output folder, config and bucket."""

    server: S3Server
    bucket: str
    seeds: Path
    output: Path
    config: Path
    write_seed: SeedWriter
    capsys: pytest.CaptureFixture[str]

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{PREFIX}"

    def configure(self, target: Mapping[str, object] | None = None, extra: str = "") -> None:
        """Writes the config: ``target`` merged into the standard one
        (``None`` values drop a key); ``extra`` is more top-level YAML."""
        merged = {
            "url": self.url,
            "endpoint_url": self.server.endpoint_url,
            "region": "us-east-1",
            "cache_control": CACHE,
            **(target or {}),
        }
        entry = {key: value for key, value in merged.items() if value is not None}
        self.config.write_text(
            f"seeds: {self.seeds}\noutput: {self.output}\nbase_url: {BASE_URL}\n"
            f"max_items: 1\npublish: [{json.dumps(entry)}]\n{textwrap.dedent(extra)}",
            encoding="utf-8",
        )

    def article(self, name: str, title: str, topic: str, month: int = 5) -> None:
        self.write_seed(
            name,
            title=title,
            link=f"https://example.org/{name}",
            published=f"2024-{month:02d}-01T10:00:00Z",
            topics=(topic,),
        )

    def cli(self, *argv: str, verbose: bool = False) -> Run:
        self.capsys.readouterr()
        code = main(
            [*(["-v"] if verbose else []), argv[0], "--config", str(self.config), *argv[1:]]
        )
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def build(self) -> Run:
        run = self.cli("build", "-q")
        assert run.code == 0, run.err
        return run

    def publish(self, *options: str) -> Run:
        return self.cli("publish", *options)

    def objects(self) -> dict[str, StoredObject]:
        return snapshot(self.server.client(), self.bucket)

    def ours(self) -> dict[str, StoredObject]:
        """The objects under the prefix but the manifest."""
        return {
            key: stored
            for key, stored in snapshot(self.server.client(), self.bucket, PREFIX).items()
            if key != MANIFEST
        }

    def local(self) -> dict[str, bytes]:
        """The output folder's public files, by the key they are stored at."""
        return {
            PREFIX + path.relative_to(self.output).as_posix(): path.read_bytes()
            for path in sorted(self.output.rglob("*"))
            if path.is_file() and not path.name.startswith(".")
        }

    def manifest(self) -> dict[str, object]:
        """The manifest object's ``objects``, as stored."""
        got = self.server.client().get_object(Bucket=self.bucket, Key=MANIFEST)
        objects: dict[str, object] = json.loads(got["Body"].read())["objects"]
        return objects

    def put(self, key: str, body: bytes) -> None:
        self.server.client().put_object(Bucket=self.bucket, Key=key, Body=body)


def uploaded(run: Run) -> int:
    """The count of uploads the summary line reports."""
    summary = [line for line in run.out.splitlines() if " uploaded, " in line]
    assert len(summary) == 1, run.out
    return int(summary[0].split(": ", 1)[1].split(" ", 1)[0])


@pytest.fixture
def puts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names every push uploads from now on, in order."""
    from feeds.remote.store import S3Store

    names: list[str] = []
    original = S3Store.put

    def put(self: S3Store, name: str, body: bytes, entry: Entry) -> None:
        original(self, name, body, entry)
        names.append(name)

    monkeypatch.setattr(S3Store, "put", put)
    return names


@pytest.fixture
def site(
    s3_server: S3Server,
    bucket: str,
    seeds: Path,
    output: Path,
    tmp_path: Path,
    write_seed: SeedWriter,
    capsys: pytest.CaptureFixture[str],
) -> Site:
    """Two topics (AI, Go) of two articles each, April's archived (one item
    per feed document), configured, not yet built."""
    made = Site(s3_server, bucket, seeds, output, tmp_path / "feeds.yaml", write_seed, capsys)
    made.article("a1.md", "Alpha one", "AI", month=4)
    made.article("a2.md", "Alpha two", "AI", month=5)
    made.article("g1.md", "Go one", "Go", month=4)
    made.article("g2.md", "Go two", "Go", month=5)
    made.configure()
    return made
