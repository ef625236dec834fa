"""The OCI distribution face under /v2, and the token service."""

from aiohttp import web

from . import blobs as _blobs  # noqa: F401
from . import manifests as _manifests  # noqa: F401
from . import tags as _tags  # noqa: F401

# Importing the handler modules registers their routes, most specific first.
from . import uploads as _uploads  # noqa: F401  (before blobs: /blobs/uploads/…)
from .routes import base, dispatch
from .tokens import issue


def add_routes(app: web.Application) -> None:
    app.router.add_route("GET", "/v2/", base)
    app.router.add_route("HEAD", "/v2/", base)
    app.router.add_route("GET", "/v2", base)
    app.router.add_route("*", "/v2/{path:.+}", dispatch)
    app.router.add_route("GET", "/token", issue)
    app.router.add_route("POST", "/token", issue)
    app.router.add_route("GET", "/token/", issue)
    app.router.add_route("POST", "/token/", issue)
