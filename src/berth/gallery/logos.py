"""Repository logos, served by berth itself at the `logoUrl` the API reports."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import CORE
from ..core import catalog


async def serve_logo(request: web.Request) -> web.Response:
    found = await catalog.get_logo(request.app[CORE], f"sha256:{request.match_info['hex']}")
    if found is None:
        raise web.HTTPNotFound(text="no such logo\n")
    content_type, data = found
    return web.Response(
        body=data,
        headers={
            "Content-Type": content_type,
            "X-Content-Type-Options": "nosniff",
            # Content-addressed: the bytes behind this URL never change.
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
