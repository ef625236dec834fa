"""Catalog data: the registry's display name and each repository's
description, about/usage text, platforms and logo."""

from __future__ import annotations

import struct
from dataclasses import replace

from . import digests
from .errors import InvalidLogo
from .model import CatalogData, Repository
from .registries import ensure_registry
from .service import Core

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOGO_MIN_PIXELS, LOGO_MAX_PIXELS = 60, 2048  # ECR Public's documented bounds


def check_logo(data: bytes) -> str:
    """The logo's content type; refuses anything but a PNG of allowed dimensions."""
    # IHDR is always the first chunk: length, type, width, height.
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise InvalidLogo("the logo must be a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    if not all(LOGO_MIN_PIXELS <= n <= LOGO_MAX_PIXELS for n in (width, height)):
        raise InvalidLogo(
            f"the logo must be between {LOGO_MIN_PIXELS}x{LOGO_MIN_PIXELS} and "
            f"{LOGO_MAX_PIXELS}x{LOGO_MAX_PIXELS} pixels, not {width}x{height}"
        )
    return "image/png"


async def get_repository_catalog(core: Core, repository: Repository) -> CatalogData:
    async with core.meta.read() as tx:
        return await tx.get_catalog(repository.id)


async def put_repository_catalog(
    core: Core,
    repository: Repository,
    *,
    logo: bytes | None = None,
    **fields: object,
) -> CatalogData:
    """Update the members given; members left out keep their value. An empty
    logo removes it."""
    content_type = check_logo(logo) if logo else None
    async with core.meta.write(repository) as tx:
        current = await tx.get_catalog(repository.id)
        updated = replace(current, **fields)  # type: ignore[arg-type]
        if logo is not None:
            digest = None
            if logo:
                digest = digests.of(logo)
                assert content_type is not None
                await tx.add_logo(digest, content_type, logo)
            updated = replace(updated, logo_digest=digest)
        await tx.set_catalog(repository.id, updated)
    return updated


async def get_logo(core: Core, digest: str) -> tuple[str, bytes] | None:
    async with core.meta.read() as tx:
        return await tx.get_logo(digest)


async def get_display_name(core: Core, account_id: str) -> str | None:
    return (await ensure_registry(core, account_id)).display_name


async def set_display_name(core: Core, account_id: str, display_name: str | None) -> str | None:
    await ensure_registry(core, account_id)
    async with core.meta.write() as tx:
        await tx.set_display_name(account_id, display_name or None)
    return display_name or None
