"""Garbage collection: online, after the grace period and never before; deleting images
and repositories frees bytes nothing else uses; a push that reuses a blob while GC runs
still ends with a pullable image; `berth gc` (--dry-run) reports what it frees; stale
upload sessions are purged after --upload-max-age."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.app import close_core, open_core
from berth.config import Settings
from berth.core import gc
from conftest import Server, start_server
from support import images
from support.blobstore import berth, stored
from support.pulled import assert_pulled, pull
from support.registry import Session, sha256_digest
from support.stores import Store

GRACE = 4.0
UPLOAD_MAX_AGE = 3.0
# The race test's grace period: longer than a collection takes to start and run
# in the test process (the push it races is in flight that long).
RACE_GRACE = 2.0


@dataclass
class Deployment:
    server: Server
    store: Store

    @property
    def stored(self) -> dict[str, int]:
        return stored(self.store, self.server.data)

    def berth(self, *args: str):  # type: ignore[no-untyped-def]
        return berth(self.store, self.server.data, *args)

    def collect(self, grace: float) -> gc.Report:
        """Berth's garbage collection run here, right now (a `berth gc` without the
        seconds a new process takes to start)."""
        settings = Settings(
            data=self.server.data,
            metadata_url=_option(self.store, "--metadata"),
            blobs_url=_option(self.store, "--blobs"),
        )

        async def run() -> gc.Report:
            core = await open_core(settings)
            try:
                return await gc.collect(core, grace=grace, upload_max_age=86400)
            finally:
                await close_core(core)

        saved = dict(os.environ)
        os.environ.update(self.store.env)
        try:
            return asyncio.run(run())
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _option(store: Store, name: str) -> str | None:
    return store.args[store.args.index(name) + 1] if name in store.args else None


def _deploy(root: Path, store: Store, *extra: str) -> Deployment:
    return Deployment(start_server(root / "data", None, *extra, store=store), store)


@pytest.fixture(scope="module")
def online(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[Deployment]:
    """A server that collects every half second, with a short grace period."""
    deployment = _deploy(
        tmp_path_factory.mktemp("gc-online"),
        new_store(),
        *("--gc-interval", "0.5", "--gc-grace", str(GRACE)),
        *("--upload-max-age", str(UPLOAD_MAX_AGE)),
    )
    yield deployment
    deployment.server.stop()


@pytest.fixture(scope="module")
def manual(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[Deployment]:
    """A server that never collects by itself: `berth gc` or the test does."""
    deployment = _deploy(
        tmp_path_factory.mktemp("gc-manual"),
        new_store(),
        *("--gc-interval", "0", "--gc-grace", str(RACE_GRACE)),
    )
    yield deployment
    deployment.server.stop()


def _wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds until `condition()` held; fails after `timeout`."""
    begun = time.monotonic()
    while not condition():
        if time.monotonic() - begun > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)
    return time.monotonic() - begun


def _push(server: Server, repository: str, item: images.Image, tag: str | None = None) -> None:
    server.ecr().create_repository(repositoryName=repository)
    answer = Session(server, repository, server.creds()).push_image(item, tag)
    assert answer.status_code == 201, answer.text


def test_unreferenced_blob_freed_after_grace_never_before(online: Deployment) -> None:
    server = online.server
    online.server.ecr().create_repository(repositoryName="gc/loose")
    session = Session(server, "gc/loose", server.creds())
    blob = images.make_layer(7101)
    digest = sha256_digest(blob)
    assert session.push_blob(blob).status_code == 201
    pushed = time.monotonic()
    assert online.stored.get(digest) == len(blob)

    # GET (not HEAD: a HEAD restarts the grace period, see the race test) until it is gone.
    def gone() -> bool:
        present = session.get(f"blobs/{digest}").status_code == 200
        return not present and digest not in online.stored

    _wait_until(gone)
    waited = time.monotonic() - pushed
    assert waited >= GRACE, f"collected after {waited:.1f}s, inside the {GRACE}s grace period"
    assert session.get(f"blobs/{digest}").status_code == 404


def test_deleting_images_and_repositories_frees_bytes_nothing_else_uses(
    online: Deployment, tmp_path: Path
) -> None:
    server = online.server
    shared = images.oci_image(7104, n_layers=2)  # in both repositories
    own = images.docker_image(7105, n_layers=2)  # only in the first
    _push(server, "gc/first", shared, "both")
    _push(server, "gc/second", shared, "both")
    session = Session(server, "gc/first", server.creds())
    assert session.push_image(own, "own").status_code == 201
    # Untagged manifests are images too (ECR lists them): they and their blobs stay.
    tagged = images.oci_image(7102, n_layers=2)
    untagged = images.oci_image(7103, n_layers=1)
    _push(server, "gc/kept", tagged, "v1")
    answer = Session(server, "gc/kept", server.creds()).push_image(untagged)
    assert answer.status_code == 201, answer.text

    ecr = server.ecr()
    ecr.batch_delete_image(
        repositoryName="gc/first", imageIds=[{"imageTag": "own"}, {"imageTag": "both"}]
    )
    _wait_until(lambda: not any(b.digest in online.stored for b in own.blobs))
    time.sleep(1.5)  # a few more collections: what the second repository uses stays
    held = online.stored
    for blob in [*shared.blobs, *tagged.blobs, *untagged.blobs]:
        assert held.get(blob.digest) == blob.size
    kept = ecr.describe_images(repositoryName="gc/kept")["imageDetails"]
    assert {d["imageDigest"] for d in kept} == {tagged.digest, untagged.digest}
    pull(server.ref("gc/second", "both"), tmp_path / "pulled", shared)
    assert_pulled(tmp_path / "pulled", shared)

    ecr.delete_repository(repositoryName="gc/second", force=True)
    _wait_until(lambda: not any(b.digest in online.stored for b in shared.blobs))


def test_stale_upload_sessions_are_purged(online: Deployment) -> None:
    server = online.server
    server.ecr().create_repository(repositoryName="gc/uploads")
    session = Session(server, "gc/uploads", server.creds())
    started = session.start_upload()
    location = started.headers["Location"]
    assert session.patch(location, data=b"x" * 1000).status_code == 202
    begun = time.monotonic()
    assert session.get(location).status_code == 204

    waited = _wait_until(lambda: session.get(location).status_code == 404)
    assert waited + 0.2 >= UPLOAD_MAX_AGE - 0.5, f"purged after {waited:.1f}s"
    assert time.monotonic() - begun >= UPLOAD_MAX_AGE
    answer = session.get(location)
    assert answer.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"


def test_push_reusing_a_blob_while_gc_runs_ends_pullable(
    manual: Deployment, tmp_path: Path
) -> None:
    """The layer is unreferenced and past the grace period when the push finds it
    present (HEAD) and skips it; a collection runs before the manifest goes up."""
    server = manual.server
    repository = "gc/race"
    server.ecr().create_repository(repositoryName=repository)
    session = Session(server, repository, server.creds())
    reused = images.oci_image(7106, n_layers=1)
    layer = reused.layers[0]
    assert session.push_blob(layer.data).status_code == 201
    time.sleep(RACE_GRACE + 0.2)  # the layer's link is older than the grace period
    assert session.head(f"blobs/{layer.digest}").status_code == 200
    assert manual.collect(RACE_GRACE).links_removed == 0
    assert session.push_blob(reused.config.data).status_code == 201
    answer = session.push_manifest(reused.manifest, reused.media_type, "v2")
    assert answer.status_code == 201, answer.text

    # Unreferenced again; through the API, whose clients skip a layer that
    # BatchCheckLayerAvailability finds.
    ecr = server.ecr()
    ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": "v2"}])
    time.sleep(RACE_GRACE + 0.2)
    found = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[layer.digest]
    )
    assert [x["layerAvailability"] for x in found["layers"]] == ["AVAILABLE"]
    # And a client that uploads the config again hears it exists, and reuses it.
    upload_id = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    config = reused.config.data
    ecr.upload_layer_part(
        repositoryName=repository,
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=len(config) - 1,
        layerPartBlob=config,
    )
    with pytest.raises(ecr.exceptions.LayerAlreadyExistsException):
        ecr.complete_layer_upload(
            repositoryName=repository, uploadId=upload_id, layerDigests=[reused.config.digest]
        )
    assert manual.collect(RACE_GRACE).links_removed == 0
    answer = session.push_manifest(reused.manifest, reused.media_type, "final")
    assert answer.status_code == 201, answer.text
    pull(server.ref(repository, "final"), tmp_path / "pulled", reused)
    assert_pulled(tmp_path / "pulled", reused)


def test_gc_dry_run_changes_nothing_then_gc_frees_with_progress(manual: Deployment) -> None:
    server = manual.server
    server.ecr().create_repository(repositoryName="gc/cli")
    session = Session(server, "gc/cli", server.creds())
    loose = [images.make_layer(7107 + i, 20_000) for i in range(3)]
    session.push_blobs(loose)
    kept = images.oci_image(7110, n_layers=1)
    assert session.push_image(kept, "kept").status_code == 201
    before = manual.stored

    dry = manual.berth("gc", "--dry-run", "--gc-grace", "0")
    assert dry.returncode == 0, dry.stderr
    assert "would free" in dry.stdout
    count = int(dry.stdout.split("would free ")[1].split(" blobs")[0])
    assert count >= len(loose)
    assert manual.stored == before
    assert all(session.get(f"blobs/{sha256_digest(b)}").status_code == 200 for b in loose)

    done = manual.berth("gc", "--gc-grace", "0")
    assert done.returncode == 0, done.stderr
    assert "collecting" in done.stderr  # the progress bar
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"freed {count} blobs ("), summary
    after = manual.stored
    freed = set(before) - set(after)
    assert len(freed) == count
    assert {sha256_digest(b) for b in loose} <= freed
    assert not freed & {b.digest for b in kept.blobs}
    assert all(session.get(f"blobs/{sha256_digest(b)}").status_code == 404 for b in loose)

    again = manual.berth("gc", "--gc-grace", "0")
    assert again.stdout.strip().splitlines()[-1].startswith("freed 0 blobs (0 B)")
