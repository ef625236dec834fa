"""The AWS JSON 1.1 face (ECR Public's control plane) on POST /."""

from aiohttp import web

from ..core.service import Core
from .operations import OPERATIONS
from .protocol import make_handler


def add_routes(app: web.Application, core: Core) -> None:
    app.router.add_route("POST", "/", make_handler(core, OPERATIONS))
