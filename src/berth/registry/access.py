"""Who may do what on /v2: bearer tokens from /token, Basic `AWS:<password>`,
and the 401 challenge that starts the token flow."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..core import auth
from ..core.errors import Unauthorized
from ..core.model import Repository
from ..core.service import Core
from .errors import OciError

ACTION_FOR_METHOD = {
    "GET": auth.PULL,
    "HEAD": auth.PULL,
    "POST": auth.PUSH,
    "PUT": auth.PUSH,
    "PATCH": auth.PUSH,
    "DELETE": auth.DELETE,
}


def challenge(
    core: Core, name: str | None, action: str | None, error: str | None = None
) -> OciError:
    settings = core.settings
    value = (
        f'Bearer realm="{settings.public_url.rstrip("/")}/token",service="{settings.public_host}"'
    )
    if name is not None and action is not None:
        actions = "pull" if action == auth.PULL else f"pull,{action}"
        value += f',scope="repository:{name}:{actions}"'
    if error is not None:
        value += f',error="{error}"'
    return OciError(
        401,
        "UNAUTHORIZED",
        "authentication required",
        headers={"WWW-Authenticate": value},
    )


def login_principal(core: Core, password: str) -> auth.Principal:
    return auth.verify_login_password(core, password)


def basic_credentials(header: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(header, validate=True).decode()
    except ValueError as exc:  # not base64 (non-ASCII too), or not UTF-8 inside
        raise Unauthorized("malformed Basic credentials") from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthorized("malformed Basic credentials")
    return user, password


def principal_from_basic(core: Core, encoded: str) -> auth.Principal:
    _user, password = basic_credentials(encoded)
    return login_principal(core, password)


Resolve = Callable[[], Awaitable[Repository | None]]


async def _no_repository() -> None:
    return None


async def authorize(
    core: Core,
    request: web.Request,
    name: str | None,
    action: str | None,
    owner: str | None,
    resolve: Resolve = _no_repository,
) -> auth.Principal | None:
    """Check the request may do `action` on repository `name` (None: the /v2/ base).

    Raises the 401 challenge (no or stale credentials, or a token without the
    scope) or 403 DENIED (valid credentials that do not allow it). A bearer
    token carries its grant, so the pull path never looks the repository up
    here; `resolve` finds it when credentials must be weighed against it.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        try:
            grant = auth.verify_token(core, value, core.settings.public_host)
        except Unauthorized:
            # ECR's raw-HTTP recipe sends GetAuthorizationToken's base64
            # `AWS:<password>` itself as the bearer token.
            try:
                principal = principal_from_basic(core, value)
            except Unauthorized:
                raise challenge(core, name, action, "invalid_token") from None
            return await _direct(core, principal, name, action, owner, resolve)
        if name is None or action is None or grant.allows(name, action):
            return grant.principal
        raise challenge(core, name, action, "insufficient_scope")
    if scheme == "basic" and value:
        try:
            principal = principal_from_basic(core, value)
        except Unauthorized:
            raise challenge(core, name, action, "invalid_token") from None
        return await _direct(core, principal, name, action, owner, resolve)
    raise challenge(core, name, action)


async def _direct(
    core: Core,
    principal: auth.Principal,
    name: str | None,
    action: str | None,
    owner: str | None,
    resolve: Resolve,
) -> auth.Principal:
    if name is None or action is None:
        return principal
    if await auth.permitted_actions(core, principal, owner, await resolve(), (action,)):
        return principal
    raise OciError(403, "DENIED", "requested access to the resource is denied")
