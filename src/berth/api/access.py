"""Finding the repository a push-path call names, and checking the caller may use it."""

from __future__ import annotations

from ..core import auth, registries, repositories
from ..core.errors import Denied
from ..core.model import Repository
from .protocol import Call
from .shapes import repository_arn


async def repository_for(call: Call, action: str) -> Repository:
    """The repository named by `registryId` (account or alias) and `repositoryName`."""
    account_id = await registries.resolve_registry(
        call.core, call.params.get("registryId"), call.principal.account_id
    )
    name = call.params["repositoryName"]
    repo = await repositories.get_repository(call.core, account_id, name)
    if not auth.allowed_actions(call.principal, repo.account_id, (action,)):
        raise Denied(f"ecr-public:{call.operation}", repository_arn(account_id, name))
    return repo
