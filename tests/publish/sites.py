"""What the push fault and ordering tests share: seed folders with archives
and topics, real builds of them, publish targets, and a bucket in memory.

`MemoryStore` is the `Store` protocol over a dict: it lets a test apply a
plan one object at a time and look at the bucket between any two steps,
with no S3 server."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from feeds.build.oneshot import build
from feeds.config import Config, load_config
from feeds.remote.local import OutputFolder
from feeds.remote.manifest import Entry, Manifest
from feeds.remote.plan import entry_for
from feeds.remote.targets import Target
from tests.conftest import seed_text

BASE = "https://cdn.example.org/feeds/"
PREFIX = "site/"
#: After every article's date: the builds see them all published.
NOW = datetime(2025, 1, 1, tzinfo=UTC)
CACHE_CONTROL = {
    "feeds": "public, max-age=60",
    "archives": "public, max-age=86400",
    "pages": "public, max-age=300",
}


@dataclass(frozen=True)
class Article:
    title: str
    #: 1 to 12: which month of 2024 it is published in.
    month: int
    topics: tuple[str, ...]


def write_seeds(seeds: Path, articles: Mapping[int, Article]) -> None:
    """The seeds folder holding exactly ``articles``, one file each."""
    seeds.mkdir(parents=True, exist_ok=True)
    wanted = {f"a{key}.md" for key in articles}
    for path in seeds.glob("*.md"):
        if path.name not in wanted:
            path.unlink()
    for key, article in articles.items():
        text = seed_text(
            title=article.title,
            link=f"https://example.org/{key}",
            # One article a day, so no two share a date.
            published=f"2024-{article.month:02d}-{1 + key % 28:02d}T{key % 24:02d}:00:00Z",
            topics=article.topics,
        )
        path = seeds / f"a{key}.md"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def site_config(folder: Path, *, max_items: int, publish: str = "") -> Config:
    """A config for ``folder``/seeds and ``folder``/output; ``publish`` is YAML."""
    path = folder / "feeds.yaml"
    path.write_text(
        f"base_url: {BASE}\nmax_items: {max_items}\n" + textwrap.dedent(publish), encoding="utf-8"
    )
    return load_config(path, seeds=folder / "seeds", output=folder / "output")


def build_site(config: Config, articles: Mapping[int, Article]) -> None:
    """The output folder as a real build makes it from ``articles``."""
    write_seeds(config.seeds, articles)
    report = build(config, now=NOW, use_cache=False)
    assert report.exit_code == 0


def many_articles(
    count: int, topics: Sequence[str] = ("AI", "Web", "Rust", "Go", "Data", "Ops")
) -> dict[int, Article]:
    """``count`` articles over the months of 2024, two topics each."""
    return {
        key: Article(
            f"Article {key}",
            1 + key % 12,
            # Each topic in most months: its feed has archives too.
            (topics[key // 12 % len(topics)], topics[(key // 12 + 2) % len(topics)]),
        )
        for key in range(count)
    }


def target(bucket: str = "feeds-test", endpoint_url: str | None = None) -> Target:
    return Target(
        url=f"s3://{bucket}/{PREFIX}",
        bucket=bucket,
        prefix=PREFIX,
        endpoint_url=endpoint_url,
        region="us-east-1",
        profile=None,
        public_url=BASE,
        cache_control=dict(CACHE_CONTROL),
        purge_command=(),
    )


def output_bodies(output: Path, prefix: str = PREFIX) -> dict[str, bytes]:
    """The public files of an output folder, by the key they are pushed to."""
    folder = OutputFolder(output)
    found = {}
    for name in folder.scan():
        body = folder.read(name)
        assert body is not None
        found[prefix + name] = body
    return found


def wanted_entries(output: Path, where: Target) -> dict[str, Entry]:
    """The manifest entries a converged push leaves for ``output``."""
    return {name: entry_for(obj, where) for name, obj in OutputFolder(output).scan().items()}


@dataclass(frozen=True)
class Stored:
    body: bytes
    entry: Entry


class MemoryStore:
    """A bucket in memory, under `PREFIX`: keys to what a reader would get."""

    def __init__(self, on_put: Callable[[str], None] | None = None) -> None:
        self.objects: dict[str, Stored] = {}
        self.manifest: Manifest | None = None
        self.puts: list[str] = []
        self.manifest_writes = 0
        #: The names of each delete request, in order.
        self.deletions: list[list[str]] = []
        self._on_put = on_put

    def read_manifest(self) -> Manifest | None:
        return self.manifest

    def write_manifest(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.manifest_writes += 1

    def put(self, name: str, body: bytes, entry: Entry) -> None:
        if self._on_put is not None:
            self._on_put(name)
        self.objects[PREFIX + name] = Stored(body, entry)
        self.puts.append(name)

    def delete(self, names: Sequence[str]) -> None:
        self.deletions.append(list(names))
        for name in names:
            self.objects.pop(PREFIX + name, None)

    def adopt(self, wanted: Mapping[str, Entry], body: Callable[[str], bytes | None]) -> Manifest:
        return Manifest(
            {
                name: entry
                for name, entry in wanted.items()
                if (held := self.objects.get(PREFIX + name)) is not None
                and held.entry == entry
                and held.body == body(name)
            }
        )

    def bodies(self) -> dict[str, bytes]:
        return {key: stored.body for key, stored in self.objects.items()}
