"""PutImage, DescribeImages, DescribeImageTags, BatchDeleteImage."""

from __future__ import annotations

from typing import Any

from ..core import images
from ..core.errors import (
    BlobsNotFound,
    DigestMismatch,
    ImageAlreadyExists,
    InvalidDigest,
    ManifestInvalid,
    ManifestMediaTypeMissing,
    ManifestsNotFound,
    UnsupportedDigest,
)
from ..core.model import Image, Repository
from . import pagination, shapes
from .access import repository_for
from .errors import AwsError, invalid_parameter
from .protocol import Call

DEFAULT_PAGE = 100

_FAILURE_CODES = {
    images.NOT_FOUND: ("ImageNotFound", "Requested image not found"),
    images.INVALID_DIGEST: (
        "InvalidImageDigest",
        "Invalid request parameters: image digest should satisfy the regex "
        "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
    ),
    images.TAG_DIGEST_MISMATCH: (
        "ImageTagDoesNotMatchDigest",
        "Invalid request parameters: given tag does not map to the given digest",
    ),
    images.MISSING_IDENTIFIER: (
        "MissingDigestAndTag",
        "Invalid request parameters: both tag and digest cannot be null",
    ),
    images.REFERENCED_BY_INDEX: (
        "ImageReferencedByManifestList",
        "Requested image is referenced by a manifest list or image index in the repository",
    ),
}


def _image_id(digest: str | None, tag: str | None) -> dict[str, str]:
    out = {}
    if digest is not None:
        out["imageDigest"] = digest
    if tag is not None:
        out["imageTag"] = tag
    return out


async def put_image(call: Call) -> dict[str, Any]:
    p = call.params
    repo = await repository_for(call, write=True)
    tag, digest = p.get("imageTag"), p.get("imageDigest")
    if tag is None and digest is None:
        raise invalid_parameter(
            "imageTag", "An image tag or an image digest is required to put an image"
        )
    body = p["imageManifest"].encode()
    try:
        pushed = await images.put_image(
            call.core,
            repo,
            body,
            media_type=p.get("imageManifestMediaType"),
            tag=tag,
            digest=digest,
            refuse_duplicate=True,
        )
    except (ManifestMediaTypeMissing, ManifestInvalid) as exc:
        # AWS words every unusable manifest this way (reference §3.17).
        raise invalid_parameter("ImageManifest", "Invalid JSON syntax") from exc
    except (InvalidDigest, UnsupportedDigest) as exc:
        raise invalid_parameter("imageDigest", "Invalid image digest") from exc
    except DigestMismatch as exc:
        raise AwsError(
            "ImageDigestDoesNotMatchException",
            f"Provided digest '{exc.expected}' does not match the digest of the image manifest "
            f"'{exc.actual}'",
        ) from exc
    except BlobsNotFound as exc:
        raise AwsError(
            "LayersNotFoundException",
            f"Layers with digests '[{', '.join(exc.digests)}]' required for pushing image into "
            f"repository with name '{repo.name}' in the registry with id '{repo.account_id}' "
            "do not exist",
        ) from exc
    except ManifestsNotFound as exc:
        raise AwsError(
            "ReferencedImagesNotFoundException",
            f"Images with digests '[{', '.join(exc.digests)}]' referenced by the manifest list "
            f"do not exist in the repository with name '{repo.name}' in the registry with id "
            f"'{repo.account_id}'",
        ) from exc
    except ImageAlreadyExists as exc:
        raise AwsError(
            "ImageAlreadyExistsException",
            f"Image with digest '{exc.digest}'"
            + (f" and tag '{exc.tag}'" if exc.tag else "")
            + f" already exists in the repository with name '{repo.name}' in registry with "
            f"id '{repo.account_id}'",
        ) from exc
    return {
        "image": {
            "registryId": repo.account_id,
            "repositoryName": repo.name,
            "imageId": _image_id(pushed.image.digest, tag),
            "imageManifest": p["imageManifest"],
            "imageManifestMediaType": pushed.manifest.media_type,
        }
    }


def _scope(repo: Repository) -> str:
    return f"{repo.account_id}/{repo.name}"


async def describe_images(call: Call) -> dict[str, Any]:
    p = call.params
    repo = await repository_for(call, write=False)
    ids = p.get("imageIds")
    if ids is not None:
        pagination.refuse_with(p, "imageIds")
        found: dict[str, Image] = {}
        for image_id in ids:
            digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
            image = await images.find_image(call.core, repo, digest=digest, tag=tag)
            if image is None:
                raise AwsError(
                    "ImageNotFoundException",
                    f"The image with imageId {{imageDigest:'{digest or 'null'}', "
                    f"imageTag:'{tag or 'null'}'}} does not exist within the repository with "
                    f"name '{repo.name}' in the registry with id '{repo.account_id}'",
                )
            found.setdefault(image.digest, image)
        return {"imageDetails": [shapes.image_detail(repo, i) for i in found.values()]}
    after = None
    if "nextToken" in p:
        after = pagination.decode(
            call.core.signing_key, call.operation, _scope(repo), p["nextToken"]
        )
    page, cursor = await images.list_images(
        call.core, repo, after, p.get("maxResults", DEFAULT_PAGE)
    )
    out: dict[str, Any] = {"imageDetails": [shapes.image_detail(repo, i) for i in page]}
    if cursor is not None:
        out["nextToken"] = pagination.encode(
            call.core.signing_key, call.operation, _scope(repo), cursor
        )
    return out


async def describe_image_tags(call: Call) -> dict[str, Any]:
    p = call.params
    repo = await repository_for(call, write=False)
    after = None
    if "nextToken" in p:
        after = pagination.decode(
            call.core.signing_key, call.operation, _scope(repo), p["nextToken"]
        )
    page, cursor = await images.list_tags(call.core, repo, after, p.get("maxResults", DEFAULT_PAGE))
    out: dict[str, Any] = {"imageTagDetails": [shapes.image_tag_detail(t) for t in page]}
    if cursor is not None:
        out["nextToken"] = pagination.encode(
            call.core.signing_key, call.operation, _scope(repo), cursor
        )
    return out


async def batch_delete_image(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=True)
    ids = [(i.get("imageDigest"), i.get("imageTag")) for i in call.params["imageIds"]]
    outcomes = await images.delete_images(call.core, repo, ids)
    deleted: list[dict[str, str]] = []
    failures: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.failure is None:
            deleted.append(_image_id(outcome.digest, outcome.tag))
            continue
        code, reason = _FAILURE_CODES[outcome.failure]
        failures.append(
            {
                "imageId": _image_id(outcome.digest, outcome.tag),
                "failureCode": code,
                "failureReason": reason,
            }
        )
    return {"imageIds": deleted, "failures": failures}
