"""The OCI distribution face under /v2, and the token service."""

from aiohttp import web

from . import blobs, manifests, referrers, routes, tags, uploads
from .tokens import issue

# Most specific first: `/blobs/uploads` must not be read as a blob digest.
routes.install(uploads.ROUTES + blobs.ROUTES + manifests.ROUTES + referrers.ROUTES + tags.ROUTES)


def add_routes(app: web.Application) -> None:
    app.router.add_route("GET", "/v2/", routes.base)
    app.router.add_route("HEAD", "/v2/", routes.base)
    app.router.add_route("GET", "/v2", routes.base)
    app.router.add_route("*", "/v2/{path:.+}", routes.dispatch)
    for path in ("/token", "/token/"):
        app.router.add_route("*", path, issue)
