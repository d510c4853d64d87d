"""Specs of how `feeds.remote.store` words the S3 API's errors, no server:
each class of error code becomes a `PublishError` in our words, transient
only when trying again may help, quoting only what looks like a code."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from feeds.errors import PublishError
from feeds.remote.store import _Translated
from tests.publish.test_oneshot_plan import TARGET

REFUSED = (
    "uploading: the storage service refused the credentials ({}); "
    "check the AWS credentials this service runs with"
)


def raised(error: Exception, action: str = "uploading") -> PublishError:
    with pytest.raises(PublishError) as failed, _Translated(TARGET, action):
        raise error
    assert failed.value.target == TARGET.url
    return failed.value


def client_error(code: str, message: str = "secret-ish message AKIAEXAMPLE") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "PutObject")


@pytest.mark.parametrize(
    "code", ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "403"]
)
def test_a_refused_credential_is_said_so_and_not_transient(code: str) -> None:
    error = raised(client_error(code))

    assert not error.transient
    assert error.reason == REFUSED.format(code)
    assert "AKIAEXAMPLE" not in str(error)


@pytest.mark.parametrize("code", ["NoSuchBucket", "404", "PermanentRedirect"])
def test_a_missing_bucket_is_named_and_not_transient(code: str) -> None:
    error = raised(client_error(code))

    assert not error.transient
    assert error.reason == "uploading: the bucket bucket does not exist here"


@pytest.mark.parametrize("code", ["SlowDown", "InternalError", "ServiceUnavailable", "503"])
def test_a_service_error_is_transient_and_quotes_its_code(code: str) -> None:
    error = raised(client_error(code))

    assert error.transient
    assert error.reason == f"uploading: the storage service answered {code}"


@pytest.mark.parametrize("code", ["", "Bad Code\nwith lines", "x" * 65, "Ünicode"])
def test_a_code_that_looks_like_no_code_is_not_quoted(code: str) -> None:
    error = raised(client_error(code))

    assert error.transient
    assert error.reason == "uploading: the storage service answered an error"


@pytest.mark.parametrize(
    "error",
    [
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
    ],
    ids=["connect timeout", "read timeout"],
)
def test_a_network_failure_is_transient(error: Exception) -> None:
    failed = raised(error, "listing its objects")

    assert failed.transient
    assert failed.reason == "listing its objects: the storage service cannot be reached"


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), _Translated(TARGET, "uploading"):
        raise KeyError("x")
