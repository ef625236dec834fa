"""CreateRepository, DescribeRepositories, DeleteRepository."""

from __future__ import annotations

from typing import Any

from ..core import registries, repositories
from ..core.errors import Denied
from ..core.model import Repository
from . import pagination, shapes
from .errors import AwsError
from .protocol import Call

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
    account_id = call.principal.account_id
    repo = await repositories.create_repository(
        call.core, account_id, call.params["repositoryName"]
    )
    return {"repository": (await _render(call, [repo]))[0], "catalogData": {}}


async def describe_repositories(call: Call) -> dict[str, Any]:
    p = call.params
    account_id = target_account(call)
    names = p.get("repositoryNames")
    if names is not None:
        if "maxResults" in p or "nextToken" in p:
            raise AwsError(
                "InvalidParameterException",
                "Invalid parameter at 'maxResults' failed to satisfy constraint: "
                "'maxResults and nextToken cannot be used with repositoryNames'",
            )
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
    account_id, name = target_account(call), call.params["repositoryName"]
    if account_id != call.principal.account_id:
        raise Denied(f"ecr-public:{call.operation}", shapes.repository_arn(account_id, name))
    repo = await repositories.delete_repository(
        call.core, account_id, name, bool(call.params.get("force"))
    )
    return {"repository": (await _render(call, [repo]))[0]}
