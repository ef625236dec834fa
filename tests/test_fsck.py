"""`berth fsck`: blobs whose bytes are missing, differ in size, or have no metadata."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from conftest import Server, start_server
from support import images
from support.blobstore import berth, put_bytes, remove_bytes
from support.registry import Session, sha256_digest
from support.stores import Store


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[tuple[Server, Store]]:
    store = new_store()
    server = start_server(tmp_path_factory.mktemp("fsck") / "data", store=store)
    yield server, store
    server.stop()


def test_fsck_finds_nothing_then_every_kind_of_mismatch(deployment: tuple[Server, Store]) -> None:
    server, store = deployment
    server.ecr().create_repository(repositoryName="fsck/app")
    item = images.oci_image(7201, n_layers=2)
    assert Session(server, "fsck/app", server.creds()).push_image(item, "v1").status_code == 201

    clean = berth(store, server.data, "fsck")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.strip().splitlines()[-1] == "checked 3 blobs: 0 problem(s)"

    config, first, second = item.blobs
    remove_bytes(store, server.data, first.digest)
    put_bytes(store, server.data, second.digest, second.data[:100])
    orphan = b"bytes nobody recorded"
    put_bytes(store, server.data, sha256_digest(orphan), orphan)

    found = berth(store, server.data, "fsck")
    assert found.returncode == 1
    lines = found.stdout.strip().splitlines()
    assert lines[-1] == "checked 3 blobs: 3 problem(s)"
    problems = sorted(tuple(line.split("\t")) for line in lines[:-1])
    assert problems == sorted(
        [
            ("missing-bytes", first.digest, f"metadata says {first.size} bytes"),
            ("size-mismatch", second.digest, f"metadata {second.size} bytes, store 100"),
            ("orphan-bytes", sha256_digest(orphan), f"{len(orphan)} bytes with no metadata"),
        ]
    )
    assert config.digest not in found.stdout
