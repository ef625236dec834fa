"""Registries (one per account) and their aliases."""

from __future__ import annotations

import re
import secrets
import string

from .errors import RegistryNotFound
from .model import Registry
from .service import Core, now

ACCOUNT_ID = re.compile(r"[0-9]{12}")


def _generated_alias() -> str:
    # Shaped like the random default aliases AWS hands out (lower-case, starts with a letter).
    alphabet = string.ascii_lowercase + string.digits
    return secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(alphabet) for _ in range(7)
    )


async def ensure_registry(core: Core, account_id: str) -> Registry:
    """The account's registry, created with its default alias on first use."""
    async with core.meta.read() as tx:
        registry = await tx.get_registry(account_id)
    if registry is not None:
        return registry
    for _ in range(20):
        alias = (
            core.settings.alias if account_id == core.settings.account_id else _generated_alias()
        )
        async with core.meta.write() as tx:
            if await tx.get_registry(account_id) is None and not await tx.alias_exists(alias):
                await tx.add_registry(account_id, alias, now())
            registry = await tx.get_registry(account_id)
        if registry is not None:
            return registry
        if account_id == core.settings.account_id:
            raise RuntimeError(f"the configured alias {alias!r} belongs to another account")
    raise RuntimeError("could not allocate a registry alias")


async def resolve_registry(core: Core, registry: str | None, caller_account: str) -> str:
    """Account id for a `registryId` that may be an account id or an alias."""
    if registry is None or registry == caller_account:
        return caller_account
    if ACCOUNT_ID.fullmatch(registry):
        async with core.meta.read() as tx:
            found = await tx.get_registry(registry)
        if found is None:
            raise RegistryNotFound(registry)
        return registry
    async with core.meta.read() as tx:
        account = await tx.account_for_alias(registry)
    if account is None:
        raise RegistryNotFound(registry)
    return account


async def account_for_alias(core: Core, alias: str) -> str | None:
    account = core.aliases.get(alias)
    if account is None:
        async with core.meta.read() as tx:
            account = await tx.account_for_alias(alias)
        if account is not None:
            core.aliases[alias] = account
    return account
