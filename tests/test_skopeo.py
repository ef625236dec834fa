"""The real skopeo against berth: push, inspect, list, pull back byte for byte, delete;
and the same images seen through the ECR Public API (one image, two faces)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Server, aws
from support import images, skopeo
from support.ecr import push_image_via_api
from support.pulled import artifact_media_type, assert_pulled, expected_payloads, image_size, pull
from support.registry import Session, error_codes

Item = images.Image | images.Index
ACCEPT = {
    "Accept": ", ".join(
        [images.OCI_MANIFEST, images.OCI_INDEX, images.DOCKER_MANIFEST, images.DOCKER_MANIFEST_LIST]
    )
}

KINDS: dict[str, Callable[[], Item]] = {
    "oci-image": lambda: images.oci_image(9101, n_layers=3),
    "docker-image": lambda: images.docker_image(9102, n_layers=3),
    "oci-index": lambda: images.oci_index(
        [
            images.oci_image(9103, n_layers=2, architecture="amd64"),
            images.oci_image(9104, n_layers=3, architecture="arm64", variant="v8"),
        ]
    ),
}


@pytest.fixture(scope="module")
def creds(server: Server) -> str:
    return server.creds()


@pytest.fixture(autouse=True)
def _no_login_leaks() -> Iterator[None]:
    skopeo.reset_login()
    yield
    skopeo.reset_login()


def skopeo_push(server: Server, repository: str, item: Item, tmp_path: Path, creds: str) -> None:
    src = images.write_layout(tmp_path / "src", item, "latest")
    skopeo.copy(
        src,
        server.ref(repository, "v1"),
        all=isinstance(item, images.Index),
        preserve_digests=True,
        creds=creds,
    )


def all_images(item: Item) -> list[Item]:
    return [item, *item.images] if isinstance(item, images.Index) else [item]


def describe(ecr: Any, repository: str) -> dict[str, dict[str, Any]]:
    details = ecr.describe_images(repositoryName=repository)["imageDetails"]
    by_digest = {d["imageDigest"]: d for d in details}
    assert len(by_digest) == len(details), "one entry per digest"
    return by_digest


def assert_described(
    ecr: Any, repository: str, item: Item, tags: list[str], server: Server
) -> None:
    """DescribeImages / DescribeImageTags show `item` (and an index's children)."""
    details = describe(ecr, repository)
    assert sorted(details) == sorted(i.digest for i in all_images(item))
    for each in all_images(item):
        detail = details[each.digest]
        assert detail["registryId"] == server.account_id
        assert detail["repositoryName"] == repository
        assert sorted(detail.get("imageTags", [])) == (tags if each is item else [])
        assert detail["imageSizeInBytes"] == image_size(each)
        assert detail["imageManifestMediaType"] == each.media_type
        assert detail["artifactMediaType"] == artifact_media_type(each)
        assert detail["imagePushedAt"] is not None

    tag_details = ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"]
    assert sorted(t["imageTag"] for t in tag_details) == tags
    for entry in tag_details:
        detail = entry["imageDetail"]
        assert detail["imageDigest"] == item.digest
        assert detail["imageSizeInBytes"] == image_size(item)
        assert detail["imageManifestMediaType"] == item.media_type
        assert detail["artifactMediaType"] == artifact_media_type(item)


def assert_gone(server: Server, repository: str, reference: str) -> None:
    session = Session(server, repository)
    response = session.get(f"manifests/{reference}", headers=ACCEPT)
    assert response.status_code == 404, response.text
    assert "MANIFEST_UNKNOWN" in error_codes(response)
    failed = skopeo.skopeo("inspect", "--raw", server.ref(repository, reference), check=False)
    assert failed.returncode != 0
    assert "manifest unknown" in failed.stderr.lower(), failed.stderr


@pytest.mark.parametrize("kind", list(KINDS))
def test_skopeo_push_pull_describe_delete(
    server: Server, ecr: Any, repository: str, tmp_path: Path, creds: str, kind: str
) -> None:
    item = KINDS[kind]()
    skopeo_push(server, repository, item, tmp_path, creds)

    # The registry face: exact bytes, tags, and a byte-identical pull.
    assert skopeo.inspect_raw(server.ref(repository, "v1")) == item.manifest
    assert skopeo.inspect_raw(server.ref(repository, item.digest)) == item.manifest
    for child in all_images(item)[1:]:
        assert skopeo.inspect_raw(server.ref(repository, child.digest)) == child.manifest
    assert skopeo.list_tags(server.ref(repository)) == ["v1"]
    if isinstance(item, images.Image):
        assert skopeo.inspect_config(server.ref(repository, "v1")) == item.config.data
        summary = skopeo.inspect(server.ref(repository, "v1"))
        assert summary["Digest"] == item.digest
        assert summary["Layers"] == [layer.digest for layer in item.layers]
    pull(server.ref(repository, "v1"), tmp_path / "out", item)
    assert_pulled(tmp_path / "out", item)

    # The API face: the same image.
    assert_described(ecr, repository, item, ["v1"], server)

    # skopeo delete removes it from both faces.
    skopeo.delete(server.ref(repository, "v1"), creds=creds)
    assert_gone(server, repository, "v1")
    assert_gone(server, repository, item.digest)
    assert item.digest not in describe(ecr, repository)
    assert ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"] == []
    assert skopeo.list_tags(server.ref(repository)) == []


def test_skopeo_push_docker_manifest_list(
    server: Server, ecr: Any, repository: str, tmp_path: Path, creds: str
) -> None:
    item = images.docker_manifest_list(
        [
            images.docker_image(9105, n_layers=1, architecture="amd64"),
            images.docker_image(9106, n_layers=2, architecture="arm64", variant="v8"),
        ]
    )
    skopeo_push(server, repository, item, tmp_path, creds)
    assert skopeo.inspect_raw(server.ref(repository, "v1")) == item.manifest
    pull(server.ref(repository, "v1"), tmp_path / "out", item)
    assert_pulled(tmp_path / "out", item)
    assert_described(ecr, repository, item, ["v1"], server)


def test_skopeo_push_second_tag_and_delete_by_digest(
    server: Server, ecr: Any, repository: str, tmp_path: Path, creds: str
) -> None:
    item = images.oci_image(9107, n_layers=2)
    skopeo_push(server, repository, item, tmp_path, creds)
    skopeo.copy(
        server.ref(repository, "v1"),
        server.ref(repository, "stable"),
        preserve_digests=True,
        creds=creds,
    )
    assert sorted(skopeo.list_tags(server.ref(repository))) == ["stable", "v1"]
    assert skopeo.inspect_raw(server.ref(repository, "stable")) == item.manifest
    assert_described(ecr, repository, item, ["stable", "v1"], server)
    skopeo.delete(server.ref(repository, item.digest), creds=creds)
    for reference in ("v1", "stable", item.digest):
        assert_gone(server, repository, reference)
    assert describe(ecr, repository) == {}


def test_skopeo_push_needs_credentials(server: Server, repository: str, tmp_path: Path) -> None:
    item = images.oci_image(9108, n_layers=1)
    src = images.write_layout(tmp_path / "src", item)
    anonymous = skopeo.copy(src, server.ref(repository, "v1"), check=False)
    assert anonymous.returncode != 0
    wrong = skopeo.copy(src, server.ref(repository, "v1"), creds="AWS:wrong", check=False)
    assert wrong.returncode != 0
    assert skopeo.list_tags(server.ref(repository)) == []


def test_skopeo_login(server: Server, repository: str, tmp_path: Path) -> None:
    failed = skopeo.login(server.host, "AWS", "not-the-password", check=False)
    assert failed.returncode != 0
    assert "Login Succeeded" not in failed.stdout

    done = skopeo.login(server.host, "AWS", server.password())
    assert "Login Succeeded" in done.stdout, done.stdout + done.stderr
    item = images.oci_image(9109, n_layers=1)
    src = images.write_layout(tmp_path / "src", item)
    skopeo.copy(src, server.ref(repository, "v1"), use_login=True, preserve_digests=True)
    assert skopeo.inspect_raw(server.ref(repository, "v1"), use_login=True) == item.manifest
    skopeo.delete(server.ref(repository, "v1"), use_login=True)
    assert_gone(server, repository, item.digest)


def test_aws_cli_password_logs_skopeo_in(server: Server, repository: str, tmp_path: Path) -> None:
    result = aws(server, "get-login-password")
    assert result.returncode == 0, result.stderr
    done = skopeo.login(server.host, "AWS", result.stdout.strip())
    assert "Login Succeeded" in done.stdout
    item = images.oci_image(9110, n_layers=1)
    src = images.write_layout(tmp_path / "src", item)
    skopeo.copy(src, server.ref(repository, "v1"), use_login=True, preserve_digests=True)
    assert skopeo.inspect_raw(server.ref(repository, "v1")) == item.manifest


API_KINDS: dict[str, Callable[[], Item]] = {
    "oci-image": lambda: images.oci_image(9201, n_layers=3),
    "docker-image": lambda: images.docker_image(9202, n_layers=2),
    "oci-index": lambda: images.oci_index(
        [
            images.oci_image(9203, n_layers=1, architecture="amd64"),
            images.oci_image(9204, n_layers=2, architecture="arm64", variant="v8"),
        ]
    ),
    "docker-list": lambda: images.docker_manifest_list(
        [
            images.docker_image(9205, n_layers=1, architecture="amd64"),
            images.docker_image(9206, n_layers=1, architecture="arm", variant="v7"),
        ]
    ),
}


@pytest.mark.parametrize("kind", list(API_KINDS))
def test_image_pushed_through_api_pulls_with_skopeo(
    server: Server, ecr: Any, repository: str, tmp_path: Path, kind: str
) -> None:
    item = API_KINDS[kind]()
    pushed = push_image_via_api(ecr, repository, item, tag="api")
    assert pushed["imageId"]["imageDigest"] == item.digest
    assert skopeo.inspect_raw(server.ref(repository, "api")) == item.manifest
    assert skopeo.list_tags(server.ref(repository)) == ["api"]
    pull(server.ref(repository, "api"), tmp_path / "out", item)
    assert_pulled(tmp_path / "out", item)
    # And every blob over plain /v2 too.
    session = Session(server, repository)
    for digest, data in expected_payloads(item).items():
        if digest in {i.digest for i in all_images(item)}:
            continue
        assert session.get(f"blobs/{digest}").content == data
    assert_described(ecr, repository, item, ["api"], server)


def test_batch_delete_image_removes_it_from_v2(
    server: Server, ecr: Any, repository: str, tmp_path: Path, creds: str
) -> None:
    item = images.oci_image(9301, n_layers=2)
    keep = images.oci_image(9302, n_layers=1)
    skopeo_push(server, repository, item, tmp_path, creds)
    push_image_via_api(ecr, repository, keep, tag="keep")
    assert skopeo.inspect_raw(server.ref(repository, "v1")) == item.manifest

    answer = ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": "v1"}])
    assert answer["failures"] == []
    assert answer["imageIds"] == [{"imageDigest": item.digest, "imageTag": "v1"}]
    assert_gone(server, repository, "v1")
    assert_gone(server, repository, item.digest)
    assert skopeo.list_tags(server.ref(repository)) == ["keep"]
    assert skopeo.inspect_raw(server.ref(repository, "keep")) == keep.manifest


def test_batch_delete_by_digest_removes_all_tags_from_v2(
    server: Server, ecr: Any, repository: str, tmp_path: Path, creds: str
) -> None:
    item = images.docker_image(9303, n_layers=1)
    skopeo_push(server, repository, item, tmp_path, creds)
    push_image_via_api(ecr, repository, item, tag="second")
    assert sorted(skopeo.list_tags(server.ref(repository))) == ["second", "v1"]
    answer = ecr.batch_delete_image(
        repositoryName=repository, imageIds=[{"imageDigest": item.digest}]
    )
    assert answer["failures"] == []
    assert {i["imageDigest"] for i in answer["imageIds"]} == {item.digest}
    for reference in ("v1", "second", item.digest):
        assert_gone(server, repository, reference)
    assert skopeo.list_tags(server.ref(repository)) == []
