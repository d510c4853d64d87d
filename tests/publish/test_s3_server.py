"""The S3 server the publish tests run against: objects keep their headers
and metadata, a stopped server refuses connections and a restarted one has
its objects back at the same address, and with IAM checks on only real keys
pass."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.publish.s3server import TEST_CREDENTIALS, Credentials, S3Server


def put_page(server: S3Server, bucket: str) -> None:
    server.client().put_object(
        Bucket=bucket,
        Key="feeds/index.html",
        Body=b"<p>hello</p>",
        ContentType="text/html; charset=utf-8",
        CacheControl="public, max-age=300",
        Metadata={"feeds-sha256": "abc123"},
    )


def test_an_object_keeps_its_type_cache_control_and_metadata(
    s3_server: S3Server, bucket: str
) -> None:
    put_page(s3_server, bucket)

    got = s3_server.client().get_object(Bucket=bucket, Key="feeds/index.html")

    assert got["Body"].read() == b"<p>hello</p>"
    assert got["ContentType"] == "text/html; charset=utf-8"
    assert got["CacheControl"] == "public, max-age=300"
    assert got["Metadata"] == {"feeds-sha256": "abc123"}


def test_a_stopped_server_refuses_and_a_restarted_one_still_has_its_objects(
    s3_server: S3Server, bucket: str
) -> None:
    put_page(s3_server, bucket)
    endpoint = s3_server.endpoint_url
    used_before = s3_server.client()
    used_before.head_object(Bucket=bucket, Key="feeds/index.html")

    s3_server.stop()
    # Also a client holding a kept-alive connection: what a push sees.
    for client in (used_before, s3_server.client()):
        with pytest.raises(EndpointConnectionError):
            client.head_object(Bucket=bucket, Key="feeds/index.html")
    s3_server.start()

    assert s3_server.endpoint_url == endpoint
    got = s3_server.client().get_object(Bucket=bucket, Key="feeds/index.html")
    assert got["Body"].read() == b"<p>hello</p>"


def test_every_bucket_starts_empty(s3_server: S3Server, bucket: str) -> None:
    assert s3_server.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_botocore_finds_only_the_made_up_keys_in_the_environment(aws_env: Credentials) -> None:
    found = boto3.Session().get_credentials()

    assert found is not None
    assert found.method == "env"
    assert (found.access_key, found.secret_key) == (
        aws_env.access_key_id,
        aws_env.secret_access_key,
    )


def refusal(server: S3Server, bucket: str, credentials: Credentials) -> str:
    with pytest.raises(ClientError) as refused:
        server.client(credentials).put_object(Bucket=bucket, Key="x", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(refused.value.response["Error"]["Code"])


def test_with_iam_checks_on_made_up_keys_are_refused(s3_auth: S3Server, bucket: str) -> None:
    assert refusal(s3_auth, bucket, TEST_CREDENTIALS) == "InvalidAccessKeyId"


def test_with_iam_checks_on_a_wrong_secret_is_refused(s3_auth: S3Server, bucket: str) -> None:
    real = s3_auth.create_access_key()
    wrong = Credentials(real.access_key_id, "not-" + real.secret_access_key)

    assert refusal(s3_auth, bucket, wrong) == "SignatureDoesNotMatch"


def test_with_iam_checks_on_a_created_key_is_accepted(s3_auth: S3Server, bucket: str) -> None:
    client = s3_auth.client(s3_auth.create_access_key())

    client.put_object(Bucket=bucket, Key="x", Body=b"x")

    assert client.get_object(Bucket=bucket, Key="x")["Body"].read() == b"x"


def test_iam_checks_are_off_again_after_a_test_that_used_them(
    s3_server: S3Server, bucket: str
) -> None:
    # Runs after the s3_auth tests above (pytest keeps file order).
    s3_server.client(TEST_CREDENTIALS).put_object(Bucket=bucket, Key="x", Body=b"x")
