"""CreateRepository, DescribeRepositories, DeleteRepository."""

from __future__ import annotations

from typing import Any

from ..core import catalog as core_catalog
from ..core import registries, repositories
from ..core.model import Repository
from . import pagination, shapes
from .access import repository_for
from .catalog import catalog_input, catalog_output
from .protocol import Call
from .tagging import tag_pairs

DEFAULT_PAGE = 100  # the model: at most 100 results when maxResults is omitted


async def _alias(call: Call, account_id: str) -> str:
    return (await registries.ensure_registry(call.core, account_id)).primary_alias


async def _render(call: Call, items: list[Repository]) -> list[dict[str, Any]]:
    aliases: dict[str, str] = {}
    out = []
    for repo in items:
        if repo.account_id not in aliases:
            aliases[repo.account_id] = await _alias(call, repo.account_id)
        out.append(shapes.repository(call.core, repo, aliases[repo.account_id]))
    return out


def target_account(call: Call) -> str:
    """The account a call addresses: its `registryId`, else the caller's own."""
    return str(call.params.get("registryId") or call.principal.account_id)


async def create_repository(call: Call) -> dict[str, Any]:
    p = call.params
    fields, logo = catalog_input(p.get("catalogData", {}))
    repo = await repositories.create_repository(
        call.core,
        call.principal.account_id,
        p["repositoryName"],
        tags=tag_pairs(p.get("tags", [])),
        catalog=fields,
        logo=logo,
    )
    data = await core_catalog.get_repository_catalog(call.core, repo)
    out = catalog_output(call, data) if "catalogData" in p else {}
    return {"repository": (await _render(call, [repo]))[0], "catalogData": out}


async def describe_repositories(call: Call) -> dict[str, Any]:
    p = call.params
    account_id = target_account(call)
    names = p.get("repositoryNames")
    if names is not None:
        pagination.refuse_with(p, "repositoryNames")
        found = await repositories.get_repositories(call.core, account_id, names)
        return {"repositories": await _render(call, found)}
    after = None
    if "nextToken" in p:
        after = pagination.decode(call.core.signing_key, call.operation, account_id, p["nextToken"])
    page, cursor = await repositories.list_repositories(
        call.core, account_id, after, p.get("maxResults", DEFAULT_PAGE)
    )
    out: dict[str, Any] = {"repositories": await _render(call, page)}
    if cursor is not None:
        out["nextToken"] = pagination.encode(
            call.core.signing_key, call.operation, account_id, cursor
        )
    return out


async def delete_repository(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=True)
    await repositories.delete_repository(
        call.core, repo.account_id, repo.name, bool(call.params.get("force"))
    )
    return {"repository": (await _render(call, [repo]))[0]}
