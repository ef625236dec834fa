"""Tag listing: GET /v2/<name>/tags/list with `n`/`last` and Link paging."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from ..core import images
from .errors import OciError
from .routes import Route, Target, json_response

MAX_PAGE = 10_000


async def list_tags(target: Target) -> web.StreamResponse:
    query = target.request.query
    limit = None
    if "n" in query:
        try:
            limit = int(query["n"])
        except ValueError:
            raise OciError(400, "PAGINATION_NUMBER_INVALID", "n must be an integer") from None
        if limit < 0:
            raise OciError(400, "PAGINATION_NUMBER_INVALID", "n must not be negative")
        # A page may hold fewer than n; the Link header leads on.
        limit = min(limit, MAX_PAGE)
    last = query.get("last")
    if limit == 0:
        return json_response({"name": target.name, "tags": []})
    names = await images.list_oci_tag_names(
        target.core, await target.repository(), last, None if limit is None else limit + 1
    )
    headers = {}
    if limit is not None and len(names) > limit:
        names = names[:limit]
        link = f"/v2/{target.name}/tags/list?" + urlencode({"n": limit, "last": names[-1]})
        headers["Link"] = f'<{link}>; rel="next"'
    return json_response({"name": target.name, "tags": names}, headers)


ROUTES = [
    Route(r"tags/list", {"GET": list_tags}),
]
