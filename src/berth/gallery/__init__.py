"""The gallery face: public pages, and the logos catalog data points at."""

from aiohttp import web

from . import pages
from .logos import serve_logo


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_route("GET", "/", pages.home)
    router.add_route("GET", "/gallery", pages.home)
    router.add_route("GET", "/gallery/", pages.home)
    router.add_route("GET", "/gallery/static/{file}", pages.static)
    router.add_route("GET", "/gallery/{alias}", pages.registry_page)
    router.add_route("GET", "/gallery/{alias}/{name:.+}", pages.repository_page)
    router.add_route("GET", r"/logo/{hex:[0-9a-f]{64}}.png", serve_logo)
