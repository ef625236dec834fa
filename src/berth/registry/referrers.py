"""The referrers API: GET /v2/<name>/referrers/<digest>[?artifactType=]."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..core import images, manifests
from .errors import API_VERSION_HEADER
from .routes import Route, Target


async def list_referrers(target: Target) -> web.StreamResponse:
    found = await images.referrers(target.core, await target.repository(), target.argument)
    wanted = target.request.query.get("artifactType")
    descriptors: list[dict[str, Any]] = []
    for image in found:
        artifact_type = image.artifact_type or image.config_media_type
        if wanted is not None and artifact_type != wanted:
            continue
        descriptor: dict[str, Any] = {
            "mediaType": image.media_type,
            "digest": image.digest,
            "size": image.body_size,
        }
        if artifact_type:
            descriptor["artifactType"] = artifact_type
        if image.annotations:
            descriptor["annotations"] = image.annotations
        descriptors.append(descriptor)
    headers = {**API_VERSION_HEADER, "Content-Type": manifests.OCI_INDEX}
    if wanted is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    body = {"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": descriptors}
    return web.Response(body=json.dumps(body).encode(), headers=headers)


ROUTES = [
    Route(r"referrers/(?P<arg>[^/]+)", {"GET": list_referrers}),
]
