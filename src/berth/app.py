"""Wiring: open the stores, build the core, mount the faces on one aiohttp app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from . import api, gallery, registry
from .api.sigv4 import load_keys
from .appkeys import CORE
from .config import Settings
from .core import auth, gc, registries
from .core.service import Core
from .store.blobs import open_blobs
from .store.metadata import open_metadata

log = logging.getLogger(__name__)


async def prepare(settings: Settings) -> None:
    """Create what every process needs before any serves: the schema, the signing
    key and the default registry. Run once before starting several workers."""
    app = await create_app(settings)
    await app.cleanup()


async def open_core(settings: Settings) -> Core:
    """The stores and the core, ready to serve; close with `close_core`."""
    settings.data.mkdir(parents=True, exist_ok=True)
    meta = open_metadata(settings.effective_metadata_url)
    try:
        await meta.ensure_schema()
        core = Core(
            meta=meta,
            blobs=open_blobs(settings.effective_blobs_url),
            settings=settings.core_settings(),
        )
        await auth.load_signing_key(core)
        await registries.ensure_registry(core, core.settings.account_id)
    except BaseException:
        await meta.close()
        raise
    return core


async def close_core(core: Core) -> None:
    close = getattr(core.blobs, "close", None)
    if close is not None:
        await close()
    await core.meta.close()


async def create_app(settings: Settings) -> web.Application:
    core = await open_core(settings)
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

    if settings.gc_interval > 0:
        app.cleanup_ctx.append(_collector(core, settings))

    async def close(_app: web.Application) -> None:
        await close_core(core)

    app.on_cleanup.append(close)
    return app


def _collector(core: Core, settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """Online garbage collection: every interval, the one process (of all workers
    and replicas) that takes the lease collects."""

    async def run() -> None:
        while True:
            await asyncio.sleep(settings.gc_interval)
            try:
                async with core.meta.write() as tx:
                    taken = await tx.take_lease("gc_lease", time.time(), settings.gc_interval)
                if taken:
                    report = await gc.collect(
                        core, grace=settings.gc_grace, upload_max_age=settings.upload_max_age
                    )
                    log.info("garbage collection: %s", report)
            except Exception:  # the next round tries again; serving goes on
                log.exception("garbage collection failed")

    async def context(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context
