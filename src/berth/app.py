"""Wiring: open the stores, build the core, mount the faces on one aiohttp app."""

from __future__ import annotations

from aiohttp import web

from . import api, gallery, registry
from .api.sigv4 import load_keys
from .appkeys import CORE
from .config import Settings
from .core import auth, registries
from .core.service import Core
from .store.blobs import open_blobs
from .store.metadata import open_metadata


async def prepare(settings: Settings) -> None:
    """Create what every process needs before any serves: the schema, the signing
    key and the default registry. Run once before starting several workers."""
    app = await create_app(settings)
    await app.cleanup()


async def create_app(settings: Settings) -> web.Application:

    settings.data.mkdir(parents=True, exist_ok=True)
    meta = open_metadata(settings.effective_metadata_url)
    await meta.ensure_schema()
    core = Core(
        meta=meta, blobs=open_blobs(settings.effective_blobs_url), settings=settings.core_settings()
    )
    await auth.load_signing_key(core)
    await registries.ensure_registry(core, core.settings.account_id)

    app = web.Application(client_max_size=api.protocol.MAX_BODY)
    app[CORE] = core
    keys = None
    if settings.auth == "strict":
        if settings.credentials is None:
            raise ValueError("--auth strict needs --credentials FILE")
        keys = load_keys(settings.credentials)
    api.add_routes(app, core, keys)
    registry.add_routes(app)
    gallery.add_routes(app)
    app.router.add_route("GET", "/", _home)

    async def close(_app: web.Application) -> None:
        await meta.close()

    app.on_cleanup.append(close)
    return app


async def _home(request: web.Request) -> web.Response:
    core = request.app[CORE]
    return web.Response(
        text=f"berth: ECR Public API on POST /, registry on /v2/ "
        f"(repositories under {core.settings.public_host}/{core.settings.alias}/)\n"
    )
