"""Blob reads and deletes: HEAD, GET (with Range) and DELETE /v2/<name>/blobs/<digest>."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from ..core import blobs, digests
from ..core.errors import BlobNotFound
from ..core.service import Core
from .errors import API_VERSION_HEADER, OciError
from .routes import Route, Target

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
UNSATISFIABLE = (-1, -1)
READ_CHUNK = 1024 * 1024

SizeLookup = Callable[[Core, str, str, str], Awaitable[int | None]]


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a Range header asks for, by RFC 9110.

    None means "send the whole blob": no header, or one berth must ignore
    (malformed, another unit, several ranges). UNSATISFIABLE means 416, also
    for a last position before the first (an invalid range, RFC 9110 15.5.17,
    as Go's net/http and the OCI conformance suite treat it).
    """
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match[1], match[2]
    if not first:
        if not last:
            return None
        length = int(last)
        if length == 0 or size == 0:
            return UNSATISFIABLE
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return UNSATISFIABLE
    if start >= size:
        return UNSATISFIABLE
    return start, min(end, size - 1)


class BlobResponse(web.StreamResponse):
    """Blob bytes, zero-copy (sendfile) from a local file where the store has one."""

    def __init__(
        self,
        target: Target,
        digest: str,
        offset: int,
        count: int,
        status: int,
        headers: dict[str, str],
    ) -> None:
        super().__init__(status=status, headers=headers)
        self.content_length = count
        self._target = target
        self._digest = digest
        self._offset = offset
        self._count = count

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:
            return None
        writer = await super().prepare(request)
        if request.method == "HEAD" or self._count == 0:
            await self.write_eof()
            return writer
        store = self._target.core.blobs
        path = store.local_path(self._digest)
        if path is not None and await self._sendfile(request, path):
            await self.write_eof()
            return writer
        async for chunk in store.read(self._digest, self._offset, self._offset + self._count):
            await self.write(chunk)
        await self.write_eof()
        return writer

    async def _sendfile(self, request: web.BaseRequest, path: Path) -> bool:
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("connection lost")
        with await asyncio.to_thread(path.open, "rb") as file:
            try:
                await asyncio.get_running_loop().sendfile(
                    transport, file, self._offset, self._count, fallback=False
                )
            except NotImplementedError:  # an event loop without native sendfile
                return False
        return True


async def _size(target: Target, lookup: SizeLookup = blobs.pull_size) -> int:
    digests.parse(target.argument)
    size = await lookup(target.core, target.account_id, target.repository_name, target.argument)
    if size is None:
        await target.repository()  # NAME_UNKNOWN first, if that is what is wrong
        raise BlobNotFound(target.argument)
    return size


def _headers(digest: str) -> dict[str, str]:
    return {
        **API_VERSION_HEADER,
        "Docker-Content-Digest": digest,
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "ETag": f'"{digest}"',
    }


async def head_blob(target: Target) -> web.StreamResponse:
    size = await _size(target, blobs.head_size)
    return BlobResponse(target, target.argument, 0, size, 200, _headers(target.argument))


async def download_blob(target: Target) -> web.StreamResponse:
    size = await _size(target)
    headers = _headers(target.argument)
    # Decided here even when redirecting: S3 sends a whole blob for a range it cannot serve.
    wanted = byte_range(target.request.headers.get("Range"), size)
    if wanted == UNSATISFIABLE:
        raise OciError(
            416,
            "RANGE_INVALID",
            "requested range not satisfiable",
            {"size": size},
            headers={"Content-Range": f"bytes */{size}"},
        )
    settings = target.core.settings
    if settings.redirect_blobs:
        url = await target.core.blobs.presigned_url(target.argument, settings.redirect_ttl)
        if url is not None:
            # The bytes bypass berth; the client's Range goes along to the store.
            headers["Location"] = url
            headers["Content-Length"] = "0"
            return web.Response(status=307, headers=headers)
    if wanted is None:
        return BlobResponse(target, target.argument, 0, size, 200, headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return BlobResponse(target, target.argument, start, end - start + 1, 206, headers)


async def delete_blob(target: Target) -> web.StreamResponse:
    digests.parse(target.argument)
    await blobs.unlink_blob(target.core, await target.repository(), target.argument)
    return web.Response(status=202, headers={**API_VERSION_HEADER, "Content-Length": "0"})


ROUTES = [
    Route(
        r"blobs/(?P<arg>[^/]+)", {"GET": download_blob, "HEAD": head_blob, "DELETE": delete_blob}
    ),
]
