"""Blobs as a repository sees them: linked by a push or a mount, or not at all."""

from __future__ import annotations

from .errors import BlobInUse, BlobNotFound
from .model import BlobLink, Repository
from .service import Core, now


async def keep_for_push(core: Core, repository: Repository, digest_list: list[str]) -> set[str]:
    """A client that finds a blob present will reuse it in a manifest instead
    of pushing it again: restart the grace period of any link older than half
    of it, so garbage collection cannot take the blob between the check and
    the manifest. Returns the digests collected before the refresh got there."""
    async with core.meta.read() as tx:
        old = await tx.old_links(repository.id, digest_list, _refresh_before(core))
    return await _refresh(core, repository.id, old)


def _refresh_before(core: Core) -> float:
    return now() - core.settings.gc_grace / 2


async def _refresh(core: Core, repository_id: int, old: list[str]) -> set[str]:
    if not old:
        return set()
    async with core.meta.write() as tx:
        # The update waits for a collection holding the row; what it deleted stays gone.
        await tx.refresh_links(repository_id, old, now())
        kept = await tx.get_linked_blobs(repository_id, old)
    return set(old) - set(kept)


async def head_size(core: Core, account_id: str, name: str, digest: str) -> int | None:
    """`pull_size` for a HEAD, which is how pushing clients decide to skip a
    blob: the link is held as in `keep_for_push`, in one query when it is fresh."""
    found = await core.meta.pull_link(account_id, name, digest)
    if found is None:
        return None
    size, repository_id, linked_at = found
    if linked_at < _refresh_before(core) and await _refresh(core, repository_id, [digest]):
        return None
    return size


async def stat_blob(core: Core, repository: Repository, digest: str) -> BlobLink:
    async with core.meta.read() as tx:
        found = await tx.get_linked_blobs(repository.id, [digest])
    if digest not in found:
        raise BlobNotFound(digest)
    return found[digest]


async def check_blobs(
    core: Core, repository: Repository, digest_list: list[str]
) -> dict[str, BlobLink]:
    async with core.meta.read() as tx:
        found = await tx.get_linked_blobs(repository.id, digest_list)
    for digest in await keep_for_push(core, repository, list(found)):
        del found[digest]
    return found


async def mount_blob(
    core: Core, repository: Repository, digest: str, source: Repository | None
) -> bool:
    """Link a blob another repository holds into this one; True only if linked."""
    async with core.meta.write(repository) as tx:
        if await tx.get_linked_blobs(repository.id, [digest]):
            await tx.refresh_links(repository.id, [digest], now())  # reused: see keep_for_push
            return True
        if await tx.lock_blob(digest) is None:  # held against GC until linked
            return False
        if source is not None and not await tx.get_linked_blobs(source.id, [digest]):
            return False
        # Without `from`: only a blob some repository holds (a row alone may be an
        # upload's whose bytes are still going in place).
        if source is None and not await tx.blob_linked_anywhere(digest):
            return False
        await tx.link_blob(repository.id, digest, now())
        return True


async def unlink_blob(core: Core, repository: Repository, digest: str) -> None:
    """Take a blob out of a repository; its bytes stay for garbage collection.
    A blob a manifest of the repository references stays: deleting it would
    break an image that is still listed."""
    async with core.meta.write(repository) as tx:
        if await tx.lock_link(repository.id, digest) is None:
            raise BlobNotFound(digest)
        if await tx.link_referenced(repository.id, digest):
            raise BlobInUse(digest)
        await tx.unlink_blob(repository.id, digest)


async def pull_size(core: Core, account_id: str, name: str, digest: str) -> int | None:
    """The pull path's one lookup: the size of a blob linked into the named
    repository, or None (no such repository, or no such blob in it)."""
    return await core.meta.pull_blob(account_id, name, digest)
