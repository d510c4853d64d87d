"""Fixtures of the publish tests: a real S3 API server on loopback (moto's),
a fresh bucket per test, moto's IAM checks on demand, and an AWS
configuration that cannot reach anything but that server."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.publish.s3server import TEST_CREDENTIALS, Credentials, S3Server, free_port


@pytest.fixture(autouse=True)
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Credentials:
    """Only made-up keys, in the environment, and no other source botocore
    could find: no profile, no shared files, no container or instance role
    (so it never probes 169.254.169.254), no endpoint or retry settings from
    the developer's shell. Returns the keys."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # A proxy from the shell must not see (or swallow) loopback requests.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    return TEST_CREDENTIALS


@pytest.fixture(scope="package")
def moto_s3_session() -> Iterator[S3Server]:
    """One server for these tests: starting is cheap, but a stop takes half a
    second, so they share it (each in its own bucket). Stopped after them:
    its thread would forbid the forks that later tests make."""
    # werkzeug logs a line per request at INFO; keep its warnings and errors.
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    server = S3Server(free_port())
    server.start()
    yield server
    server.close_clients()
    server.stop()
    werkzeug.setLevel(level)


@pytest.fixture
def s3_server(moto_s3_session: S3Server) -> Iterator[S3Server]:
    """The S3 server, running; running again after the test, whatever it did."""
    moto_s3_session.start()
    yield moto_s3_session
    moto_s3_session.close_clients()
    moto_s3_session.start()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A new empty bucket on the server, its name unique to this test."""
    name = f"feeds-test-{uuid.uuid4().hex[:16]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_auth(s3_server: S3Server, bucket: str) -> Iterator[S3Server]:
    """The server checking every request's key and signature (moto's IAM
    checks, see S3Server.reset_auth): only keys from create_access_key() pass,
    the made-up test keys are refused. Checks are off again after the test.
    The test's ``bucket`` is made first, while the test keys still work."""
    previous = s3_server.reset_auth(0)
    yield s3_server
    s3_server.start()
    s3_server.reset_auth(previous)
