"""Blob reads: HEAD and GET /v2/<name>/blobs/<digest>."""

from __future__ import annotations

from aiohttp import web

from ..core import blobs, digests
from .errors import API_VERSION_HEADER
from .routes import Route, Target


def _headers(digest: str, size: int) -> dict[str, str]:
    return {
        **API_VERSION_HEADER,
        "Docker-Content-Digest": digest,
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "Content-Length": str(size),
    }


async def head_blob(target: Target) -> web.StreamResponse:
    digests.parse(target.argument)
    link = await blobs.stat_blob(target.core, target.repository, target.argument)
    return web.Response(headers=_headers(link.digest, link.size))


async def download_blob(target: Target) -> web.StreamResponse:
    digests.parse(target.argument)
    link = await blobs.stat_blob(target.core, target.repository, target.argument)
    path = target.core.blobs.local_path(link.digest)
    if path is not None:
        # Zero-copy: the kernel sends the file (sendfile), Range included.
        headers = _headers(link.digest, link.size)
        del headers["Content-Length"]
        return web.FileResponse(path, headers=headers)
    response = web.StreamResponse(headers=_headers(link.digest, link.size))
    await response.prepare(target.request)
    async for chunk in target.core.blobs.read(link.digest):
        await response.write(chunk)
    await response.write_eof()
    return response


async def delete_blob(target: Target) -> web.StreamResponse:
    digests.parse(target.argument)
    await blobs.unlink_blob(target.core, target.repository, target.argument)
    return web.Response(status=202, headers={**API_VERSION_HEADER, "Content-Length": "0"})


ROUTES = [
    Route(
        r"blobs/(?P<arg>[^/]+)", {"GET": download_blob, "HEAD": head_blob, "DELETE": delete_blob}
    ),
]
