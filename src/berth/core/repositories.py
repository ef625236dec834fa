"""Repositories: create, find, list, delete."""

from __future__ import annotations

from dataclasses import replace

from . import digests, resource_tags, uploads
from .catalog import check_logo
from .errors import LimitExceeded, RepositoryAlreadyExists, RepositoryNotEmpty, RepositoryNotFound
from .model import CatalogData, Repository
from .names import check_repository_name
from .registries import ensure_registry
from .service import Core, now


async def create_repository(
    core: Core,
    account_id: str,
    name: str,
    *,
    tags: list[tuple[str, str]] | None = None,
    catalog: dict[str, object] | None = None,
    logo: bytes | None = None,
) -> Repository:
    """Create a repository with its resource tags and catalog data, all or nothing."""
    check_repository_name(name)
    new_tags = resource_tags.merged(core, [], tags or [])
    content_type = check_logo(logo) if logo else None
    await ensure_registry(core, account_id)
    async with core.meta.write() as tx:
        limit = core.settings.limits.repositories_per_registry
        if await tx.count_repositories(account_id) >= limit:
            raise LimitExceeded("repositories per registry", limit)
        repository = await tx.add_repository(account_id, name, now())
        if repository is None:
            raise RepositoryAlreadyExists(account_id, name)
        if new_tags:
            await tx.set_resource_tags(repository.id, new_tags)
        if catalog or logo:
            data = CatalogData(**catalog) if catalog else CatalogData()  # type: ignore[arg-type]
            if logo and content_type:
                data = replace(data, logo_digest=digests.of(logo))
                await tx.add_logo(data.logo_digest or "", content_type, logo)
            await tx.set_catalog(repository.id, data)
    return repository


async def find_repository(core: Core, account_id: str, name: str) -> Repository | None:
    return await core.meta.find_repository(account_id, name)


async def get_repository(core: Core, account_id: str, name: str) -> Repository:
    repository = await find_repository(core, account_id, name)
    if repository is None:
        raise RepositoryNotFound(account_id, name)
    return repository


async def get_repositories(core: Core, account_id: str, names: list[str]) -> list[Repository]:
    """Exactly the named repositories, in the order asked; any missing one fails the call."""
    found: list[Repository] = []
    async with core.meta.read() as tx:
        for name in dict.fromkeys(names):
            repository = await tx.get_repository(account_id, name)
            if repository is None:
                raise RepositoryNotFound(account_id, name)
            found.append(repository)
    return found


async def list_repositories(
    core: Core, account_id: str, after: str | None, limit: int
) -> tuple[list[Repository], str | None]:
    """One page in name order, and the cursor of the next page if there is one."""
    async with core.meta.read() as tx:
        page = await tx.list_repositories(account_id, after, limit + 1)
    if len(page) > limit:
        return page[:limit], page[limit - 1].name
    return page, None


async def delete_repository(core: Core, account_id: str, name: str, force: bool) -> Repository:
    """Delete a repository; with images in it only when forced. Blob bytes stay
    for garbage collection, which frees them once nothing references them."""
    async with core.meta.write() as tx:
        repository = await tx.get_repository(account_id, name)
        if repository is None:
            raise RepositoryNotFound(account_id, name)
        if not force and await tx.count_images(repository.id):
            raise RepositoryNotEmpty(account_id, name)
        upload_ids = await tx.upload_ids(repository.id)
        await tx.delete_repository(repository.id)
    for upload_id in upload_ids:
        uploads.forget(core, upload_id)
        await core.blobs.abort(upload_id)
    return repository
