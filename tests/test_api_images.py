"""PutImage, DescribeImages, DescribeImageTags, BatchDeleteImage over the ECR Public API
(and C4, C5, C6), with /v2 reads to check what the API did."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import aws
from support import ecr as api
from support import images

ACCOUNT = "123456789012"


def expect_error(code: str, call, **kwargs) -> ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    assert api.error_code(info.value) == code, info.value.response
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return info.value


def small_oci(seed: int, n_layers: int = 2, layer_size: int = 512) -> images.Image:
    return images.oci_image(seed, n_layers=n_layers, layer_size=layer_size)


def blob_bytes(image: images.Image) -> int:
    """What ECR reports as imageSizeInBytes for an image: config plus layers."""
    return sum(blob.size for blob in image.blobs)


def describe(ecr, repository: str) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """All images of the repository by digest (follows pagination)."""
    pages = ecr.get_paginator("describe_images").paginate(repositoryName=repository)
    out: dict[str, dict[str, Any]] = {}
    for page in pages:
        for detail in page["imageDetails"]:
            assert detail["imageDigest"] not in out
            out[detail["imageDigest"]] = detail
    return out


def tags_of(ecr, repository: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """tag -> digest, from DescribeImageTags."""
    pages = ecr.get_paginator("describe_image_tags").paginate(repositoryName=repository)
    return {
        t["imageTag"]: t["imageDetail"]["imageDigest"]
        for page in pages
        for t in page["imageTagDetails"]
    }


def get_manifest(server, repository: str, reference: str) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(
        f"{server.v2(repository)}/manifests/{reference}",
        headers={
            **api.pull_headers(server, repository),
            "Accept": ", ".join(
                [
                    images.OCI_MANIFEST,
                    images.OCI_INDEX,
                    images.DOCKER_MANIFEST,
                    images.DOCKER_MANIFEST_LIST,
                ]
            ),
        },
        timeout=10,
    )


def assert_recent(stamp: datetime) -> None:
    assert isinstance(stamp, datetime)
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=2)


def no_media_type_manifest(image: images.Image) -> bytes:
    """The image's manifest without a top-level mediaType, as Helm and some OCI tools write it."""
    doc = {
        "schemaVersion": 2,
        "config": image.config.descriptor(),
        "layers": [layer.descriptor() for layer in image.layers],
    }
    return images.dump_json(doc)


@pytest.fixture
def other_repository(ecr) -> str:  # type: ignore[no-untyped-def]
    name = f"test/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=name)
    return name


# --- a push through the API ----------------------------------------------------------------------


def test_push_via_api_and_describe(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(201, n_layers=3)
    pushed = api.push_image_via_api(ecr, repository, image, tag="v1")
    assert pushed == {
        "registryId": ACCOUNT,
        "repositoryName": repository,
        "imageId": {"imageDigest": image.digest, "imageTag": "v1"},
        "imageManifest": image.manifest.decode(),
        "imageManifestMediaType": images.OCI_MANIFEST,
    }
    assert image.digest == images.sha256_digest(image.manifest)

    (detail,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert detail["registryId"] == ACCOUNT
    assert detail["repositoryName"] == repository
    assert detail["imageDigest"] == image.digest
    assert detail["imageTags"] == ["v1"]
    assert detail["imageSizeInBytes"] == blob_bytes(image)
    assert detail["imageManifestMediaType"] == images.OCI_MANIFEST
    assert detail["artifactMediaType"] == images.OCI_CONFIG
    assert_recent(detail["imagePushedAt"])

    (tag,) = ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"]
    assert tag["imageTag"] == "v1"
    assert_recent(tag["createdAt"])
    assert tag["imageDetail"] == {
        "imageDigest": image.digest,
        "imageSizeInBytes": blob_bytes(image),
        "imagePushedAt": detail["imagePushedAt"],
        "imageManifestMediaType": images.OCI_MANIFEST,
        "artifactMediaType": images.OCI_CONFIG,
    }

    # /v2 serves the exact bytes under the tag and the digest.
    for reference in ("v1", image.digest):
        response = get_manifest(server, repository, reference)
        assert response.status_code == 200
        assert response.content == image.manifest
        assert response.headers["Docker-Content-Digest"] == image.digest
        assert response.headers["Content-Type"] == images.OCI_MANIFEST


def test_push_docker_image_via_api(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = images.docker_image(202, n_layers=2, layer_size=700)
    pushed = api.push_image_via_api(ecr, repository, image, tag="latest")
    assert pushed["imageManifestMediaType"] == images.DOCKER_MANIFEST
    (detail,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert detail["imageDigest"] == image.digest
    assert detail["imageManifestMediaType"] == images.DOCKER_MANIFEST
    assert detail["artifactMediaType"] == images.DOCKER_CONFIG
    assert detail["imageSizeInBytes"] == blob_bytes(image)


def test_put_image_echoes_exact_manifest_text(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(203)
    api.upload_blobs(ecr, repository, image.blobs)
    answer = ecr.put_image(
        repositoryName=repository, imageManifest=image.manifest.decode(), imageTag="x"
    )["image"]
    assert answer["imageManifest"] == image.manifest.decode()
    assert answer["imageId"]["imageDigest"] == image.digest
    assert answer["imageManifestMediaType"] == images.OCI_MANIFEST
    # A compact rendering of the same JSON is other bytes, so another image.
    compact = json.dumps(json.loads(image.manifest), separators=(",", ":")).encode()
    other = api.put_manifest(ecr, repository, compact, tag="y")
    assert other["imageId"]["imageDigest"] == images.sha256_digest(compact) != image.digest
    assert set(describe(ecr, repository)) == {image.digest, images.sha256_digest(compact)}


def test_put_image_by_digest_without_tag(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(204)
    pushed = api.push_image_via_api(ecr, repository, image, tag=None)
    assert pushed["imageId"] == {"imageDigest": image.digest}
    (detail,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert detail["imageDigest"] == image.digest
    assert "imageTags" not in detail  # untagged images are listed without imageTags
    assert ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"] == []


# --- PutImage errors -----------------------------------------------------------------------------


def test_put_image_missing_layer(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(205, n_layers=2)
    api.upload_blobs(ecr, repository, [image.config, image.layers[0]])
    err = expect_error(
        "LayersNotFoundException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=image.manifest.decode(),
        imageTag="v1",
    )
    assert image.layers[1].digest in err.response["Error"]["Message"]
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []


def test_put_image_missing_config(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(206, n_layers=1)
    api.upload_blobs(ecr, repository, image.layers)
    expect_error(
        "LayersNotFoundException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=image.manifest.decode(),
        imageTag="v1",
    )


def test_put_image_layers_of_another_repository_do_not_count(
    ecr,  # type: ignore[no-untyped-def]
    repository,
    other_repository,
) -> None:
    image = small_oci(207)
    api.upload_blobs(ecr, other_repository, image.blobs)
    expect_error(
        "LayersNotFoundException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=image.manifest.decode(),
        imageTag="v1",
    )


def test_put_image_digest_mismatch(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(208)
    api.upload_blobs(ecr, repository, image.blobs)
    expect_error(
        "ImageDigestDoesNotMatchException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=image.manifest.decode(),
        imageTag="v1",
        imageDigest=images.sha256_digest(image.manifest + b" "),
    )
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []
    # The right digest is accepted.
    pushed = api.put_manifest(ecr, repository, image.manifest, tag="v1", digest=image.digest)
    assert pushed["imageId"] == {"imageDigest": image.digest, "imageTag": "v1"}


def test_put_index_with_missing_child(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    present, absent = small_oci(209), small_oci(210)
    index = images.oci_index([present, absent])
    api.push_image_via_api(ecr, repository, present, tag=None)
    err = expect_error(
        "ReferencedImagesNotFoundException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=index.manifest.decode(),
        imageTag="multi",
    )
    assert absent.digest in err.response["Error"]["Message"]
    assert set(describe(ecr, repository)) == {present.digest}


@pytest.mark.parametrize(
    "manifest", ["{not json", '{"schemaVersion": 2, "config": ', "[]", "plain text"]
)
def test_put_image_invalid_json(ecr, repository, manifest: str) -> None:  # type: ignore[no-untyped-def]
    expect_error(
        "InvalidParameterException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=manifest,
        imageTag="v1",
        imageManifestMediaType=images.OCI_MANIFEST,
    )
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []


def test_put_image_needs_a_tag_or_a_digest(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(2141)
    api.upload_blobs(ecr, repository, image.blobs)
    expect_error(
        "InvalidParameterException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=image.manifest.decode(),
    )
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []


def test_put_image_unknown_repository(ecr) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(211)
    expect_error(
        "RepositoryNotFoundException",
        ecr.put_image,
        repositoryName=f"test/missing-{uuid.uuid4().hex[:8]}",
        imageManifest=image.manifest.decode(),
        imageTag="v1",
    )


def test_tag_length_limits(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(212)
    api.upload_blobs(ecr, repository, image.blobs)
    expect_error(
        "InvalidParameterException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=image.manifest.decode(),
        imageTag="t" * 301,
    )
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []
    # The model's 300 characters are fine for PutImage (unlike /v2's 128).
    longest = "t" * 300
    api.put_manifest(ecr, repository, image.manifest, tag=longest)
    assert tags_of(ecr, repository) == {longest: image.digest}


# --- C4: manifests without mediaType -------------------------------------------------------------


def test_c4_manifest_without_media_type(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(213)
    manifest = no_media_type_manifest(image)
    assert b"mediaType" not in manifest.split(b'"config"')[0]
    digest = images.sha256_digest(manifest)
    api.upload_blobs(ecr, repository, image.blobs)

    expect_error(
        "InvalidParameterException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=manifest.decode(),
        imageTag="chart",
    )
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []

    pushed = api.put_manifest(
        ecr, repository, manifest, tag="chart", media_type=images.OCI_MANIFEST
    )
    assert pushed["imageManifestMediaType"] == images.OCI_MANIFEST
    assert pushed["imageId"] == {"imageDigest": digest, "imageTag": "chart"}
    (detail,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert detail["imageDigest"] == digest
    assert detail["imageManifestMediaType"] == images.OCI_MANIFEST
    assert detail["artifactMediaType"] == images.OCI_CONFIG

    response = get_manifest(server, repository, "chart")
    assert response.status_code == 200
    assert response.content == manifest
    assert response.headers["Content-Type"] == images.OCI_MANIFEST


# --- C5: retag with PutImage ---------------------------------------------------------------------


def test_c5_retag_pushed_image_with_put_image(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(214)
    api.upload_blobs(ecr, repository, image.blobs)
    # Push M as r:v1 over /v2.
    response = requests.put(
        f"{server.v2(repository)}/manifests/v1",
        data=image.manifest,
        headers={**api.push_headers(server, repository), "Content-Type": images.OCI_MANIFEST},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == image.digest

    pushed = api.put_manifest(
        ecr, repository, image.manifest, tag="v2", media_type=images.OCI_MANIFEST
    )
    assert pushed["imageId"] == {"imageDigest": image.digest, "imageTag": "v2"}

    details = describe(ecr, repository)
    assert list(details) == [image.digest]
    assert sorted(details[image.digest]["imageTags"]) == ["v1", "v2"]
    assert tags_of(ecr, repository) == {"v1": image.digest, "v2": image.digest}
    for tag in ("v1", "v2"):
        got = get_manifest(server, repository, tag)
        assert got.status_code == 200
        assert got.content == image.manifest


def test_retag_entirely_through_the_api(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(215)
    first = api.push_image_via_api(ecr, repository, image, tag="a")
    pushed_at = ecr.describe_images(repositoryName=repository)["imageDetails"][0]["imagePushedAt"]
    second = api.put_manifest(ecr, repository, image.manifest, tag="b")
    assert first["imageId"]["imageDigest"] == second["imageId"]["imageDigest"] == image.digest
    (detail,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert sorted(detail["imageTags"]) == ["a", "b"]
    assert detail["imagePushedAt"] >= pushed_at


# --- C6: same manifest, same tag, twice ----------------------------------------------------------


def test_c6_same_manifest_same_tag_twice(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(216)
    api.push_image_via_api(ecr, repository, image, tag="v1")
    before_images = ecr.describe_images(repositoryName=repository)["imageDetails"]
    before_tags = ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"]

    err = expect_error(
        "ImageAlreadyExistsException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=image.manifest.decode(),
        imageTag="v1",
    )
    assert image.digest in err.response["Error"]["Message"]
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == before_images
    assert ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"] == before_tags

    # The same bytes under a new tag are fine.
    pushed = api.put_manifest(ecr, repository, image.manifest, tag="v2")
    assert pushed["imageId"] == {"imageDigest": image.digest, "imageTag": "v2"}
    assert tags_of(ecr, repository) == {"v1": image.digest, "v2": image.digest}
    assert len(describe(ecr, repository)) == 1


def test_same_manifest_twice_by_digest_only(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(217)
    api.push_image_via_api(ecr, repository, image, tag=None)
    expect_error(
        "ImageAlreadyExistsException",
        ecr.put_image,
        repositoryName=repository,
        imageManifest=image.manifest.decode(),
        imageDigest=image.digest,
    )


def test_tag_moves_to_a_new_image(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    old, new = small_oci(218), small_oci(219)
    api.push_image_via_api(ecr, repository, old, tag="latest")
    api.put_manifest(ecr, repository, old.manifest, tag="stable")
    (before,) = [
        t
        for t in ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"]
        if t["imageTag"] == "latest"
    ]
    api.push_image_via_api(ecr, repository, new, tag="latest")
    (after,) = [
        t
        for t in ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"]
        if t["imageTag"] == "latest"
    ]
    # The tag's createdAt is when it was pointed at its current image.
    assert after["createdAt"] > before["createdAt"]
    assert after["imageDetail"]["imageDigest"] == new.digest
    details = describe(ecr, repository)
    assert set(details) == {old.digest, new.digest}
    assert details[new.digest]["imageTags"] == ["latest"]
    assert details[old.digest]["imageTags"] == ["stable"]
    assert tags_of(ecr, repository) == {"latest": new.digest, "stable": old.digest}
    # Moving the last tag away leaves the old image untagged, not deleted.
    api.put_manifest(ecr, repository, new.manifest, tag="stable")
    details = describe(ecr, repository)
    assert "imageTags" not in details[old.digest]
    assert sorted(details[new.digest]["imageTags"]) == ["latest", "stable"]


# --- indexes -------------------------------------------------------------------------------------


def test_index_size_is_the_largest_child(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    small = images.oci_image(220, n_layers=1, layer_size=300)
    large = images.oci_image(221, n_layers=3, layer_size=2000, architecture="arm64")
    index = images.oci_index([small, large])
    pushed = api.push_image_via_api(ecr, repository, index, tag="multi")
    assert pushed["imageId"] == {"imageDigest": index.digest, "imageTag": "multi"}
    assert pushed["imageManifestMediaType"] == images.OCI_INDEX

    details = describe(ecr, repository)
    assert set(details) == {small.digest, large.digest, index.digest}
    assert details[small.digest]["imageSizeInBytes"] == blob_bytes(small)
    assert details[large.digest]["imageSizeInBytes"] == blob_bytes(large)
    assert blob_bytes(large) > blob_bytes(small)
    top = details[index.digest]
    assert top["imageSizeInBytes"] == blob_bytes(large)  # the max, not the sum
    assert top["imageManifestMediaType"] == images.OCI_INDEX
    assert top["imageTags"] == ["multi"]
    for child in (small, large):
        assert "imageTags" not in details[child.digest]
    response = get_manifest(server, repository, "multi")
    assert response.content == index.manifest


def test_docker_manifest_list_via_api(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    children = [
        images.docker_image(222, n_layers=1, layer_size=100),
        images.docker_image(223, n_layers=2, layer_size=100, architecture="arm64"),
    ]
    listing = images.docker_manifest_list(children)
    api.push_image_via_api(ecr, repository, listing, tag="list")
    top = describe(ecr, repository)[listing.digest]
    assert top["imageManifestMediaType"] == images.DOCKER_MANIFEST_LIST
    assert top["imageSizeInBytes"] == max(blob_bytes(c) for c in children)


# --- DescribeImages ------------------------------------------------------------------------------


def test_describe_images_by_ids(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    a, b = small_oci(224), small_oci(225)
    api.push_image_via_api(ecr, repository, a, tag="a")
    api.push_image_via_api(ecr, repository, b, tag="b")

    (by_tag,) = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "b"}])[
        "imageDetails"
    ]
    assert by_tag["imageDigest"] == b.digest
    (by_digest,) = ecr.describe_images(
        repositoryName=repository, imageIds=[{"imageDigest": a.digest}]
    )["imageDetails"]
    assert by_digest["imageDigest"] == a.digest
    assert by_digest["imageTags"] == ["a"]
    both = ecr.describe_images(
        repositoryName=repository,
        imageIds=[{"imageDigest": a.digest, "imageTag": "a"}, {"imageTag": "b"}],
    )["imageDetails"]
    assert sorted(d["imageDigest"] for d in both) == sorted([a.digest, b.digest])
    assert "nextToken" not in ecr.describe_images(
        repositoryName=repository, imageIds=[{"imageTag": "a"}]
    )


@pytest.mark.parametrize(
    "missing",
    [
        {"imageTag": "nope"},
        {"imageDigest": "sha256:" + "0" * 64},
        {"imageDigest": "sha256:" + "0" * 64, "imageTag": "a"},  # tag exists, digest does not
    ],
)
def test_describe_images_missing_id(ecr, repository, missing: dict) -> None:  # type: ignore[no-untyped-def]
    api.push_image_via_api(ecr, repository, small_oci(226), tag="a")
    err = expect_error(
        "ImageNotFoundException",
        ecr.describe_images,
        repositoryName=repository,
        imageIds=[{"imageTag": "a"}, missing],
    )
    assert "imageDetails" not in err.response


def test_describe_images_ids_with_max_results(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    api.push_image_via_api(ecr, repository, small_oci(227), tag="a")
    expect_error(
        "InvalidParameterException",
        ecr.describe_images,
        repositoryName=repository,
        imageIds=[{"imageTag": "a"}],
        maxResults=5,
    )


def test_describe_images_unknown_repository(ecr) -> None:  # type: ignore[no-untyped-def]
    missing = f"test/missing-{uuid.uuid4().hex[:8]}"
    expect_error("RepositoryNotFoundException", ecr.describe_images, repositoryName=missing)
    expect_error("RepositoryNotFoundException", ecr.describe_image_tags, repositoryName=missing)


def test_too_many_image_ids(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    ids = [{"imageTag": f"t{i}"} for i in range(101)]
    expect_error(
        "InvalidParameterException", ecr.describe_images, repositoryName=repository, imageIds=ids
    )
    expect_error(
        "InvalidParameterException", ecr.batch_delete_image, repositoryName=repository, imageIds=ids
    )


# --- pagination ----------------------------------------------------------------------------------


@pytest.fixture
def five_images(ecr, repository) -> list[images.Image]:  # type: ignore[no-untyped-def]
    pushed = [small_oci(230 + i, n_layers=1, layer_size=64) for i in range(5)]
    for i, image in enumerate(pushed):
        api.push_image_via_api(ecr, repository, image, tag=f"tag-{i}")
    return pushed


def test_describe_images_pagination(ecr, repository, five_images) -> None:  # type: ignore[no-untyped-def]
    pages = list(
        ecr.get_paginator("describe_images").paginate(
            repositoryName=repository, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["imageDetails"]) for p in pages] == [2, 2, 1]
    assert "nextToken" not in pages[-1]
    seen = [d["imageDigest"] for p in pages for d in p["imageDetails"]]
    assert sorted(seen) == sorted(i.digest for i in five_images)


def test_describe_image_tags_pagination(ecr, repository, five_images) -> None:  # type: ignore[no-untyped-def]
    pages = list(
        ecr.get_paginator("describe_image_tags").paginate(
            repositoryName=repository, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["imageTagDetails"]) for p in pages] == [2, 2, 1]
    assert "nextToken" not in pages[-1]
    seen = {
        t["imageTag"]: t["imageDetail"]["imageDigest"] for p in pages for t in p["imageTagDetails"]
    }
    assert sum(len(p["imageTagDetails"]) for p in pages) == 5
    assert seen == {f"tag-{i}": image.digest for i, image in enumerate(five_images)}


def test_cli_describe_images_follows_pages(server, repository, five_images) -> None:  # type: ignore[no-untyped-def]
    result = aws(server, "describe-images", "--repository-name", repository, "--page-size", "2")
    assert result.returncode == 0, result.stderr
    details = json.loads(result.stdout)["imageDetails"]
    assert sorted(d["imageDigest"] for d in details) == sorted(i.digest for i in five_images)


def test_image_next_tokens_are_checked(ecr, repository, other_repository, five_images) -> None:  # type: ignore[no-untyped-def]
    token = ecr.describe_images(repositoryName=repository, maxResults=2)["nextToken"]
    tag_token = ecr.describe_image_tags(repositoryName=repository, maxResults=2)["nextToken"]
    for bad in ("garbage", tag_token):  # forged, or issued by another operation
        expect_error(
            "InvalidParameterException",
            ecr.describe_images,
            repositoryName=repository,
            nextToken=bad,
        )
    # A token is only good for the repository it came from.
    expect_error(
        "InvalidParameterException",
        ecr.describe_images,
        repositoryName=other_repository,
        nextToken=token,
    )
    expect_error(
        "InvalidParameterException",
        ecr.describe_image_tags,
        repositoryName=repository,
        nextToken="garbage",
    )


# --- BatchDeleteImage ----------------------------------------------------------------------------


def test_delete_by_tag_keeps_image_with_other_tags(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(240)
    api.push_image_via_api(ecr, repository, image, tag="a")
    api.put_manifest(ecr, repository, image.manifest, tag="b")
    answer = ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": "a"}])
    assert answer["imageIds"] == [{"imageDigest": image.digest, "imageTag": "a"}]
    assert answer["failures"] == []
    details = describe(ecr, repository)
    assert details[image.digest]["imageTags"] == ["b"]
    assert tags_of(ecr, repository) == {"b": image.digest}


def test_delete_last_tag_deletes_image(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(241)
    api.push_image_via_api(ecr, repository, image, tag="only")
    answer = ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": "only"}])
    assert answer["imageIds"] == [{"imageDigest": image.digest, "imageTag": "only"}]
    assert answer["failures"] == []
    assert describe(ecr, repository) == {}
    expect_error(
        "ImageNotFoundException",
        ecr.describe_images,
        repositoryName=repository,
        imageIds=[{"imageDigest": image.digest}],
    )
    assert get_manifest(server, repository, image.digest).status_code == 404


def test_delete_by_digest_removes_every_tag(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image, keep = small_oci(242), small_oci(243)
    api.push_image_via_api(ecr, repository, image, tag="x")
    api.put_manifest(ecr, repository, image.manifest, tag="y")
    api.push_image_via_api(ecr, repository, keep, tag="keep")
    answer = ecr.batch_delete_image(
        repositoryName=repository, imageIds=[{"imageDigest": image.digest}]
    )
    assert answer["failures"] == []
    assert sorted(answer["imageIds"], key=lambda i: i["imageTag"]) == [
        {"imageDigest": image.digest, "imageTag": "x"},
        {"imageDigest": image.digest, "imageTag": "y"},
    ]
    assert set(describe(ecr, repository)) == {keep.digest}
    assert tags_of(ecr, repository) == {"keep": keep.digest}

    response = get_manifest(server, repository, image.digest)
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert get_manifest(server, repository, "x").status_code == 404


def test_delete_untagged_by_digest(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(244)
    api.push_image_via_api(ecr, repository, image, tag=None)
    answer = ecr.batch_delete_image(
        repositoryName=repository, imageIds=[{"imageDigest": image.digest}]
    )
    assert answer["imageIds"] == [{"imageDigest": image.digest}]
    assert describe(ecr, repository) == {}


def test_delete_by_digest_and_matching_tag(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(245)
    api.push_image_via_api(ecr, repository, image, tag="t")
    answer = ecr.batch_delete_image(
        repositoryName=repository, imageIds=[{"imageDigest": image.digest, "imageTag": "t"}]
    )
    assert answer["imageIds"] == [{"imageDigest": image.digest, "imageTag": "t"}]
    assert answer["failures"] == []
    assert describe(ecr, repository) == {}


def test_delete_failures(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    a, b = small_oci(246), small_oci(247)
    api.push_image_via_api(ecr, repository, a, tag="a")
    api.push_image_via_api(ecr, repository, b, tag="b")
    unknown = "sha256:" + "f" * 64
    requested = [
        {"imageDigest": a.digest, "imageTag": "b"},  # both exist, different images
        {},
        {"imageDigest": "sha256:not-hex"},
        {"imageDigest": "nope"},
        {"imageDigest": unknown},
        {"imageTag": "ghost"},
    ]
    answer = ecr.batch_delete_image(repositoryName=repository, imageIds=requested)
    assert answer["imageIds"] == []
    codes = [(f["imageId"], f["failureCode"]) for f in answer["failures"]]
    assert codes == [
        ({"imageDigest": a.digest, "imageTag": "b"}, "ImageTagDoesNotMatchDigest"),
        ({}, "MissingDigestAndTag"),
        ({"imageDigest": "sha256:not-hex"}, "InvalidImageDigest"),
        ({"imageDigest": "nope"}, "InvalidImageDigest"),
        ({"imageDigest": unknown}, "ImageNotFound"),
        ({"imageTag": "ghost"}, "ImageNotFound"),
    ]
    assert all(f["failureReason"] for f in answer["failures"])
    # Nothing was deleted.
    assert tags_of(ecr, repository) == {"a": a.digest, "b": b.digest}


def test_delete_mixed_success_and_failure(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(248)
    api.push_image_via_api(ecr, repository, image, tag="gone")
    answer = ecr.batch_delete_image(
        repositoryName=repository, imageIds=[{"imageTag": "gone"}, {"imageTag": "never"}]
    )
    assert answer["imageIds"] == [{"imageDigest": image.digest, "imageTag": "gone"}]
    assert [(f["imageId"], f["failureCode"]) for f in answer["failures"]] == [
        ({"imageTag": "never"}, "ImageNotFound")
    ]


def test_delete_child_of_index_is_refused(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    first, second = small_oci(249), small_oci(250)
    index = images.oci_index([first, second])
    api.push_image_via_api(ecr, repository, index, tag="multi")
    api.put_manifest(ecr, repository, first.manifest, tag="first")

    answer = ecr.batch_delete_image(
        repositoryName=repository,
        imageIds=[{"imageDigest": first.digest}, {"imageTag": "first"}],
    )
    assert answer["imageIds"] == []
    assert [f["failureCode"] for f in answer["failures"]] == ["ImageReferencedByManifestList"] * 2
    assert answer["failures"][0]["imageId"] == {"imageDigest": first.digest}
    assert answer["failures"][1]["imageId"] == {"imageTag": "first"}
    assert set(describe(ecr, repository)) == {first.digest, second.digest, index.digest}

    # Once the index is gone its children can go.
    gone = ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": "multi"}])
    assert gone["imageIds"] == [{"imageDigest": index.digest, "imageTag": "multi"}]
    answer = ecr.batch_delete_image(
        repositoryName=repository,
        imageIds=[{"imageDigest": first.digest}, {"imageDigest": second.digest}],
    )
    assert answer["failures"] == []
    assert describe(ecr, repository) == {}


def test_delete_extra_tag_of_index_child(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    child = small_oci(251)
    index = images.oci_index([child])
    api.push_image_via_api(ecr, repository, index, tag="multi")
    api.put_manifest(ecr, repository, child.manifest, tag="one")
    api.put_manifest(ecr, repository, child.manifest, tag="two")
    # Not its last tag: only the tag goes, the image (still listed by the index) stays.
    answer = ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": "one"}])
    assert answer["imageIds"] == [{"imageDigest": child.digest, "imageTag": "one"}]
    assert answer["failures"] == []
    assert describe(ecr, repository)[child.digest]["imageTags"] == ["two"]


def test_push_again_after_delete(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(252)
    api.push_image_via_api(ecr, repository, image, tag="again")
    ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageDigest": image.digest}])
    pushed = api.push_image_via_api(ecr, repository, image, tag="again")
    assert pushed["imageId"] == {"imageDigest": image.digest, "imageTag": "again"}
    assert tags_of(ecr, repository) == {"again": image.digest}
    assert get_manifest(server, repository, "again").content == image.manifest


def test_delete_unknown_repository(ecr) -> None:  # type: ignore[no-untyped-def]
    expect_error(
        "RepositoryNotFoundException",
        ecr.batch_delete_image,
        repositoryName=f"test/missing-{uuid.uuid4().hex[:8]}",
        imageIds=[{"imageTag": "x"}],
    )


# --- the aws CLI ---------------------------------------------------------------------------------


def test_cli_put_describe_delete(server, ecr, repository, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = images.docker_image(260, n_layers=1, layer_size=256)
    api.upload_blobs(ecr, repository, image.blobs)
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_bytes(image.manifest)

    put = aws(
        server,
        "put-image",
        "--repository-name",
        repository,
        "--image-manifest",
        f"file://{manifest_file}",
        "--image-tag",
        "cli",
    )
    assert put.returncode == 0, put.stderr
    out = json.loads(put.stdout)["image"]
    assert out["imageId"] == {"imageDigest": image.digest, "imageTag": "cli"}
    assert out["imageManifestMediaType"] == images.DOCKER_MANIFEST

    again = aws(
        server,
        "put-image",
        "--repository-name",
        repository,
        "--image-manifest",
        f"file://{manifest_file}",
        "--image-tag",
        "cli",
    )
    assert again.returncode in (254, 255)
    assert "ImageAlreadyExistsException" in again.stderr

    described = aws(server, "describe-images", "--repository-name", repository)
    assert described.returncode == 0, described.stderr
    (detail,) = json.loads(described.stdout)["imageDetails"]
    assert detail["imageDigest"] == image.digest
    assert detail["imageTags"] == ["cli"]
    assert detail["imageSizeInBytes"] == blob_bytes(image)
    assert detail["artifactMediaType"] == images.DOCKER_CONFIG

    tags = aws(server, "describe-image-tags", "--repository-name", repository)
    assert tags.returncode == 0, tags.stderr
    (tag,) = json.loads(tags.stdout)["imageTagDetails"]
    assert tag["imageTag"] == "cli"
    assert tag["imageDetail"]["imageDigest"] == image.digest

    deleted = aws(
        server,
        "batch-delete-image",
        "--repository-name",
        repository,
        "--image-ids",
        "imageTag=cli",
        "imageTag=missing",
    )
    assert deleted.returncode == 0, deleted.stderr  # failures do not fail the command
    body = json.loads(deleted.stdout)
    assert body["imageIds"] == [{"imageDigest": image.digest, "imageTag": "cli"}]
    (failure,) = body["failures"]
    assert failure["imageId"] == {"imageTag": "missing"}
    assert failure["failureCode"] == "ImageNotFound"
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []


def test_cli_put_image_without_media_type(server, ecr, repository, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = small_oci(261)
    api.upload_blobs(ecr, repository, image.blobs)
    manifest = no_media_type_manifest(image)
    manifest_file = tmp_path / "helm.json"
    manifest_file.write_bytes(manifest)
    args = ["put-image", "--repository-name", repository]
    args += ["--image-manifest", f"file://{manifest_file}", "--image-tag", "h"]
    refused = aws(server, *args)
    assert refused.returncode in (254, 255)
    assert "InvalidParameterException" in refused.stderr
    accepted = aws(server, *args, "--image-manifest-media-type", images.OCI_MANIFEST)
    assert accepted.returncode == 0, accepted.stderr
    image_out = json.loads(accepted.stdout)["image"]
    assert image_out["imageId"]["imageDigest"] == images.sha256_digest(manifest)
    assert image_out["imageManifestMediaType"] == images.OCI_MANIFEST


def test_cli_describe_images_missing(server, repository) -> None:  # type: ignore[no-untyped-def]
    result = aws(
        server, "describe-images", "--repository-name", repository, "--image-ids", "imageTag=nope"
    )
    assert result.returncode in (254, 255)
    assert "ImageNotFoundException" in result.stderr
