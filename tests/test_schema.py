"""`berth serve` refuses a database at an older schema and names the command that
fixes it; `berth db upgrade` brings it to the current one, keeping what it holds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from alembic import command

from berth.store.metadata import open_metadata
from berth.store.metadata.schema import _config, head_revision
from conftest import free_port, start_server
from support.blobstore import berth
from support.stores import Backends, Store


def _metadata_url(store: Store, data: Path) -> str:
    if "--metadata" in store.args:
        return store.args[store.args.index("--metadata") + 1]
    return f"sqlite:///{data.resolve() / 'berth.db'}"


def _downgrade(url: str, revision: str) -> None:
    """Take the database back to an older revision, as an older berth left it."""

    async def run() -> None:
        meta = open_metadata(url)
        try:
            async with meta.engine.begin() as conn:
                await conn.run_sync(lambda sync: command.downgrade(_config(sync), revision))
        finally:
            await meta.close()

    asyncio.run(run())


def test_serve_refuses_an_old_schema_until_db_upgrade(
    tmp_path: Path, new_store: Callable[[], Store]
) -> None:
    store = new_store()
    data = tmp_path / "data"
    server = start_server(data, store=store)
    server.ecr().create_repository(repositoryName="schema/kept")
    server.stop()
    _downgrade(_metadata_url(store, data), "0001")

    port = str(free_port())
    refused = subprocess.run(
        [sys.executable, "-m", "berth", "serve", "--port", port, "--data", str(data), *store.args],
        capture_output=True,
        text=True,
        env={**os.environ, **store.env},
        timeout=60,
    )
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert "schema revision 0001" in refused.stderr
    assert f"berth needs {head_revision()}" in refused.stderr
    assert "run `berth db upgrade`" in refused.stderr

    upgraded = berth(store, data, "db upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"schema at {head_revision()} (was 0001)"
    again = berth(store, data, "db upgrade")
    assert again.stdout.strip() == f"schema at {head_revision()} (no change)"

    server = start_server(data, store=store)
    try:
        names = [r["repositoryName"] for r in server.ecr().describe_repositories()["repositories"]]
        assert names == ["schema/kept"]
    finally:
        server.stop()


def test_replicas_started_together_on_an_empty_postgresql_all_serve(
    tmp_path: Path, backends: Backends
) -> None:
    """The first start creates the schema; replicas starting at the same moment take
    turns (an advisory lock) instead of racing to create the same tables."""
    from concurrent.futures import ThreadPoolExecutor

    store = backends.fresh("postgres-s3")  # a new, empty database
    with ThreadPoolExecutor(3) as pool:
        starts = [pool.submit(start_server, tmp_path / f"r{n}", store=store) for n in range(3)]
    started = [f.result() for f in starts if f.exception() is None]
    try:
        assert len(started) == 3, [str(f.exception()) for f in starts if f.exception()]
        for server in started:
            assert server.process.poll() is None, server.log.read_text()
            assert server.ecr().describe_registries()["registries"]
    finally:
        for server in started:
            server.stop()
