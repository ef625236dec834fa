"""Get/PutRegistryCatalogData, Get/PutRepositoryCatalogData."""

from __future__ import annotations

from typing import Any

from ..core import catalog
from ..core.model import CatalogData
from .access import repository_for
from .protocol import Call

# Service-model member -> CatalogData field.
_MEMBERS = {
    "description": "description",
    "aboutText": "about_text",
    "usageText": "usage_text",
    "architectures": "architectures",
    "operatingSystems": "operating_systems",
}


def catalog_input(data: dict[str, Any]) -> tuple[dict[str, object], bytes | None]:
    """The fields and logo bytes of a RepositoryCatalogDataInput."""
    fields: dict[str, object] = {}
    for member, field in _MEMBERS.items():
        if member in data:
            value = data[member]
            fields[field] = tuple(value) if isinstance(value, list) else value
    return fields, data.get("logoImageBlob")


def logo_url(call: Call, digest: str) -> str:
    return f"{call.core.settings.public_url}/logo/{digest.split(':', 1)[1]}.png"


def catalog_output(call: Call, data: CatalogData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for member, field in _MEMBERS.items():
        value = getattr(data, field)
        if value is not None:
            out[member] = list(value) if isinstance(value, tuple) else value
    if data.logo_digest:
        out["logoUrl"] = logo_url(call, data.logo_digest)
    out["marketplaceCertified"] = False
    return out


async def get_registry_catalog_data(call: Call) -> dict[str, Any]:
    name = await catalog.get_display_name(call.core, call.principal.account_id)
    return {"registryCatalogData": {"displayName": name} if name else {}}


async def put_registry_catalog_data(call: Call) -> dict[str, Any]:
    name = call.params.get("displayName")
    if name is None:
        name = await catalog.get_display_name(call.core, call.principal.account_id)
    else:
        name = await catalog.set_display_name(call.core, call.principal.account_id, name)
    return {"registryCatalogData": {"displayName": name} if name else {}}


async def get_repository_catalog_data(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=False)
    data = await catalog.get_repository_catalog(call.core, repo)
    return {"catalogData": catalog_output(call, data)}


async def put_repository_catalog_data(call: Call) -> dict[str, Any]:
    repo = await repository_for(call, write=True)
    fields, logo = catalog_input(call.params["catalogData"])
    data = await catalog.put_repository_catalog(call.core, repo, logo=logo, **fields)
    return {"catalogData": catalog_output(call, data)}
