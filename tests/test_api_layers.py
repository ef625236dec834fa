"""Layer uploads through the API (C9): InitiateLayerUpload, UploadLayerPart,
CompleteLayerUpload, BatchCheckLayerAvailability, and /v2 serving the result."""

from __future__ import annotations

import random
import re
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from support import ecr as api
from support import images

MIB = 1024 * 1024
MAX_PART = 20_971_520  # LayerPartBlob's max in the service model
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def noise(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def expect_error(code: str, call, **kwargs) -> ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    assert api.error_code(info.value) == code, info.value.response
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return info.value


def initiate(ecr, repository: str) -> str:  # type: ignore[no-untyped-def]
    return str(ecr.initiate_layer_upload(repositoryName=repository)["uploadId"])


def part(ecr, repository: str, upload_id: str, first: int, data: bytes, **extra) -> dict:  # type: ignore[no-untyped-def]
    answer: dict = ecr.upload_layer_part(
        repositoryName=repository,
        uploadId=upload_id,
        partFirstByte=first,
        partLastByte=first + len(data) - 1,
        layerPartBlob=data,
        **extra,
    )
    return answer


def complete(ecr, repository: str, upload_id: str, data: bytes, **extra) -> dict:  # type: ignore[no-untyped-def]
    answer: dict = ecr.complete_layer_upload(
        repositoryName=repository,
        uploadId=upload_id,
        layerDigests=[images.sha256_digest(data)],
        **extra,
    )
    return answer


def fetch_blob(server, repository: str, digest: str) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(
        f"{server.v2(repository)}/blobs/{digest}",
        headers=api.pull_headers(server, repository),
        timeout=30,
    )


@pytest.fixture(scope="module")
def oversized_part() -> bytes:
    return b"\x00" * (MAX_PART + 1)


# --- the happy path ------------------------------------------------------------------------------


def test_initiate_layer_upload(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    answer = ecr.initiate_layer_upload(repositoryName=repository)
    assert UUID.fullmatch(answer["uploadId"])
    assert uuid.UUID(answer["uploadId"])
    assert isinstance(answer["partSize"], int)
    assert 5 * MIB <= answer["partSize"] <= MAX_PART
    # Every upload gets its own id.
    assert initiate(ecr, repository) != answer["uploadId"]


def test_single_part_upload_round_trip(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = noise(1, 1024)
    digest = images.sha256_digest(data)
    upload_id = initiate(ecr, repository)
    answer = part(ecr, repository, upload_id, 0, data)
    assert answer["lastByteReceived"] == 1023
    assert answer["uploadId"] == upload_id
    assert answer["repositoryName"] == repository
    assert answer["registryId"] == "123456789012"

    done = complete(ecr, repository, upload_id, data)
    assert done == {
        "registryId": "123456789012",
        "repositoryName": repository,
        "uploadId": upload_id,
        "layerDigest": digest,
        "ResponseMetadata": done["ResponseMetadata"],
    }

    check = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=[digest])
    assert check["failures"] == []
    (layer,) = check["layers"]
    assert layer["layerDigest"] == digest
    assert layer["layerAvailability"] == "AVAILABLE"
    assert layer["layerSize"] == 1024

    response = fetch_blob(server, repository, digest)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Docker-Content-Digest"] == digest


def test_two_parts_of_5_mib_and_100_bytes(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = noise(2, 5 * MIB + 100)
    upload_id = initiate(ecr, repository)
    first = part(ecr, repository, upload_id, 0, data[: 5 * MIB])
    assert first["lastByteReceived"] == 5 * MIB - 1
    second = part(ecr, repository, upload_id, 5 * MIB, data[5 * MIB :])
    assert second["lastByteReceived"] == 5 * MIB + 99
    done = complete(ecr, repository, upload_id, data)
    assert done["layerDigest"] == images.sha256_digest(data)

    (layer,) = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[done["layerDigest"]]
    )["layers"]
    assert layer["layerSize"] == 5 * MIB + 100
    response = fetch_blob(server, repository, done["layerDigest"])
    assert response.status_code == 200
    assert response.content == data


def test_complete_picks_the_matching_digest_among_candidates(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = noise(3, 2048)
    upload_id = initiate(ecr, repository)
    part(ecr, repository, upload_id, 0, data)
    right = images.sha256_digest(data)
    wrong = images.sha256_digest(b"something else")
    done = ecr.complete_layer_upload(
        repositoryName=repository, uploadId=upload_id, layerDigests=[wrong, right]
    )
    assert done["layerDigest"] == right


# --- UploadLayerPart errors ----------------------------------------------------------------------


def test_part_not_at_the_next_byte_is_invalid(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    first_size = 5 * MIB  # big enough not to be "too small" as a non-last part
    data = noise(4, first_size + 2048)
    upload_id = initiate(ecr, repository)
    part(ecr, repository, upload_id, 0, data[:first_size])

    # a gap, an overlap, a repeat of the first part, one byte past the next one
    for first in (first_size + 1024, first_size - 1, 0, first_size + 1):
        err = expect_error(
            "InvalidLayerPartException",
            ecr.upload_layer_part,
            repositoryName=repository,
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=first + 1023,
            layerPartBlob=data[first : first + 1024],
        )
        parsed = err.response
        assert parsed["lastValidByteReceived"] == first_size - 1
        assert parsed["uploadId"] == upload_id
        assert parsed["repositoryName"] == repository
        assert parsed["registryId"] == "123456789012"
        assert parsed["Error"]["Message"]

    # The refused parts left the upload intact: it goes on from the next byte.
    answer = part(ecr, repository, upload_id, first_size, data[first_size:])
    assert answer["lastByteReceived"] == len(data) - 1
    assert complete(ecr, repository, upload_id, data)["layerDigest"] == images.sha256_digest(data)


def test_first_part_must_start_at_zero(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    upload_id = initiate(ecr, repository)
    err = expect_error(
        "InvalidLayerPartException",
        ecr.upload_layer_part,
        repositoryName=repository,
        uploadId=upload_id,
        partFirstByte=10,
        partLastByte=19,
        layerPartBlob=b"0123456789",
    )
    assert err.response["uploadId"] == upload_id
    assert "lastValidByteReceived" in err.response
    # Nothing was stored.
    expect_error(
        "EmptyUploadException",
        ecr.complete_layer_upload,
        repositoryName=repository,
        uploadId=upload_id,
        layerDigests=[images.sha256_digest(b"0123456789")],
    )


def test_part_length_must_match_its_byte_range(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    upload_id = initiate(ecr, repository)
    err = expect_error(
        "InvalidLayerPartException",
        ecr.upload_layer_part,
        repositoryName=repository,
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=99,
        layerPartBlob=b"x" * 50,
    )
    assert err.response["uploadId"] == upload_id


def test_part_over_20_mib_is_invalid_parameter(ecr, repository, oversized_part: bytes) -> None:  # type: ignore[no-untyped-def]
    upload_id = initiate(ecr, repository)
    err = expect_error(
        "InvalidParameterException",
        ecr.upload_layer_part,
        repositoryName=repository,
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=len(oversized_part) - 1,
        layerPartBlob=oversized_part,
    )
    assert "layerPartBlob" in err.response["Error"]["Message"]
    # The upload stays usable and empty.
    assert part(ecr, repository, upload_id, 0, b"ok")["lastByteReceived"] == 1


def test_part_of_exactly_20_mib_is_accepted(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    upload_id = initiate(ecr, repository)
    data = b"\x01" * MAX_PART
    assert part(ecr, repository, upload_id, 0, data)["lastByteReceived"] == MAX_PART - 1


def test_unknown_upload_id(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    unknown = str(uuid.uuid4())
    expect_error(
        "UploadNotFoundException",
        ecr.upload_layer_part,
        repositoryName=repository,
        uploadId=unknown,
        partFirstByte=0,
        partLastByte=3,
        layerPartBlob=b"abcd",
    )
    expect_error(
        "UploadNotFoundException",
        ecr.complete_layer_upload,
        repositoryName=repository,
        uploadId=unknown,
        layerDigests=[images.sha256_digest(b"abcd")],
    )


def test_upload_id_of_another_repository(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    other = f"test/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=other)
    upload_id = initiate(ecr, other)
    expect_error(
        "UploadNotFoundException",
        ecr.upload_layer_part,
        repositoryName=repository,
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=3,
        layerPartBlob=b"abcd",
    )


# --- CompleteLayerUpload errors ------------------------------------------------------------------


def test_complete_with_wrong_digest(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = noise(5, 4096)
    upload_id = initiate(ecr, repository)
    part(ecr, repository, upload_id, 0, data)
    wrong = images.sha256_digest(data + b"!")
    expect_error(
        "InvalidLayerException",
        ecr.complete_layer_upload,
        repositoryName=repository,
        uploadId=upload_id,
        layerDigests=[wrong],
    )
    # Nothing was published under either digest.
    check = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[wrong, images.sha256_digest(data)]
    )
    assert check["layers"] == []
    assert [f["failureCode"] for f in check["failures"]] == ["MissingLayerDigest"] * 2


def test_complete_with_no_parts(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    upload_id = initiate(ecr, repository)
    expect_error(
        "EmptyUploadException",
        ecr.complete_layer_upload,
        repositoryName=repository,
        uploadId=upload_id,
        layerDigests=[images.sha256_digest(b"")],
    )


def test_completed_upload_id_is_consumed(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = noise(6, 512)
    upload_id = initiate(ecr, repository)
    part(ecr, repository, upload_id, 0, data)
    complete(ecr, repository, upload_id, data)
    expect_error(
        "UploadNotFoundException",
        ecr.complete_layer_upload,
        repositoryName=repository,
        uploadId=upload_id,
        layerDigests=[images.sha256_digest(data)],
    )
    expect_error(
        "UploadNotFoundException",
        ecr.upload_layer_part,
        repositoryName=repository,
        uploadId=upload_id,
        partFirstByte=512,
        partLastByte=512,
        layerPartBlob=b"x",
    )


def test_same_layer_again_is_already_exists(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = noise(7, 777)
    api.upload_blob(ecr, repository, data)
    upload_id = initiate(ecr, repository)
    part(ecr, repository, upload_id, 0, data)
    err = expect_error(
        "LayerAlreadyExistsException",
        ecr.complete_layer_upload,
        repositoryName=repository,
        uploadId=upload_id,
        layerDigests=[images.sha256_digest(data)],
    )
    assert images.sha256_digest(data) in err.response["Error"]["Message"]
    # The stored layer is unchanged.
    (layer,) = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[images.sha256_digest(data)]
    )["layers"]
    assert layer["layerSize"] == 777


def test_same_layer_in_another_repository_is_not_already_exists(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = noise(8, 333)
    other = f"test/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=other)
    api.upload_blob(ecr, other, data)
    # Not visible in `repository`...
    check = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[images.sha256_digest(data)]
    )
    assert check["layers"] == []
    assert check["failures"][0]["failureCode"] == "MissingLayerDigest"
    # ...so uploading it there is a normal upload.
    assert api.upload_blob(ecr, repository, data) == images.sha256_digest(data)


def test_small_non_last_part_is_too_small(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = noise(9, 2048)
    upload_id = initiate(ecr, repository)
    part(ecr, repository, upload_id, 0, data[:1024])
    part(ecr, repository, upload_id, 1024, data[1024:])
    err = expect_error(
        "LayerPartTooSmallException",
        ecr.complete_layer_upload,
        repositoryName=repository,
        uploadId=upload_id,
        layerDigests=[images.sha256_digest(data)],
    )
    assert err.response["Error"]["Message"]
    check = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[images.sha256_digest(data)]
    )
    assert check["layers"] == []


# --- BatchCheckLayerAvailability -----------------------------------------------------------------


def test_batch_check_mixed(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    small, large = noise(10, 100), noise(11, 5000)
    for data in (small, large):
        api.upload_blob(ecr, repository, data)
    unknown = images.sha256_digest(b"never uploaded")
    wanted = [images.sha256_digest(large), unknown, "nope", "", images.sha256_digest(small)]
    check = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=wanted)

    layers = {layer["layerDigest"]: layer for layer in check["layers"]}
    assert set(layers) == {images.sha256_digest(small), images.sha256_digest(large)}
    assert layers[images.sha256_digest(small)]["layerSize"] == 100
    assert layers[images.sha256_digest(large)]["layerSize"] == 5000
    assert {layer["layerAvailability"] for layer in layers.values()} == {"AVAILABLE"}

    failures = {f["layerDigest"]: f for f in check["failures"]}
    assert set(failures) == {unknown, "nope", ""}
    assert failures[unknown]["failureCode"] == "MissingLayerDigest"
    assert failures["nope"]["failureCode"] == "InvalidLayerDigest"
    assert failures[""]["failureCode"] == "InvalidLayerDigest"
    assert all(f["failureReason"] for f in failures.values())
    # Every digest asked for is answered exactly once.
    assert len(check["layers"]) + len(check["failures"]) == len(wanted)


def test_batch_check_reports_media_type_after_push(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = images.docker_image(12, n_layers=1, layer_size=256)
    api.push_image_via_api(ecr, repository, image, tag="v1")
    check = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[b.digest for b in image.blobs]
    )
    by_digest = {layer["layerDigest"]: layer for layer in check["layers"]}
    assert by_digest[image.config.digest]["mediaType"] == images.DOCKER_CONFIG
    assert by_digest[image.layers[0].digest]["mediaType"] == images.DOCKER_LAYER_GZIP
    assert by_digest[image.config.digest]["layerSize"] == image.config.size


# --- which repository and registry ---------------------------------------------------------------


def test_unknown_repository(ecr) -> None:  # type: ignore[no-untyped-def]
    missing = f"test/missing-{uuid.uuid4().hex[:8]}"
    expect_error("RepositoryNotFoundException", ecr.initiate_layer_upload, repositoryName=missing)
    expect_error(
        "RepositoryNotFoundException",
        ecr.batch_check_layer_availability,
        repositoryName=missing,
        layerDigests=[images.sha256_digest(b"x")],
    )
    expect_error(
        "RepositoryNotFoundException",
        ecr.upload_layer_part,
        repositoryName=missing,
        uploadId=str(uuid.uuid4()),
        partFirstByte=0,
        partLastByte=0,
        layerPartBlob=b"x",
    )
    expect_error(
        "RepositoryNotFoundException",
        ecr.complete_layer_upload,
        repositoryName=missing,
        uploadId=str(uuid.uuid4()),
        layerDigests=[images.sha256_digest(b"x")],
    )


@pytest.mark.parametrize("registry_id", ["nosuchalias", "999999999998"])
def test_unknown_registry(ecr, repository, registry_id: str) -> None:  # type: ignore[no-untyped-def]
    expect_error(
        "RegistryNotFoundException",
        ecr.initiate_layer_upload,
        repositoryName=repository,
        registryId=registry_id,
    )
    expect_error(
        "RegistryNotFoundException",
        ecr.batch_check_layer_availability,
        repositoryName=repository,
        registryId=registry_id,
        layerDigests=[images.sha256_digest(b"x")],
    )
    expect_error(
        "RegistryNotFoundException",
        ecr.complete_layer_upload,
        repositoryName=repository,
        registryId=registry_id,
        uploadId=str(uuid.uuid4()),
        layerDigests=[images.sha256_digest(b"x")],
    )


@pytest.mark.parametrize("registry_id", ["berth", "123456789012"])
def test_alias_or_account_as_registry_id(server, ecr, repository, registry_id: str) -> None:  # type: ignore[no-untyped-def]
    data = noise(13, 4321)
    extra = {"registryId": registry_id}
    upload_id = ecr.initiate_layer_upload(repositoryName=repository, **extra)["uploadId"]
    answer = part(ecr, repository, upload_id, 0, data, **extra)
    assert answer["registryId"] == "123456789012"  # output is always the account
    done = complete(ecr, repository, upload_id, data, **extra)
    assert done["registryId"] == "123456789012"
    (layer,) = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[done["layerDigest"]], **extra
    )["layers"]
    assert layer["layerSize"] == 4321
    assert fetch_blob(server, repository, done["layerDigest"]).content == data


def test_pushing_into_another_accounts_registry_is_refused(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    stranger = server.ecr(access_key=api.new_account_key())
    with pytest.raises(ClientError) as info:
        stranger.initiate_layer_upload(repositoryName=repository, registryId="berth")
    assert api.error_code(info.value) in {"AccessDeniedException", "RepositoryNotFoundException"}
