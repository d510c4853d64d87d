"""A real S3 API server for the publish tests: moto's standalone server, run
in this process on a fixed loopback port, so a test can stop it, start it
again at the same address and find its objects still there (moto keeps its
state in the process, not in the server thread). Also switches on moto's IAM
checks, so a test can see a credential refused."""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HOST = "127.0.0.1"
REGION = "us-east-1"
#: Every S3 action, on everything: what a publisher's key is granted.
S3_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
)


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


#: The made-up keys every publish test runs with (also in the environment).
#: With moto's IAM checks off, the default, any key is accepted.
TEST_CREDENTIALS = Credentials("AKIAFEEDSTESTKEY0000", "feeds-test-secret-not-real")


def free_port() -> int:
    """A loopback port free now. Chosen once and kept, because moto's server
    bound to port 0 would come back from a restart on another port."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def client_config(attempts: int = 1) -> Config:
    """What every test-side client uses: no retries by default (a loopback
    server answers or is down), path-style addressing (the endpoint is an IP
    address), and checksums only where S3 requires them (newer botocore adds
    CRC checksums some S3-compatible servers reject)."""
    return Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "total_max_attempts": attempts},
        s3={"addressing_style": "path"},
        connect_timeout=2,
        read_timeout=5,
    )


class S3Server:
    """moto's S3 API server at ``endpoint_url``; ``stop()`` and ``start()`` may
    be called in any order, any number of times."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint_url = f"http://{HOST}:{port}"
        self.running = False
        # Imported here, as boto3 below: together a second, which a test run
        # that collects these tests but selects none should not pay.
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
        self._clients: list[Any] = []

    def start(self) -> None:
        if self.running:
            return
        # moto's start() waits, without a timeout, for a server thread that
        # dies if the port is taken: find out here instead of hanging.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((HOST, self.port))
        self._moto.start()
        self.running = True

    def stop(self) -> None:
        """Closes the listening socket: from now on a connection is refused.
        Takes up to half a second (werkzeug's shutdown poll)."""
        if self.running:
            self._moto.stop()
            self.running = False

    def client(self, credentials: Credentials = TEST_CREDENTIALS, attempts: int = 1) -> S3Client:
        """A boto3 S3 client for this server, closed when the test ends."""
        s3: S3Client = self._client("s3", credentials, attempts)
        return s3

    def _client(self, service: str, credentials: Credentials, attempts: int) -> Any:
        import boto3

        made = boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            config=client_config(attempts),
        )
        self._clients.append(made)
        return made

    def close_clients(self) -> None:
        """Closes the clients made so far, so no connection outlives its test
        (an unclosed socket found later is a ResourceWarning, an error here)."""
        while self._clients:
            self._clients.pop().close()

    def reset_auth(self, no_auth_count: float) -> float:
        """Sets how many more requests moto serves before it starts checking
        every request's key and signature against its IAM users (0: check
        from now on; inf: never, moto's default). Returns the previous count.

        This is moto's documented switch for IAM checks (INITIAL_NO_AUTH_ACTION_COUNT,
        docs/iam.rst), reached in server mode through its public
        ``POST /moto-api/reset-auth`` endpoint, the one moto's own
        ``set_initial_no_auth_action_count`` decorator posts to."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth",
            data=str(no_auth_count).encode(),
            # Not form-encoded: moto reads the raw body.
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=5) as response:
            return float(json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])

    def create_access_key(self) -> Credentials:
        """A new IAM user allowed every S3 action, and an access key of its:
        accepted while IAM checks are on. Works whether they are on or off."""
        previous = self.reset_auth(float("inf"))
        try:
            iam = self._client("iam", TEST_CREDENTIALS, attempts=1)
            user = f"publisher-{uuid.uuid4().hex[:12]}"
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="s3-all", PolicyDocument=S3_ALL)
            key = iam.create_access_key(UserName=user)["AccessKey"]
        finally:
            self.reset_auth(previous)
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])
