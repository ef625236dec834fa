"""Everything survives a restart: images, tags, API metadata, login passwords (the signing
key is persisted), upload sessions; and `berth serve` stops cleanly and starts fast."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import Server, free_port, start_server
from support import images, skopeo
from support.ecr import push_image_via_api
from support.pulled import assert_pulled, pull
from support.registry import Session, bearer, sha256_digest, token, token_response
from support.stores import Store

REPOSITORY = "restart/app"
OTHER = "restart/api"

ITEMS: dict[str, tuple[str, str, images.Image | images.Index]] = {
    # name: (repository, tag, item)
    "skopeo-oci-image": (REPOSITORY, "image", images.oci_image(9501, n_layers=3)),
    "skopeo-oci-index": (
        REPOSITORY,
        "index",
        images.oci_index(
            [
                images.oci_image(9502, n_layers=2, architecture="amd64"),
                images.oci_image(9503, n_layers=1, architecture="arm64", variant="v8"),
            ]
        ),
    ),
    "api-docker-image": (OTHER, "api", images.docker_image(9504, n_layers=2)),
}

PARTIAL = images.make_layer(9505)
PARTIAL_SPLIT = 20_000


@dataclass
class Restarted:
    first: Server
    second: Server
    exit_code: int | None
    stop_seconds: float
    password: str
    bearer_token: str
    describe: dict[str, Any] = field(default_factory=dict)
    repositories: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)
    upload_location: str = ""


def snapshot(server: Server) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, list[str]]]:
    ecr = server.ecr()
    repositories = sorted(
        ecr.describe_repositories()["repositories"], key=lambda r: r["repositoryName"]
    )
    for repo in repositories:
        repo.pop("repositoryUri")  # holds host:port, which may change
    described: dict[str, Any] = {}
    for name in (REPOSITORY, OTHER):
        described[name] = sorted(
            ecr.describe_images(repositoryName=name)["imageDetails"],
            key=lambda d: d["imageDigest"],
        )
        described[name + " tags"] = sorted(
            ecr.describe_image_tags(repositoryName=name)["imageTagDetails"],
            key=lambda d: d["imageTag"],
        )
    tags = {name: skopeo.list_tags(server.ref(name)) for name in (REPOSITORY, OTHER)}
    return repositories, described, tags


@pytest.fixture(scope="module")
def restarted(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[Restarted]:
    root = tmp_path_factory.mktemp("restart")
    data = root / "data"
    store = new_store()
    first = start_server(data, store=store)
    second: Server | None = None
    try:
        ecr = first.ecr()
        for name in (REPOSITORY, OTHER):
            ecr.create_repository(repositoryName=name)
        password = first.password()
        creds = f"AWS:{password}"
        for label, (repository, tag, item) in ITEMS.items():
            if label.startswith("api-"):
                push_image_via_api(ecr, repository, item, tag=tag)
                continue
            src = images.write_layout(root / f"src-{label}", item, tag)
            skopeo.copy(
                src,
                first.ref(repository, tag),
                all=isinstance(item, images.Index),
                preserve_digests=True,
                creds=creds,
            )
        repositories, described, tags = snapshot(first)
        bearer_token = token(first, REPOSITORY, "pull,push", creds)

        # An upload left half-done, to be finished by the second process.
        session = Session(first, REPOSITORY, creds)
        started = session.start_upload()
        assert started.status_code == 202, started.text
        patched = session.patch(started.headers["Location"], data=PARTIAL[:PARTIAL_SPLIT])
        assert patched.status_code == 202, patched.text

        begun = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        try:
            exit_code: int | None = first.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            exit_code = None
        stop_seconds = time.monotonic() - begun
        first.stop()  # kills it if SIGTERM did not

        # The same port, so tokens bound to the service name (host:port) stay valid.
        second = start_server(data, int(first.host.rsplit(":", 1)[1]), store=store)
        yield Restarted(
            first,
            second,
            exit_code,
            stop_seconds,
            password,
            bearer_token,
            described,
            repositories,
            tags,
            patched.headers["Location"],
        )
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_sigterm_exits_cleanly(restarted: Restarted) -> None:
    assert restarted.exit_code == 0, restarted.first.log.read_text()[-3000:]
    assert restarted.stop_seconds < 5
    assert "Traceback" not in restarted.first.log.read_text()


@pytest.mark.parametrize("label", list(ITEMS))
def test_images_pull_byte_identical_after_restart(
    restarted: Restarted, tmp_path: Path, label: str
) -> None:
    server = restarted.second
    repository, tag, item = ITEMS[label]
    assert skopeo.inspect_raw(server.ref(repository, tag)) == item.manifest
    assert skopeo.inspect_raw(server.ref(repository, item.digest)) == item.manifest
    pull(server.ref(repository, tag), tmp_path / "out", item)
    assert_pulled(tmp_path / "out", item)


def test_tags_unchanged(restarted: Restarted) -> None:
    expected = {REPOSITORY: ["image", "index"], OTHER: ["api"]}
    assert {k: sorted(v) for k, v in restarted.tags.items()} == expected
    after = {n: sorted(skopeo.list_tags(restarted.second.ref(n))) for n in expected}
    assert after == expected
    listed = Session(restarted.second, REPOSITORY).get("tags/list")
    assert listed.json() == {"name": f"berth/{REPOSITORY}", "tags": ["image", "index"]}


def test_api_metadata_unchanged(restarted: Restarted) -> None:
    repositories, described, _tags = snapshot(restarted.second)
    assert repositories == restarted.repositories
    assert described == restarted.describe
    # And the snapshot really held the images (not two equal empty answers).
    digests = {d["imageDigest"] for d in described[REPOSITORY]}
    index = ITEMS["skopeo-oci-index"][2]
    assert isinstance(index, images.Index)
    assert digests == {
        ITEMS["skopeo-oci-image"][2].digest,
        index.digest,
        *(child.digest for child in index.images),
    }
    assert [d["imageDigest"] for d in described[OTHER]] == [ITEMS["api-docker-image"][2].digest]


def test_login_password_from_first_process_still_works(
    restarted: Restarted, tmp_path: Path
) -> None:
    server = restarted.second
    creds = f"AWS:{restarted.password}"
    answer = token_response(server, REPOSITORY, "pull,push", creds)
    assert answer.status_code == 200, answer.text
    direct = requests.post(
        f"{server.v2(REPOSITORY)}/blobs/uploads/", auth=("AWS", restarted.password), timeout=10
    )
    assert direct.status_code == 202, direct.text
    item = images.oci_image(9506, n_layers=1)
    src = images.write_layout(tmp_path / "src", item)
    skopeo.copy(src, server.ref(REPOSITORY, "after"), preserve_digests=True, creds=creds)
    assert skopeo.inspect_raw(server.ref(REPOSITORY, "after")) == item.manifest
    # A wrong password is still refused, so the check above means something.
    refused = token_response(server, REPOSITORY, "pull,push", creds + "x")
    assert refused.status_code == 401


def test_bearer_token_from_first_process_still_works(restarted: Restarted) -> None:
    server = restarted.second
    answer = requests.post(
        f"{server.v2(REPOSITORY)}/blobs/uploads/",
        headers=bearer(restarted.bearer_token),
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


def test_upload_session_survives_restart(restarted: Restarted) -> None:
    session = Session(restarted.second, REPOSITORY, f"AWS:{restarted.password}")
    status = session.get(restarted.upload_location)
    assert status.status_code == 204, status.text
    assert status.headers["Range"] == f"0-{PARTIAL_SPLIT - 1}"
    patched = session.patch(restarted.upload_location, data=PARTIAL[PARTIAL_SPLIT:])
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{len(PARTIAL) - 1}"
    done = session.put(patched.headers["Location"], params={"digest": sha256_digest(PARTIAL)})
    assert done.status_code == 201, done.text
    assert session.get(f"blobs/{sha256_digest(PARTIAL)}").content == PARTIAL


def _time_to_first_answer(data: Path) -> tuple[float, subprocess.Popen[bytes]]:
    port = free_port()
    begun = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "berth", "serve", "--port", str(port), "--data", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.monotonic() - begun < 10:
            assert process.poll() is None, "berth exited early"
            try:
                response = requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
            except requests.ConnectionError:
                time.sleep(0.02)
                continue
            assert response.status_code == 401
            return time.monotonic() - begun, process
        raise AssertionError("berth did not answer within 10 s")
    except BaseException:
        process.kill()
        process.wait()
        raise


@pytest.mark.parametrize("state", ["fresh", "existing"])
def test_serve_answers_within_two_seconds(tmp_path: Path, state: str) -> None:
    data = tmp_path / "data"
    if state == "existing":
        server = start_server(data)
        server.ecr().create_repository(repositoryName="warm/app")
        server.stop()
    elapsed, process = _time_to_first_answer(data)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=5) == 0
    assert elapsed < 2.0, f"first answer after {elapsed:.2f} s"
