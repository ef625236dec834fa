"""The token service (`/token`): scoped, short-lived bearer tokens for /v2.

Anonymous callers get pull and nothing else; `AWS:<password>` from
GetAuthorizationToken gets what its account may do.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from aiohttp import web

from ..appkeys import CORE
from ..core import auth, registries, repositories
from ..core.errors import Unauthorized
from ..core.service import Core
from .access import basic_credentials, login_principal
from .errors import API_VERSION_HEADER, OciError

_SCOPE = re.compile(r"repository(?:\([^)]*\))?:(?P<name>[^:]+):(?P<actions>[a-z*,]*)")


def _principal(core: Core, request: web.Request, form: dict[str, str]) -> auth.Principal | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    try:
        if scheme.lower() == "basic" and value.strip():
            _user, password = basic_credentials(value.strip())
            return login_principal(core, password)
        if form.get("grant_type") == "password" and form.get("password"):
            return login_principal(core, form["password"])
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token"):
            return login_principal(core, form["refresh_token"])
    except Unauthorized as exc:
        raise OciError(401, "UNAUTHORIZED", f"authentication failed: {exc.reason}") from exc
    return None


async def _access(
    core: Core, principal: auth.Principal | None, scopes: list[str]
) -> list[auth.Access]:
    granted: list[auth.Access] = []
    for scope in scopes:
        for part in scope.split(" "):
            match = _SCOPE.fullmatch(part)
            if match is None:
                continue  # `aws`, `registry:catalog:*`, …: nothing to grant
            name = match["name"]
            requested = tuple(
                a
                for a in (auth.ACTIONS if "*" in match["actions"] else match["actions"].split(","))
                if a in auth.ACTIONS
            )
            alias, _, repository_name = name.partition("/")
            owner = await registries.account_for_alias(core, alias) if repository_name else None
            repository = None
            if owner is not None:
                repository = await repositories.find_repository(core, owner, repository_name)
            actions = await auth.permitted_actions(core, principal, owner, repository, requested)
            granted.append(auth.Access("repository", name, actions))
    return granted


async def issue(request: web.Request) -> web.Response:
    core: Core = request.app[CORE]
    form: dict[str, str] = {}
    scopes = request.query.getall("scope", [])
    if request.method not in ("GET", "POST"):
        return OciError(405, "UNSUPPORTED", "the token service takes GET and POST").response()
    if request.method == "POST":
        try:
            posted = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return OciError(413, "SIZE_INVALID", "the form body is too large").response()
        except (ValueError, LookupError):
            # Undecodable bytes or charset, a multipart body without its boundary.
            return OciError(400, "UNSUPPORTED", "the form body could not be read").response()
        form = {k: str(v) for k, v in posted.items()}
        scopes = scopes + [str(v) for v in posted.getall("scope", [])]
    try:
        principal = _principal(core, request, form)
    except OciError as err:
        return err.response()
    access = await _access(core, principal, scopes)
    # Tokens are always for this registry, whatever `service` the client echoed.
    token, ttl, issued = auth.issue_token(core, principal, access, core.settings.public_host)
    body: dict[str, object] = {
        "token": token,
        "access_token": token,
        "expires_in": ttl,
        "issued_at": datetime.fromtimestamp(issued, UTC).isoformat().replace("+00:00", "Z"),
    }
    if principal is not None and form.get("access_type") == "offline":
        body["refresh_token"] = form.get("password") or form.get("refresh_token")
    return web.Response(
        body=json.dumps(body).encode(),
        headers={**API_VERSION_HEADER, "Content-Type": "application/json"},
    )
