"""The AWS JSON 1.1 face (ECR Public's control plane) on POST /."""

from aiohttp import web

from ..core.service import Core
from .operations import OPERATIONS
from .protocol import make_handler
from .sigv4 import Key


def add_routes(app: web.Application, core: Core, keys: dict[str, Key] | None) -> None:
    app.router.add_route("POST", "/", make_handler(core, OPERATIONS, keys))
