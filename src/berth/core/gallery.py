"""What the public gallery shows: read-only views of repositories that hold
images, their catalog data and tags. Nothing private (policies, resource
tags, uploads) is ever read here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import names
from .model import Image, Listing, Registry
from .registries import account_for_alias
from .service import Core

# The values ECR Public's gallery turns into badges and search filters;
# other strings are stored and returned by the API but not shown.
ARCHITECTURES = ("ARM", "ARM 64", "x86", "x86-64")
OPERATING_SYSTEMS = ("Linux", "Windows")
# A container image's own config type says nothing a visitor needs; any other
# config type (a Helm chart, a signature, an SBOM) is what the artifact is.
_IMAGE_CONFIGS = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
REPOSITORIES_PER_PAGE = 24
TAGS_PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    number: int
    pages: int
    total: int


@dataclass(frozen=True)
class SearchResult:
    listings: list[Listing]
    page: Page


@dataclass(frozen=True)
class TagRow:
    name: str
    digest: str
    pushed_at: float
    size: int
    media_type: str
    artifact_type: str | None
    platforms: tuple[str, ...]  # os/architecture[/variant] of an index's children


def _artifact_type(image: Image) -> str | None:
    if image.artifact_type:
        return image.artifact_type
    config = image.config_media_type
    return None if config is None or config in _IMAGE_CONFIGS else config


def badges(values: tuple[str, ...] | None, allowed: tuple[str, ...]) -> list[str]:
    return [v for v in (values or ()) if v in allowed]


def _page(total: int, number: int, size: int) -> Page:
    pages = max(1, -(-total // size))
    return Page(min(max(number, 1), pages), pages, total)


# Data over branches: each sort order is a key.
_ORDERS: dict[str, Callable[[Listing], Any]] = {
    "pushed": lambda i: (-(i.pushed_at or 0.0), i.name),
    "created": lambda i: (-i.created_at, i.name),
    "name": lambda i: (i.name, i.alias),
}
SORTS = tuple(_ORDERS)


async def front_page(core: Core, size: int = 12) -> tuple[list[Listing], list[Listing]]:
    """The home page's two lists, most recently pushed and newest, from one read."""
    async with core.meta.read() as tx:
        found = await tx.listings()
    return sorted(found, key=_ORDERS["pushed"])[:size], sorted(found, key=_ORDERS["created"])[:size]


async def search(
    core: Core,
    text: str = "",
    *,
    architecture: str | None = None,
    operating_system: str | None = None,
    sort: str = "pushed",
    page: int = 1,
    account_id: str | None = None,
) -> SearchResult:
    async with core.meta.read() as tx:
        found = await tx.listings(account_id=account_id)
    words = text.lower().split()
    if words:
        found = [
            item
            for item in found
            if all(
                w in item.name.lower() or w in (item.catalog.description or "").lower()
                for w in words
            )
        ]
    if architecture:
        found = [i for i in found if architecture in (i.catalog.architectures or ())]
    if operating_system:
        found = [i for i in found if operating_system in (i.catalog.operating_systems or ())]
    found.sort(key=_ORDERS[sort])
    at = _page(len(found), page, REPOSITORIES_PER_PAGE)
    start = (at.number - 1) * REPOSITORIES_PER_PAGE
    return SearchResult(found[start : start + REPOSITORIES_PER_PAGE], at)


async def registry(core: Core, alias: str) -> Registry | None:
    """The registry an alias names; its display name shows even before it has a
    public repository."""
    account = await account_for_alias(core, alias)
    if account is None:
        return None
    async with core.meta.read() as tx:
        return await tx.get_registry(account)


async def listing(core: Core, alias: str, name: str) -> Listing | None:
    account = await account_for_alias(core, alias)
    if account is None:
        return None
    async with core.meta.read() as tx:
        found = await tx.listings(account_id=account, name=name)
    return found[0] if found else None


async def tags(core: Core, item: Listing, page: int) -> tuple[list[TagRow], Page]:
    async with core.meta.read() as tx:
        repository = await tx.get_repository(item.account_id, item.name)
        if repository is None:
            return [], _page(0, 1, TAGS_PER_PAGE)
        at = _page(await tx.count_tags(repository.id), page, TAGS_PER_PAGE)
        records = await tx.tags_by_push(
            repository.id, (at.number - 1) * TAGS_PER_PAGE, TAGS_PER_PAGE
        )
        platforms = await tx.child_platforms([r.image.id for r in records])
    rows = [
        TagRow(
            name=r.name,
            digest=r.image.digest,
            pushed_at=r.image.pushed_at,
            size=r.image.size,
            media_type=r.image.media_type,
            artifact_type=_artifact_type(r.image),
            platforms=tuple(
                "/".join(str(p[k]) for k in ("os", "architecture", "variant") if p.get(k))
                for p in platforms.get(r.image.id, [])
            ),
        )
        for r in records
    ]
    return rows, at


async def pull_tag(core: Core, item: Listing) -> str | None:
    """The tag a visitor most likely wants: `latest` if there is one, else the
    most recently pushed that a pull can name (PutImage takes tags /v2 cannot
    address, with spaces or `&&` in them: never offered as a command to copy)."""
    async with core.meta.read() as tx:
        repository = await tx.get_repository(item.account_id, item.name)
        if repository is None:
            return None
        if await tx.get_image_by_tag(repository.id, "latest") is not None:
            return "latest"
        offset = 0
        while batch := await tx.tags_by_push(repository.id, offset, 100):
            for record in batch:
                if names.TAG.fullmatch(record.name):
                    return record.name
            offset += len(batch)
    return None
