"""Blob uploads: POST (new, monolithic, mount), PATCH, PUT, GET status, DELETE."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from aiohttp import web

from ..core import auth, blobs, digests, registries, repositories, uploads
from ..core.errors import RepositoryNotFound, UploadRangeInvalid
from ..core.model import Repository, Upload
from .errors import API_VERSION_HEADER, OciError
from .routes import Route, Target

_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/\d+|/\*)?")
CHUNK = 1024 * 1024


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(CHUNK):
        yield chunk


def _range(size: int) -> str:
    # The spec's inclusive range of bytes received; "0-0" before any byte.
    return f"0-{max(size - 1, 0)}"


def _session_headers(target: Target, upload: Upload) -> dict[str, str]:
    return {
        **API_VERSION_HEADER,
        "Location": f"/v2/{target.name}/blobs/uploads/{upload.id}",
        "Range": _range(upload.size),
        "Docker-Upload-UUID": upload.id,
        "Content-Length": "0",
    }


def _blob_created(target: Target, digest: str) -> web.Response:
    return web.Response(
        status=201,
        headers={
            **API_VERSION_HEADER,
            "Location": f"/v2/{target.name}/blobs/{digest}",
            "Docker-Content-Digest": digest,
            "Content-Length": "0",
        },
    )


async def _mount_source(target: Target, source: str) -> Repository | None:
    alias, _, name = source.partition("/")
    account = await registries.account_for_alias(target.core, alias)
    if account is None or not name:
        return None
    try:
        return await repositories.get_repository(target.core, account, name)
    except RepositoryNotFound:
        return None


async def start_upload(target: Target) -> web.StreamResponse:
    query = target.request.query
    repository = await target.repository()
    mount = query.get("mount")
    if mount is not None and digests.is_digest(mount):
        source = None
        if "from" in query:
            source = await _mount_source(target, query["from"])
        if (source is not None or "from" not in query) and await blobs.mount_blob(
            target.core, repository, mount, source
        ):
            return _blob_created(target, mount)
    digest = query.get("digest")
    if digest is not None:
        digests.parse(digest)
    algorithm = query.get("digest-algorithm") or (
        digests.algorithm_of(digest) if digest else digests.DEFAULT_ALGORITHM
    )
    if digest is not None:
        found = await uploads.push_whole(
            target.core, repository, algorithm, digest, _body(target.request)
        )
        return _blob_created(target, found)
    upload = await uploads.start_upload(target.core, repository, algorithm)
    return web.Response(status=202, headers=_session_headers(target, upload))


def _first_byte(request: web.Request) -> int | None:
    """Where a chunk says it starts (Content-Range), checked against its length."""
    header = request.headers.get("Content-Range")
    if not header:
        return None
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        raise OciError(416, "BLOB_UPLOAD_INVALID", f"malformed Content-Range {header!r}")
    first_byte, last_byte = int(match[1]), int(match[2])
    length = request.content_length
    if last_byte < first_byte or (length is not None and length != last_byte - first_byte + 1):
        raise OciError(416, "BLOB_UPLOAD_INVALID", "Content-Range does not match the body")
    return first_byte


async def _out_of_order(
    target: Target, repository: Repository, exc: UploadRangeInvalid
) -> OciError:
    current = await uploads.get_upload(target.core, repository, target.argument)
    return OciError(
        416,
        "BLOB_UPLOAD_INVALID",
        f"chunk must start at byte {exc.size}",
        headers=_session_headers(target, current),
    )


async def patch_upload(target: Target) -> web.StreamResponse:
    repository = await target.repository()
    first_byte = _first_byte(target.request)
    try:
        upload = await uploads.append(
            target.core, repository, target.argument, _body(target.request), first_byte
        )
    except UploadRangeInvalid as exc:
        raise await _out_of_order(target, repository, exc) from exc
    return web.Response(status=202, headers=_session_headers(target, upload))


async def finish_upload(target: Target) -> web.StreamResponse:
    repository = await target.repository()
    digest = target.request.query.get("digest")
    if not digest:
        raise OciError(400, "DIGEST_INVALID", "the digest query parameter is required")
    digests.parse(digest)
    first_byte = _first_byte(target.request)
    try:
        found, _size = await uploads.complete(
            target.core,
            repository,
            target.argument,
            [digest],
            _body(target.request),
            first_byte=first_byte,
        )
    except UploadRangeInvalid as exc:
        raise await _out_of_order(target, repository, exc) from exc
    return _blob_created(target, found)


async def upload_status(target: Target) -> web.StreamResponse:
    upload = await uploads.get_upload(target.core, await target.repository(), target.argument)
    return web.Response(status=204, headers=_session_headers(target, upload))


async def cancel_upload(target: Target) -> web.StreamResponse:
    await uploads.cancel(target.core, await target.repository(), target.argument)
    return web.Response(status=204, headers=API_VERSION_HEADER)


ROUTES = [
    Route(r"blobs/uploads/?", {"POST": start_upload}),
    Route(
        r"blobs/uploads/(?P<arg>[^/]+)",
        {
            "PATCH": patch_upload,
            "PUT": finish_upload,
            "GET": upload_status,
            "DELETE": cancel_upload,
        },
        # Cancelling is part of a push, not a delete of stored content.
        actions={"DELETE": auth.PUSH},
    ),
]
