"""Specs of a push that cannot be made: refused, missing or absent
credentials, a missing bucket, a server down. Each is an exit code 2 and a
line in our words naming the target, and none shows a credential."""

from __future__ import annotations

import logging

import pytest

from feeds.config import load_config
from feeds.errors import PublishError
from feeds.remote.manifest import Entry
from feeds.remote.store import S3Store
from feeds.remote.targets import targets_of
from tests.publish.s3server import TEST_CREDENTIALS, Credentials, S3Server
from tests.publish.site import Site, site

__all__ = ["site"]  # fixtures


def secrets_of(credentials: Credentials) -> tuple[str, str]:
    return credentials.access_key_id, credentials.secret_access_key


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """What the client side logged: the test server (moto, in this process)
    logs the requests it receives, which are no output of feeds."""
    return "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith(("moto", "werkzeug"))
    )


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_refused_credentials_exit_2_naming_the_target_and_never_the_keys(
    site: Site, s3_auth: S3Server, caplog: pytest.LogCaptureFixture, verbose: bool
) -> None:
    site.build()
    caplog.set_level(logging.DEBUG)

    run = site.cli("publish", verbose=verbose)

    assert run.code == 2
    lines = run.err.splitlines()
    errors = [line for line in lines if line.startswith("feeds: error: ")]
    assert errors == [
        f"feeds: error: publish target {site.url}: reading its manifest: the storage service "
        "refused the credentials (InvalidAccessKeyId); check the AWS credentials this "
        "service runs with"
    ]
    for secret in secrets_of(TEST_CREDENTIALS):
        assert secret not in run.out
        assert secret not in run.err
        assert secret not in ours(caplog)


def test_no_credentials_at_all_exit_2_naming_the_target(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.build()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    run = site.publish()

    assert run.code == 2
    assert run.err.splitlines() == [
        f"feeds: error: publish target {site.url}: no AWS credentials found: set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in the shared AWS config, "
        "or run with a container or instance role"
    ]


def test_a_missing_bucket_exits_2_naming_it(site: Site) -> None:
    site.build()
    site.configure({"url": "s3://no-such-bucket-here/site/"})

    run = site.publish()

    assert run.code == 2
    assert run.err.splitlines() == [
        "feeds: error: publish target s3://no-such-bucket-here/site/: reading its manifest: "
        "the bucket no-such-bucket-here does not exist here"
    ]


def test_a_missing_profile_exits_2_naming_it(site: Site) -> None:
    site.build()
    site.configure({"profile": "nobody"})

    run = site.publish()

    assert run.code == 2
    assert run.err.splitlines() == [
        f"feeds: error: publish target {site.url}: the AWS profile nobody is not configured"
    ]


def store_of(site: Site) -> S3Store:
    return S3Store(targets_of(load_config(site.config))[0])


def test_a_server_down_is_a_transient_error_in_our_words(site: Site) -> None:
    store = store_of(site)
    site.server.stop()

    with pytest.raises(PublishError) as failed:
        store.read_manifest()

    assert failed.value.transient
    assert str(failed.value) == (
        f"publish target {site.url}: reading its manifest: the storage service cannot be reached"
    )


def test_refused_credentials_are_not_transient(site: Site, s3_auth: S3Server) -> None:
    with pytest.raises(PublishError) as failed:
        store_of(site).put("index.html", b"x", Entry("ab" * 32, "text/html", "no-cache"))

    assert not failed.value.transient
    assert "uploading: the storage service refused the credentials" in str(failed.value)


def test_a_created_key_is_accepted_by_the_auth_checks(
    site: Site, s3_auth: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refusals above are the keys', not the server refusing everything.
    real = s3_auth.create_access_key()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", real.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", real.secret_access_key)
    site.build()

    run = site.publish()

    assert run.code == 0, run.err
