"""The gallery face: public pages, and the logos catalog data points at."""

from aiohttp import web

from .logos import serve_logo


def add_routes(app: web.Application) -> None:
    app.router.add_route("GET", r"/logo/{hex:[0-9a-f]{64}}.png", serve_logo)
