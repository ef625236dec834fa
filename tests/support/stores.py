"""The storage backends the integration suite runs on: SQLite + filesystem, and
PostgreSQL + S3 (moto's S3 server on loopback; the code under test uses
nothing moto-specific)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import requests

POSTGRES_ADMIN = os.environ.get("BERTH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BUCKET = "berth-test"

_MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
sys.stdin.read()  # until the test process closes our stdin (or dies)
server.stop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Store:
    """Where one berth deployment keeps its data: CLI arguments and environment."""

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


class Moto:
    """moto's S3 server in a child process, with one bucket."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-c", _MOTO, str(self.port)], stdin=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.2)
        requests.put(f"{self.url}/{BUCKET}", timeout=10).raise_for_status()

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ACCESS_KEY_ID": "berth-test",
            "AWS_SECRET_ACCESS_KEY": "berth-test",
            "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def _admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


class Postgres:
    """Fresh databases on the PostgreSQL server, dropped at the end."""

    def __init__(self) -> None:
        self.databases: list[str] = []

    def create(self) -> str:
        name = f"berth_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        self.databases.append(name)
        base = POSTGRES_ADMIN.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        for name in self.databases:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.databases.clear()


class Backends:
    """Makes fresh stores of a kind; one instance per test session."""

    def __init__(self) -> None:
        self._moto: Moto | None = None
        self._postgres = Postgres()

    def fresh(self, kind: str) -> Store:
        if kind == "sqlite-fs":
            return Store()
        if kind == "postgres-s3":
            if self._moto is None:
                self._moto = Moto()
            prefix = uuid.uuid4().hex[:12]
            return Store(
                args=(
                    "--metadata",
                    self._postgres.create(),
                    "--blobs",
                    f"s3://{BUCKET}/{prefix}",
                ),
                env=self._moto.env,
            )
        raise ValueError(f"unknown store kind {kind!r}")

    def close(self) -> None:
        self._postgres.drop_all()
        if self._moto is not None:
            self._moto.stop()
