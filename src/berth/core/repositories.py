"""Repositories: create, find, list, delete."""

from __future__ import annotations

from .errors import RepositoryAlreadyExists, RepositoryNotEmpty, RepositoryNotFound
from .model import Repository
from .names import check_repository_name
from .registries import ensure_registry
from .service import Core, now


async def create_repository(core: Core, account_id: str, name: str) -> Repository:
    check_repository_name(name)
    await ensure_registry(core, account_id)
    async with core.meta.write() as tx:
        repository = await tx.add_repository(account_id, name, now())
    if repository is None:
        raise RepositoryAlreadyExists(account_id, name)
    return repository


async def get_repository(core: Core, account_id: str, name: str) -> Repository:
    async with core.meta.read() as tx:
        repository = await tx.get_repository(account_id, name)
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
        core.hashers.pop(upload_id, None)
        await core.blobs.abort(upload_id)
    return repository
