"""A publish target: a bucket, a key prefix, and how its objects are served."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from feeds.config import Config, PublishTargetConfig

# S3's rules for new buckets (lower case, digits, dots, hyphens; 3 to 63),
# which R2, GCS and MinIO share.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# A key prefix of plain path segments: what a CDN maps to a URL path as is.
_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@-]+$")

#: The kinds of object, each with its own ``Cache-Control``.
KINDS = ("feeds", "archives", "pages")


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` as (bucket, prefix); the prefix is empty
    or ends with a slash. ValueError says what is wrong, in our words."""
    if not url.startswith("s3://"):
        raise ValueError("must be an s3:// URL such as s3://my-bucket/feeds/")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(
            "names no valid bucket (3 to 63 lower-case letters, digits, dots and hyphens)"
        )
    segments = [segment for segment in prefix.split("/") if segment]
    if any(not _SEGMENT.match(s) or s in (".", "..") for s in segments):
        raise ValueError("has a key prefix that is no plain path (letters, digits, . _ - ~)")
    return bucket, "".join(f"{segment}/" for segment in segments)


@dataclass(frozen=True, slots=True)
class Target:
    """One publish target, as the config gives it."""

    url: str
    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str | None
    profile: str | None
    #: Where readers fetch this target's objects; ends with a slash.
    public_url: str
    #: ``Cache-Control`` by kind (`KINDS`).
    cache_control: dict[str, str]
    purge_command: tuple[str, ...]

    def key(self, name: str) -> str:
        """The object key of output file ``name`` (a relative POSIX path)."""
        return self.prefix + name

    def public_path(self, name: str) -> str:
        """The URL path readers fetch ``name`` at, what a CDN purges."""
        return urlsplit(self.public_url).path + name

    def public(self, name: str) -> str:
        return self.public_url + name


def targets_of(config: Config) -> tuple[Target, ...]:
    return tuple(target_of(entry, config.base_url) for entry in config.publish)


def target_of(entry: PublishTargetConfig, base_url: str) -> Target:
    bucket, prefix = parse_s3_url(entry.url)
    return Target(
        url=entry.url,
        bucket=bucket,
        prefix=prefix,
        endpoint_url=entry.endpoint_url,
        region=entry.region,
        profile=entry.profile,
        public_url=entry.public_url or base_url,
        cache_control=entry.cache_control.model_dump(),
        purge_command=entry.purge_command,
    )
