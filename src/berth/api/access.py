"""Finding the repository a call names, and checking the caller may act on it."""

from __future__ import annotations

from ..core import auth, registries, repositories
from ..core.errors import Denied, RegistryNotFound, RepositoryNotFound
from ..core.model import Repository
from .protocol import Call
from .shapes import repository_arn
from .validation import SERVICE_MODEL


def _models_registry_not_found(operation: str) -> bool:
    errors = SERVICE_MODEL["operations"][operation].get("errors", [])
    return any(e["shape"] == "RegistryNotFoundException" for e in errors)


async def repository_for(call: Call, write: bool) -> Repository:
    """The repository named by `registryId` (account, or alias where the model
    allows one) and `repositoryName`; for a write, the caller must be allowed
    the call's action on it (owner, or the repository policy)."""
    name = call.params["repositoryName"]
    try:
        account_id = await registries.resolve_registry(
            call.core, call.params.get("registryId"), call.principal.account_id
        )
    except RegistryNotFound:
        if _models_registry_not_found(call.operation):
            raise
        # Operations that take only an account id answer as for any missing repository.
        raise RepositoryNotFound(call.params["registryId"], name) from None
    repo = await repositories.get_repository(call.core, account_id, name)
    if write:
        await require(call, repo)
    return repo


async def require(call: Call, repo: Repository) -> None:
    if not await auth.may(call.core, call.principal, repo.account_id, repo, (call.operation,)):
        raise Denied(f"ecr-public:{call.operation}", repository_arn(repo.account_id, repo.name))
