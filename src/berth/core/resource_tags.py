"""Resource tags on repositories (TagResource and friends), with AWS's limits."""

from __future__ import annotations

from .errors import InvalidResourceTag, TooManyTags
from .model import Repository
from .service import Core

RESERVED_PREFIX = "aws:"


def _check_keys(keys: list[str]) -> None:
    for key in keys:
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidResourceTag(f"the tag key prefix '{RESERVED_PREFIX}' is reserved: {key!r}")


def merged(
    core: Core, current: list[tuple[str, str]], new: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """`current` with `new` applied (existing keys overwritten), within the limit."""
    _check_keys([k for k, _ in new])
    tags = dict(current)
    for key, value in new:
        tags[key] = value
    limit = core.settings.limits.resource_tags_per_repository
    if sum(1 for k in tags if not k.lower().startswith(RESERVED_PREFIX)) > limit:
        raise TooManyTags(limit)
    return list(tags.items())


async def list_tags(core: Core, repository: Repository) -> list[tuple[str, str]]:
    async with core.meta.read() as tx:
        return await tx.get_resource_tags(repository.id)


async def tag(core: Core, repository: Repository, new: list[tuple[str, str]]) -> None:
    async with core.meta.write(repository) as tx:
        current = await tx.get_resource_tags(repository.id)
        await tx.set_resource_tags(repository.id, merged(core, current, new))


async def untag(core: Core, repository: Repository, keys: list[str]) -> None:
    _check_keys(keys)
    async with core.meta.write(repository) as tx:
        current = await tx.get_resource_tags(repository.id)
        gone = set(keys)
        await tx.set_resource_tags(repository.id, [(k, v) for k, v in current if k not in gone])
