"""Fixtures that run the real berth server on loopback and real clients against it."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from support.stores import Backends, Store

# Credentials for every client; open auth mode takes any well-formed signature.
CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDBERTHTEST",
    "AWS_SECRET_ACCESS_KEY": "berth-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running `berth serve` process."""

    url: str
    host: str  # host:port, as in repository URIs
    data: Path
    process: subprocess.Popen[bytes]
    log: Path
    alias: str = "berth"
    account_id: str = "123456789012"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def ecr(self, region: str = "us-east-1", access_key: str = CLIENT_ENV["AWS_ACCESS_KEY_ID"]):  # type: ignore[no-untyped-def]
        return boto3.client(
            "ecr-public",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=CLIENT_ENV["AWS_SECRET_ACCESS_KEY"],
        )

    def password(self) -> str:
        token = self.ecr().get_authorization_token()["authorizationData"]["authorizationToken"]
        user, password = base64.b64decode(token).decode().split(":")
        assert user == "AWS"
        return password

    def creds(self) -> str:
        """`AWS:<password>`, as skopeo's --creds takes it."""
        return f"AWS:{self.password()}"

    def ref(self, repository: str, reference: str = "") -> str:
        """docker:// reference for a repository of the default registry."""
        sep = "@" if reference.startswith("sha") else ":"
        return f"docker://{self.host}/{self.alias}/{repository}" + (
            f"{sep}{reference}" if reference else ""
        )

    def v2(self, repository: str) -> str:
        return f"{self.url}/v2/{self.alias}/{repository}"


def start_server(
    data: Path, port: int | None = None, *extra: str, store: Store | None = None
) -> Server:
    """Start `berth serve` on `data` (and, for another backend, `store`)."""
    port = port or free_port()
    store = store or Store()
    log = data.parent / f"{data.name}-{port}.log"
    handle = log.open("ab")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "berth", "serve", "--port", str(port), "--data", str(data)),
            *store.args,
            *extra,
        ],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **store.env},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"berth exited early:\n{log.read_text()}")
        try:
            if requests.get(f"{url}/v2/", timeout=1).status_code == 401:
                return Server(url, f"127.0.0.1:{port}", data, process, log)
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"berth did not answer in time:\n{log.read_text()}")


# The integration suite runs once per storage backend; BERTH_TEST_STORES picks them.
STORE_KINDS = os.environ.get("BERTH_TEST_STORES", "sqlite-fs,postgres-s3").split(",")


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    made = Backends()
    yield made
    made.close()


@pytest.fixture(scope="session", params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def new_store(backends: Backends, store_kind: str) -> Callable[[], Store]:
    """Fresh, empty storage of this session's kind (a new database and prefix)."""
    return lambda: backends.fresh(store_kind)


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("berth") / "data", store=new_store())
    yield srv
    srv.stop()


@pytest.fixture
def ecr(server: Server):  # type: ignore[no-untyped-def]
    return server.ecr()


@pytest.fixture
def repository(server: Server) -> str:
    """A fresh, empty repository in the default registry."""
    name = f"test/{uuid.uuid4().hex[:12]}"
    server.ecr().create_repository(repositoryName=name)
    return name


def aws(
    server: Server,
    *args: str,
    region: str = "us-east-1",
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real aws CLI against the server (as CLIENT_ENV, updated by `env`);
    never raises on exit codes. aws-cli v1 exits 255 on a service error."""
    return subprocess.run(
        [
            "aws",
            "ecr-public",
            "--endpoint-url",
            server.url,
            "--region",
            region,
            "--output",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        input=input,
        env={**os.environ, **CLIENT_ENV, **(env or {})},
        timeout=120,
    )
