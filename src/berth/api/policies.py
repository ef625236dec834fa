"""SetRepositoryPolicy, GetRepositoryPolicy, DeleteRepositoryPolicy."""

from __future__ import annotations

from typing import Any

from ..core import policies
from ..core.model import Repository
from .access import repository_for
from .protocol import Call


def _answer(repo: Repository, text: str) -> dict[str, Any]:
    return {"registryId": repo.account_id, "repositoryName": repo.name, "policyText": text}


async def set_repository_policy(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=True)
    setter = (call.principal.account_id, call.principal.arn)
    text = await policies.set_policy(
        call.core, repo, call.params["policyText"], setter, call.params.get("force", False)
    )
    return _answer(repo, text)


async def get_repository_policy(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=False)
    return _answer(repo, await policies.get_policy(call.core, repo))


async def delete_repository_policy(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=True)
    return _answer(repo, await policies.delete_policy(call.core, repo))
