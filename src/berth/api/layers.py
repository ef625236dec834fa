"""InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, BatchCheckLayerAvailability."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from ..core import blobs, uploads
from ..core.errors import (
    BlobAlreadyExists,
    DigestMismatch,
    InvalidDigest,
    UnsupportedDigest,
    UploadEmpty,
    UploadNotFound,
    UploadPartTooSmall,
    UploadRangeInvalid,
)
from ..core.model import Repository
from .access import repository_for
from .errors import AwsError
from .protocol import Call
from .validation import SERVICE_MODEL

# ECR Public's quota: every part but the last is at least 5 MiB.
MIN_PART_SIZE = 5 * 1024 * 1024
LAYER_DIGEST = re.compile(SERVICE_MODEL["shapes"]["LayerDigest"]["pattern"])


def _upload_not_found(repo: Repository, upload_id: str) -> AwsError:
    return AwsError(
        "UploadNotFoundException",
        f"The upload with id '{upload_id}' does not exist in the repository with name "
        f"'{repo.name}' in the registry with id '{repo.account_id}'",
    )


async def initiate_layer_upload(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=True)
    upload = await uploads.start_upload(call.core, repo)
    return {"uploadId": upload.id, "partSize": call.core.settings.part_size}


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def upload_layer_part(call: Call) -> dict[str, Any]:
    p = call.params
    repo = await repository_for(call, write=True)
    upload_id = p["uploadId"].lower()
    first, last, data = p["partFirstByte"], p["partLastByte"], p["layerPartBlob"]

    def invalid_part(received: int, why: str) -> AwsError:
        return AwsError(
            "InvalidLayerPartException",
            why,
            registryId=repo.account_id,
            repositoryName=repo.name,
            uploadId=upload_id,
            lastValidByteReceived=max(received - 1, 0),
        )

    try:
        current = await uploads.get_upload(call.core, repo, upload_id)
        if last - first + 1 != len(data):
            raise invalid_part(
                current.size,
                f"The layer part size {len(data)} does not match the byte range "
                f"{first}-{last} given for it.",
            )
        upload = await uploads.append(
            call.core,
            repo,
            upload_id,
            _one(data),
            first_byte=first,
            max_parts=call.core.settings.limits.parts_per_upload,
        )
    except UploadNotFound as exc:
        raise _upload_not_found(repo, upload_id) from exc
    except UploadRangeInvalid as exc:
        raise invalid_part(
            exc.size,
            f"The part starting at byte {first} is not the next part of the upload; "
            f"the next part must start at byte {exc.size}.",
        ) from exc
    return {
        "registryId": repo.account_id,
        "repositoryName": repo.name,
        "uploadId": upload_id,
        "lastByteReceived": upload.size - 1,
    }


async def complete_layer_upload(call: Call) -> dict[str, Any]:
    p = call.params
    repo = await repository_for(call, write=True)
    upload_id = p["uploadId"].lower()
    try:
        digest, _size = await uploads.complete(
            call.core,
            repo,
            upload_id,
            list(p["layerDigests"]),
            require_parts=True,
            min_part_size=MIN_PART_SIZE,
            refuse_existing=True,
        )
    except UploadNotFound as exc:
        raise _upload_not_found(repo, upload_id) from exc
    except UploadEmpty as exc:
        raise AwsError(
            "EmptyUploadException",
            f"The upload with id '{upload_id}' does not contain any layer parts",
        ) from exc
    except UploadPartTooSmall as exc:
        raise AwsError(
            "LayerPartTooSmallException",
            "All layer parts except the last part should be at least 5MB",
        ) from exc
    except (DigestMismatch, InvalidDigest, UnsupportedDigest) as exc:
        raise AwsError(
            "InvalidLayerException",
            "None of the provided layer digests match the calculated layer digest",
        ) from exc
    except BlobAlreadyExists as exc:
        raise AwsError(
            "LayerAlreadyExistsException",
            f"The layer with digest '{exc.digest}' already exists in the repository with "
            f"name '{repo.name}' in the registry with id '{repo.account_id}'",
        ) from exc
    return {
        "registryId": repo.account_id,
        "repositoryName": repo.name,
        "uploadId": upload_id,
        "layerDigest": digest,
    }


async def batch_check_layer_availability(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=False)
    wanted: list[str] = call.params["layerDigests"]
    found = await blobs.check_blobs(
        call.core, repo, [d for d in wanted if LAYER_DIGEST.fullmatch(d)]
    )
    layers: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for digest in wanted:
        link = found.get(digest)
        if not LAYER_DIGEST.fullmatch(digest):
            failures.append(
                {
                    "layerDigest": digest,
                    "failureCode": "InvalidLayerDigest",
                    "failureReason": "Invalid layer digest",
                }
            )
        elif link is None:
            failures.append(
                {
                    "layerDigest": digest,
                    "failureCode": "MissingLayerDigest",
                    "failureReason": "Could not find layer",
                }
            )
        else:
            layer: dict[str, Any] = {
                "layerDigest": digest,
                "layerAvailability": "AVAILABLE",
                "layerSize": link.size,
            }
            if link.media_type:
                layer["mediaType"] = link.media_type
            layers.append(layer)
    return {"layers": layers, "failures": failures}
