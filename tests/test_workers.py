"""`berth serve --workers 2`: two processes share one port, both serve, and what one
issues the other accepts."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from conftest import Server, start_server
from support import images, skopeo
from support.pulled import assert_pulled, pull
from support.registry import bearer, token_response
from support.stores import Store

ACCESS_LINE = re.compile(r" (\d+) INFO berth\.access: ")


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("workers") / "data",
        None,
        *("--workers", "2", "--access-log"),
        store=new_store(),
    )
    yield server
    server.stop()


def _serving_pids(server: Server) -> set[int]:
    return {int(m[1]) for m in ACCESS_LINE.finditer(server.log.read_text())}


def test_two_workers_serve_and_accept_each_others_credentials(
    workers: Server, tmp_path: Path
) -> None:
    workers.ecr().create_repository(repositoryName="workers/app")
    # Every request on a new connection, so the kernel spreads them over both.
    passwords = [workers.password() for _ in range(10)]
    for password in passwords:
        for _ in range(2):
            granted = token_response(workers, "workers/app", "pull,push", f"AWS:{password}")
            assert granted.status_code == 200, granted.text
            started = requests.post(
                f"{workers.v2('workers/app')}/blobs/uploads/",
                headers=bearer(granted.json()["token"]),
                timeout=10,
            )
            assert started.status_code == 202, started.text
    pids = _serving_pids(workers)
    assert len(pids) == 2, pids
    assert workers.process.pid not in pids  # the parent only supervises

    item = images.oci_image(7401, n_layers=2)
    src = images.write_layout(tmp_path / "src", item)
    creds = f"AWS:{passwords[0]}"
    skopeo.copy(src, workers.ref("workers/app", "v1"), preserve_digests=True, creds=creds)
    pull(workers.ref("workers/app", "v1"), tmp_path / "out", item)
    assert_pulled(tmp_path / "out", item)


def test_sigterm_stops_every_worker(workers: Server) -> None:
    pids = _serving_pids(workers)
    assert pids
    workers.stop()
    assert workers.process.returncode == 0, workers.log.read_text()[-2000:]
    alive = subprocess.run(
        ["ps", "-o", "pid=", "-p", ",".join(map(str, pids))], capture_output=True, text=True
    )
    assert alive.stdout.strip() == ""
    assert "Traceback" not in workers.log.read_text()


def _worker_pids(server: Server) -> list[int]:
    children = subprocess.run(
        ["pgrep", "-P", str(server.process.pid), "-f", "spawn_main"], capture_output=True, text=True
    )
    return [int(pid) for pid in children.stdout.split()]


def test_a_dead_worker_is_replaced_and_one_that_dies_at_once_stops_berth(tmp_path: Path) -> None:
    """A worker killed after it served a while (an OOM kill) is replaced; one that dies
    within seconds of its start would only die again, so berth stops with exit code 1
    rather than serve on fewer workers unseen."""
    import os
    import signal
    import time

    from berth.cli import RESTART_AFTER

    server = start_server(tmp_path / "data", None, "--workers", "2")
    try:
        deadline = time.monotonic() + 30
        while len(_worker_pids(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        first = _worker_pids(server)
        assert len(first) == 2, first
        time.sleep(RESTART_AFTER + 0.5)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (set(_worker_pids(server)) == set(first) or len(_worker_pids(server)) < 2) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        replaced = _worker_pids(server)
        assert len(replaced) == 2 and first[0] not in replaced, (first, replaced)
        assert requests.get(f"{server.url}/v2/", timeout=10).status_code == 401
        new = next(pid for pid in replaced if pid not in first)
        os.kill(new, signal.SIGKILL)
        assert server.process.wait(timeout=30) == 1
        log = server.log.read_text()
        assert f"berth worker 0 (pid {first[0]}) exited with code -9" in log
        assert f"(pid {new}) exited with code -9" in log
        assert log.count("berth listening") == 1
    finally:
        server.stop()
