"""Push content through the ECR Public API (no /v2), and small helpers for API tests.

`push_image_via_api` does what a client without the data plane does: upload every
blob with InitiateLayerUpload / UploadLayerPart / CompleteLayerUpload, then PutImage.
"""

from __future__ import annotations

import secrets
from typing import Any

import requests

from support import images

# Parts of this size satisfy ECR's 5 MiB minimum for all but the last part and stay
# under the model's 20,971,520-byte maximum for one UploadLayerPart.
PART_SIZE = 10 * 1024 * 1024


def error_code(err: Exception) -> str:
    """The AWS error code of a botocore ClientError."""
    return str(err.response["Error"]["Code"])  # type: ignore[attr-defined]


def upload_blob(
    ecr: Any,
    repository: str,
    data: bytes,
    *,
    part_size: int = PART_SIZE,
    registry_id: str | None = None,
) -> str:
    """Upload `data` as a layer in parts of `part_size`; return the digest the server reports.

    `data` must not be empty: ECR refuses an upload without parts (EmptyUploadException).
    """
    extra = {"registryId": registry_id} if registry_id else {}
    upload_id = ecr.initiate_layer_upload(repositoryName=repository, **extra)["uploadId"]
    for first in range(0, len(data), part_size):
        chunk = data[first : first + part_size]
        answer = ecr.upload_layer_part(
            repositoryName=repository,
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=first + len(chunk) - 1,
            layerPartBlob=chunk,
            **extra,
        )
        assert answer["lastByteReceived"] == first + len(chunk) - 1
    digest = images.sha256_digest(data)
    done = ecr.complete_layer_upload(
        repositoryName=repository, uploadId=upload_id, layerDigests=[digest], **extra
    )
    assert done["layerDigest"] == digest
    return str(done["layerDigest"])


def upload_blobs(ecr: Any, repository: str, blobs: list[images.Blob]) -> None:
    """Upload the blobs the repository does not have yet (as docker does: check first)."""
    unique = {blob.digest: blob for blob in blobs}
    if not unique:
        return
    found = ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=list(unique))
    present = {layer["layerDigest"] for layer in found.get("layers", [])}
    for digest, blob in unique.items():
        if digest not in present:
            upload_blob(ecr, repository, blob.data)


def put_manifest(
    ecr: Any,
    repository: str,
    manifest: bytes,
    *,
    tag: str | None = None,
    digest: str | None = None,
    media_type: str | None = None,
) -> dict[str, Any]:
    """PutImage with the exact manifest bytes; returns the response's `image`."""
    kwargs: dict[str, Any] = {"repositoryName": repository, "imageManifest": manifest.decode()}
    if tag is not None:
        kwargs["imageTag"] = tag
    if digest is not None:
        kwargs["imageDigest"] = digest
    if media_type is not None:
        kwargs["imageManifestMediaType"] = media_type
    image: dict[str, Any] = ecr.put_image(**kwargs)["image"]
    return image


def push_image_via_api(
    ecr: Any, repository: str, image: images.Image | images.Index, tag: str | None = "latest"
) -> dict[str, Any]:
    """Push an image (or an index with all its children) through the API only.

    Blobs go up first, then the manifest with PutImage. An index's children are put
    by digest without a tag, before the index itself. With `tag=None` the top-level
    manifest is put by digest only. Returns PutImage's `image` for the top level.
    """
    if isinstance(image, images.Index):
        for child in image.images:
            push_image_via_api(ecr, repository, child, tag=None)
    else:
        upload_blobs(ecr, repository, image.blobs)
    return put_manifest(
        ecr,
        repository,
        image.manifest,
        tag=tag,
        digest=None if tag is not None else image.digest,
        media_type=image.media_type,
    )


def new_account_key() -> str:
    """A fresh 12-digit access key id: berth maps such a caller to that account, so a
    test gets a registry of its own on the shared server."""
    while True:
        key = str(secrets.randbelow(9 * 10**11) + 10**11)
        if key != "123456789012":
            return key


def pull_token(
    server: Any, repository: str, actions: str = "pull", password: str | None = None
) -> str:
    """A bearer token from the token service for `<alias>/<repository>`: anonymous, or for
    the login `password` (from GetAuthorizationToken) when given."""
    response = requests.get(
        f"{server.url}/token",
        params={"scope": f"repository:{server.alias}/{repository}:{actions}", "service": "berth"},
        auth=("AWS", password) if password is not None else None,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def push_headers(server: Any, repository: str) -> dict[str, str]:
    """Authorization for pushing to `<alias>/<repository>` over /v2 as the default account."""
    token = pull_token(server, repository, "pull,push", password=server.password())
    return {"Authorization": f"Bearer {token}"}


def pull_headers(server: Any, repository: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {pull_token(server, repository)}"}
