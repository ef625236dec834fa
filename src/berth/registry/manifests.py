"""Manifests: GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>."""

from __future__ import annotations

from aiohttp import web

from ..core import digests, images, manifests
from ..core.errors import (
    InvalidDigest,
    InvalidName,
    ManifestNotFound,
    ManifestTooLarge,
    UnsupportedDigest,
)
from ..core.names import check_tag
from .errors import API_VERSION_HEADER, OciError
from .routes import Route, Target

# Content types that name no manifest type: let the body's own mediaType decide.
_UNDECLARED = {"", "application/octet-stream", "application/json", "text/plain"}


def _check_reference(reference: str) -> bool:
    """True for a digest, False for a tag; raises on neither."""
    if digests.looks_like_digest(reference):
        digests.parse(reference)
        return True
    check_tag(reference)
    return False


async def _fetch(target: Target) -> tuple[str, str, bytes]:
    reference = target.argument
    try:
        by_digest = _check_reference(reference)
    except (InvalidName, InvalidDigest, UnsupportedDigest):
        # Nothing can be stored under such a reference, so it is simply unknown.
        found = None
    else:
        found = await images.pull_manifest(
            target.core, target.account_id, target.repository_name, reference, not by_digest
        )
    if found is None:
        await target.repository()  # NAME_UNKNOWN first, if that is what is wrong
        raise ManifestNotFound(reference)
    return found


def _headers(digest: str, media_type: str, size: int) -> dict[str, str]:
    return {
        **API_VERSION_HEADER,
        "Content-Type": media_type,
        "Docker-Content-Digest": digest,
        "Content-Length": str(size),
        "ETag": f'"{digest}"',
    }


async def get_manifest(target: Target) -> web.StreamResponse:
    digest, media_type, body = await _fetch(target)
    headers = _headers(digest, media_type, len(body))
    del headers["Content-Length"]
    return web.Response(body=body, headers=headers)


async def head_manifest(target: Target) -> web.StreamResponse:
    digest, media_type, body = await _fetch(target)
    return web.Response(headers=_headers(digest, media_type, len(body)))


async def _read_body(request: web.Request) -> bytes:
    limit = manifests.MAX_MANIFEST_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise ManifestTooLarge(request.content_length, limit)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise ManifestTooLarge(len(body), limit)
    return bytes(body)


async def put_manifest(target: Target) -> web.StreamResponse:
    by_digest = _check_reference(target.argument)
    body = await _read_body(target.request)
    content_type = target.request.headers.get("Content-Type", "").split(";")[0].strip()
    pushed = await images.put_image(
        target.core,
        await target.repository(),
        body,
        media_type=None if content_type in _UNDECLARED else content_type,
        tag=None if by_digest else target.argument,
        digest=target.argument if by_digest else None,
        infer_media_type=True,
    )
    headers = {
        **API_VERSION_HEADER,
        "Location": f"/v2/{target.name}/manifests/{pushed.image.digest}",
        "Docker-Content-Digest": pushed.image.digest,
        "Content-Length": "0",
    }
    if pushed.manifest.subject is not None:
        headers["OCI-Subject"] = pushed.manifest.subject.digest
    return web.Response(status=201, headers=headers)


async def delete_manifest(target: Target) -> web.StreamResponse:
    """By digest: the image and every tag on it. By tag: only the tag."""
    by_digest = _check_reference(target.argument)
    repository = await target.repository()
    if by_digest:
        # One outcome per tag removed; a failure comes alone.
        outcome, *_ = await images.delete_images(target.core, repository, [(target.argument, None)])
    else:
        outcome = await images.delete_tag(target.core, repository, target.argument)

    if outcome.failure == images.NOT_FOUND:
        raise ManifestNotFound(target.argument)
    if outcome.failure == images.REFERENCED_BY_INDEX:
        raise OciError(
            405,
            "UNSUPPORTED",
            "the manifest is listed by an index in this repository; delete the index first",
            {"digest": target.argument},
        )
    return web.Response(status=202, headers={**API_VERSION_HEADER, "Content-Length": "0"})


ROUTES = [
    Route(
        r"manifests/(?P<arg>[^/]+)",
        {
            "GET": get_manifest,
            "HEAD": head_manifest,
            "PUT": put_manifest,
            "DELETE": delete_manifest,
        },
    ),
]
