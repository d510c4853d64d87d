"""The S3 API, through boto3: the only module that imports it.

boto3 is imported when a target is first used, so a build that publishes
nothing never pays for it. Errors become `PublishError` in our words, chosen
by the error's code (botocore's documented ``response["Error"]["Code"]``),
never by its message, and never quoting a credential.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

from feeds import __version__
from feeds.errors import PublishError
from feeds.formats import is_public
from feeds.remote.manifest import (
    MANIFEST_NAME,
    MAX_BYTES,
    PENDING,
    Entry,
    Manifest,
    parse_manifest,
)
from feeds.remote.targets import Target

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: The object metadata key of an object's SHA-256 (sent as ``x-amz-meta-feeds-sha256``).
HASH_METADATA = "feeds-sha256"
#: S3's most keys in one DeleteObjects request.
_DELETE_BATCH = 1000

# Codes that say the credentials are missing, wrong or not allowed: retrying
# cannot help, the operator must.
_REFUSED = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AllAccessDisabled",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthorizationHeaderMalformed",
        "403",
        "401",
    }
)
_NO_BUCKET = frozenset({"NoSuchBucket", "PermanentRedirect", "301", "404"})
# S3 interfaces without DeleteObjects (Google Cloud Storage's XML API).
_NO_MULTI_DELETE_CODES = ("NotImplemented", "MethodNotAllowed", "501", "405")


class Store(Protocol):
    """What a push needs of a target; `S3Store` in use, simpler ones in tests."""

    def read_manifest(self) -> Manifest | None: ...
    def write_manifest(self, manifest: Manifest) -> None: ...
    def put(self, name: str, body: bytes, entry: Entry) -> None: ...
    def delete(self, names: Sequence[str]) -> None: ...
    def adopt(self, wanted: Mapping[str, Entry], body: Callable[[str], bytes | None]) -> Manifest:
        """The manifest a target without one is taken to have: entries for
        the objects already held exactly as ``wanted`` (a first push to a
        bucket that holds them uploads none of them again), and pending ones
        for the other public objects feeds' metadata marks as its own (so
        a lost manifest does not leave them behind for ever)."""
        ...


class S3Store:
    """One target's bucket and prefix through the S3 API."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._client = _client(target)
        self._manifest: tuple[str, Manifest] | None = None  # (ETag, manifest) last seen

    def read_manifest(self) -> Manifest | None:
        key = self.target.key(MANIFEST_NAME)
        known = self._manifest
        try:
            with self._errors("reading its manifest", _MANIFEST_ANSWERS):
                if known is None:
                    response = self._client.get_object(Bucket=self.target.bucket, Key=key)
                else:
                    response = self._client.get_object(
                        Bucket=self.target.bucket, Key=key, IfNoneMatch=known[0]
                    )
                body = response["Body"].read(MAX_BYTES + 1)
        except _NotModified:
            return known[1] if known else None
        except _Missing:
            self._manifest = None
            return None
        manifest = parse_manifest(body)
        self._manifest = (response["ETag"], manifest) if manifest is not None else None
        return manifest

    def write_manifest(self, manifest: Manifest) -> None:
        with self._errors("writing its manifest"):
            response = self._client.put_object(
                Bucket=self.target.bucket,
                Key=self.target.key(MANIFEST_NAME),
                Body=manifest.to_bytes(),
                ContentType="application/json",
                CacheControl="no-store",
            )
        self._manifest = (response["ETag"], manifest)

    def put(self, name: str, body: bytes, entry: Entry) -> None:
        with self._errors("uploading"):
            self._client.put_object(
                Bucket=self.target.bucket,
                Key=self.target.key(name),
                Body=body,
                ContentType=entry.content_type,
                CacheControl=entry.cache_control,
                Metadata={HASH_METADATA: entry.sha256 or ""},
            )

    def delete(self, names: Sequence[str]) -> None:
        for start in range(0, len(names), _DELETE_BATCH):
            batch = names[start : start + _DELETE_BATCH]
            try:
                with self._errors("deleting stale objects", _NO_MULTI_DELETE):
                    self._delete_many(batch)
            except _Unsupported:
                for name in batch:
                    with self._errors("deleting stale objects"):
                        self._client.delete_object(
                            Bucket=self.target.bucket, Key=self.target.key(name)
                        )

    def adopt(self, wanted: Mapping[str, Entry], body: Callable[[str], bytes | None]) -> Manifest:
        adopted: dict[str, Entry] = {}
        for name in sorted(self._listed()):
            if not is_public(name):  # the manifest itself, foreign dotfiles
                continue
            with self._errors("reading an object's metadata"):
                head = self._client.head_object(
                    Bucket=self.target.bucket, Key=self.target.key(name)
                )
            if name in wanted and _holds(head, wanted[name], partial(body, name)):
                adopted[name] = wanted[name]
            elif HASH_METADATA in head.get("Metadata", {}):
                adopted[name] = PENDING
        return Manifest(adopted)

    def _listed(self) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        with self._errors("listing its objects"):
            for page in paginator.paginate(Bucket=self.target.bucket, Prefix=self.target.prefix):
                for item in page.get("Contents", ()):
                    yield item["Key"][len(self.target.prefix) :]

    def _delete_many(self, names: Sequence[str]) -> None:
        response = self._client.delete_objects(
            Bucket=self.target.bucket,
            Delete={"Objects": [{"Key": self.target.key(n)} for n in names], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            raise _translate(errors[0].get("Code", ""), self.target, "deleting stale objects")

    def _errors(
        self, action: str, answers: Mapping[str, type[Exception]] | None = None
    ) -> _Translated:
        return _Translated(self.target, action, answers)


def _holds(head: Mapping[str, Any], entry: Entry, body: Callable[[], bytes | None]) -> bool:
    """Whether an object (its HeadObject answer) holds ``entry``: its headers,
    and its bytes by our hash in its metadata or, written by another tool, by
    an ETag that is the MD5 of a plain upload."""
    if head.get("ContentType") != entry.content_type:
        return False
    if head.get("CacheControl") != entry.cache_control:
        return False
    if head.get("Metadata", {}).get(HASH_METADATA) == entry.sha256:
        return True
    etag = str(head.get("ETag", "")).strip('"')
    if len(etag) != 32 or "-" in etag:
        return False
    local = body()
    return local is not None and hashlib.md5(local, usedforsecurity=False).hexdigest() == etag


class _Missing(Exception):
    pass


class _NotModified(Exception):
    pass


class _Unsupported(Exception):
    pass


#: Answers a manifest read handles itself: none yet, or none newer.
_MANIFEST_ANSWERS: Mapping[str, type[Exception]] = {
    **dict.fromkeys(("NoSuchKey", "404"), _Missing),
    **dict.fromkeys(("304", "NotModified"), _NotModified),
}
#: Answers of a store without multi-object delete: then one object at a time.
_NO_MULTI_DELETE: Mapping[str, type[Exception]] = dict.fromkeys(
    _NO_MULTI_DELETE_CODES, _Unsupported
)


class _Translated:
    """Turns botocore's exceptions into ours for the ``with`` block's work;
    an error code in ``answers`` raises its exception, for the caller to handle."""

    def __init__(
        self, target: Target, action: str, answers: Mapping[str, type[Exception]] | None = None
    ) -> None:
        self.target, self.action, self.answers = target, action, answers or {}

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> Literal[False]:
        if error is None:
            return False
        import botocore.exceptions as be

        if isinstance(error, be.ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in self.answers:
                raise self.answers[code] from None
            raise _translate(code, self.target, self.action) from None
        if isinstance(error, be.NoCredentialsError | be.PartialCredentialsError):
            raise _no_credentials(self.target) from None
        if isinstance(error, be.ProfileNotFound):
            raise PublishError(
                self.target.url,
                f"the AWS profile {self.target.profile} is not configured",
                transient=False,
            ) from None
        if isinstance(error, be.BotoCoreError):
            # Connection refused or reset, timeouts, an unreadable answer.
            raise PublishError(
                self.target.url,
                f"{self.action}: the storage service cannot be reached",
                transient=True,
            ) from None
        return False


def _translate(code: str, target: Target, action: str) -> PublishError:
    if code in _REFUSED:
        return PublishError(
            target.url,
            f"{action}: the storage service refused the credentials ({_code(code)}); "
            "check the AWS credentials this service runs with",
            transient=False,
        )
    if code in _NO_BUCKET:
        return PublishError(
            target.url, f"{action}: the bucket {target.bucket} does not exist here", transient=False
        )
    return PublishError(
        target.url, f"{action}: the storage service answered {_code(code)}", transient=True
    )


def _code(code: str) -> str:
    # An error code from the service: shown only when it looks like one.
    return code if code.isascii() and code.isalnum() and len(code) <= 64 else "an error"


def _no_credentials(target: Target) -> PublishError:
    return PublishError(
        target.url,
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "a profile in the shared AWS config, or run with a container or instance role",
        transient=False,
    )


#: Loggers whose DEBUG records show each request's signed headers, and with
#: them the access key id: kept at INFO, even under ``--verbose``.
_SIGNING_LOGGERS = ("botocore", "boto3", "s3transfer")


def _client(target: Target) -> S3Client:
    import boto3
    import botocore.config
    import botocore.exceptions

    for name in _SIGNING_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
    try:
        session = boto3.session.Session(profile_name=target.profile, region_name=target.region)
    except botocore.exceptions.ProfileNotFound:
        raise PublishError(
            target.url, f"the AWS profile {target.profile} is not configured", transient=False
        ) from None
    if session.get_credentials() is None:
        raise _no_credentials(target)
    config = botocore.config.Config(
        # Newer boto3 sends CRC checksums that some S3 interfaces refuse;
        # only where the operation requires one.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=16,
        user_agent_extra=f"feeds/{__version__}",
    )
    return session.client("s3", endpoint_url=target.endpoint_url, config=config)
