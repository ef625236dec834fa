"""The gallery face: public pages, and the logos catalog data points at."""

from aiohttp import web

from . import pages
from .logos import serve_logo


def add_routes(app: web.Application) -> None:
    router = app.router  # add_get: HEAD too, as load balancers' health checks send
    router.add_get("/", pages.home)
    router.add_get("/gallery", pages.home)
    router.add_get("/gallery/", pages.home)
    router.add_get("/gallery/static/{file}", pages.static)
    router.add_get("/gallery/{alias}", pages.registry_page)
    router.add_get("/gallery/{alias}/{name:.+}", pages.repository_page)
    router.add_get(r"/logo/{hex:[0-9a-f]{64}}.png", serve_logo)
