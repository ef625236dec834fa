"""The /v2 router: parse the path, authorize, find the repository, call one handler.

Repository names contain slashes, so routing is one table of patterns over
the path after /v2/ (longest suffix first), not aiohttp's per-segment router.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError

from ..appkeys import CORE
from ..core import auth, registries, repositories
from ..core.errors import BerthError, RepositoryNotFound
from ..core.model import Repository
from ..core.names import is_repository_name
from ..core.service import Core
from . import access
from .errors import API_VERSION_HEADER, OciError, to_oci

log = logging.getLogger(__name__)


@dataclass
class Target:
    """A /v2 request, authorized: whose repository, and the path's last part."""

    core: Core
    request: web.Request
    name: str  # <alias>/<repository name>, as in the path
    account_id: str  # the repository's owner
    repository_name: str
    argument: str  # digest, reference or upload id; "" where the route has none
    principal: auth.Principal | None = None
    _repository: Repository | None = field(default=None, repr=False)

    async def find_repository(self) -> Repository | None:
        if self._repository is None:
            self._repository = await repositories.find_repository(
                self.core, self.account_id, self.repository_name
            )
        return self._repository

    async def repository(self) -> Repository:
        """The repository; NAME_UNKNOWN when it does not exist."""
        found = await self.find_repository()
        if found is None:
            raise RepositoryNotFound(self.account_id, self.repository_name)
        return found


Handler = Callable[[Target], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """Handlers for `/v2/<name>/<suffix>` by method; `suffix` may capture `arg`.
    `actions` overrides the access action a method otherwise needs."""

    suffix: str
    handlers: dict[str, Handler]
    actions: dict[str, str] = field(default_factory=dict)


_ROUTES: list[tuple[re.Pattern[str], Route]] = []


def install(table: list[Route]) -> None:
    """Set the route table; the first route whose pattern matches wins."""
    _ROUTES[:] = [(re.compile(rf"(?P<name>.+?)/{r.suffix}"), r) for r in table]


def _match(path: str) -> tuple[re.Match[str], Route] | None:
    for pattern, candidate in _ROUTES:
        match = pattern.fullmatch(path)
        if match is not None:
            return match, candidate
    return None


async def base(request: web.Request) -> web.StreamResponse:
    """GET /v2/: 200 to any authenticated caller, else the challenge."""
    core: Core = request.app[CORE]
    try:
        await access.authorize(core, request, None, None, None)
    except OciError as err:
        return err.response(request.method == "HEAD")
    return web.Response(
        body=b"{}", headers={**API_VERSION_HEADER, "Content-Type": "application/json"}
    )


async def dispatch(request: web.Request) -> web.StreamResponse:
    head = request.method == "HEAD"
    try:
        return await _dispatch(request)
    except OciError as err:
        return err.response(head)
    except BerthError as err:
        mapped = to_oci(err)
        if mapped is None:
            log.exception("unmapped core error on %s %s", request.method, request.path)
            mapped = OciError(500, "UNKNOWN", "internal error")
        return mapped.response(head)
    except HttpProcessingError as err:  # a body that cannot be read (bad encoding)
        return OciError(400, "UNSUPPORTED", f"request body unreadable: {err.message}").response(
            head
        )
    except (ConnectionResetError, ClientPayloadError):
        # The client went away mid-body: nothing was stored past the last
        # complete request, and nobody is left to read an answer.
        log.info("client went away during %s %s", request.method, request.path)
        return OciError(400, "BLOB_UPLOAD_INVALID", "request body ended early").response(head)
    except Exception:
        # A bug: still answered in the spec's error form, and logged in full.
        log.exception("unexpected error on %s %s", request.method, request.path)
        return OciError(500, "UNKNOWN", "internal error").response(head)


async def _dispatch(request: web.Request) -> web.StreamResponse:
    core: Core = request.app[CORE]
    path = request.match_info["path"]
    found = _match(path)
    if found is None:
        raise OciError(404, "NOT_FOUND", "no such endpoint", {"path": request.path})
    match, matched = found
    if any("\x00" in key or "\x00" in value for key, value in request.query.items()):
        # No name, tag, digest or cursor holds NUL, and PostgreSQL cannot store it.
        raise OciError(400, "UNSUPPORTED", "query parameters must not contain NUL characters")
    handlers, actions = matched.handlers, matched.actions
    handler = handlers.get(request.method)
    if handler is None:
        raise OciError(
            405,
            "UNSUPPORTED",
            f"{request.method} is not supported here",
            headers={"Allow": ", ".join(sorted(handlers))},
        )
    name = match["name"]
    alias, _, repository_name = name.partition("/")
    if not repository_name or not is_repository_name(repository_name):
        raise OciError(
            400,
            "NAME_INVALID",
            f"invalid repository name {name!r}: expected <registry alias>/<repository name>",
            {"name": name},
        )
    action = actions.get(request.method) or access.ACTION_FOR_METHOD[request.method]
    owner = await registries.account_for_alias(core, alias)
    argument = match.groupdict().get("arg") or ""
    target = Target(core, request, name, owner or "", repository_name, argument)

    async def resolve() -> Repository | None:
        return await target.find_repository() if owner is not None else None

    # Authorize before saying whether the repository exists.
    target.principal = await access.authorize(core, request, name, action, owner, resolve)
    if owner is None:
        raise OciError(
            404,
            "NAME_UNKNOWN",
            f"repository name not known to registry: no registry has the alias '{alias}'",
            {"name": name},
        )
    return await handler(target)


def json_response(body: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(),
        headers={**API_VERSION_HEADER, "Content-Type": "application/json", **(headers or {})},
    )
