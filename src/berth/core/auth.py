"""Who is calling and what they may do: login passwords, registry tokens,
and the access decision both faces apply.

Signing keys are made once and kept in the metadata store, so every worker
and replica accepts what any other issued.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

import jwt

from . import policies
from .errors import Unauthorized
from .model import Repository
from .service import Core, now

ISSUER = "berth"
PULL = "pull"
PUSH = "push"
DELETE = "delete"
ACTIONS = (PULL, PUSH, DELETE)


@dataclass(frozen=True)
class Principal:
    account_id: str
    arn: str


@dataclass(frozen=True)
class Access:
    """One granted scope entry: `repository:<alias>/<name>:<actions>`."""

    type: str
    name: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    principal: Principal | None
    access: tuple[Access, ...]

    def allows(self, name: str, action: str) -> bool:
        return any(
            a.type == "repository" and a.name == name and action in a.actions for a in self.access
        )


async def load_signing_key(core: Core) -> None:
    async with core.meta.write() as tx:
        stored = await tx.add_setting("signing_key", secrets.token_hex(32))
    core.signing_key = bytes.fromhex(stored)


def default_principal(core: Core, account_id: str) -> Principal:
    return Principal(account_id, f"arn:aws:iam::{account_id}:root")


def issue_login_password(core: Core, principal: Principal) -> tuple[str, float]:
    """The password inside GetAuthorizationToken's `AWS:<password>`; a JWT,
    so it never holds the ':' that the aws CLI splits on."""
    issued = now()
    expires = issued + core.settings.login_ttl
    password = jwt.encode(
        {
            "iss": ISSUER,
            "typ": "login",
            "sub": principal.arn,
            "acct": principal.account_id,
            "iat": int(issued),
            "exp": int(expires),
        },
        core.signing_key,
        algorithm="HS256",
    )
    return password, round(float(int(expires)), 3)


def verify_login_password(core: Core, password: str) -> Principal:
    claims = _decode(core, password, "login")
    return Principal(str(claims["acct"]), str(claims["sub"]))


def issue_token(
    core: Core, principal: Principal | None, access: list[Access], service: str
) -> tuple[str, int, float]:
    """A bearer token for /v2, bound to the scope granted. Returns
    (token, lifetime in seconds, issue time)."""
    issued = now()
    ttl = int(core.settings.token_ttl)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "typ": "access",
        "aud": service,
        "iat": int(issued),
        # Rounded up: a token lives at least its advertised `expires_in`.
        "exp": math.ceil(issued) + ttl,
        "access": [{"type": a.type, "name": a.name, "actions": list(a.actions)} for a in access],
    }
    if principal is not None:
        claims["sub"] = principal.arn
        claims["acct"] = principal.account_id
    return jwt.encode(claims, core.signing_key, algorithm="HS256"), ttl, issued


MAX_CACHED_GRANTS = 10_000


def verify_token(core: Core, token: str, service: str) -> Grant:
    cached = core.grants.get(token)
    if cached is not None:
        grant, expires = cached
        if time.time() < expires:
            return grant  # type: ignore[no-any-return]
        del core.grants[token]
    claims = _decode(core, token, "access", audience=service)
    grant = _grant(claims)
    if len(core.grants) >= MAX_CACHED_GRANTS:
        core.grants.clear()
    core.grants[token] = (grant, float(claims["exp"]))  # type: ignore[arg-type]
    return grant


def _grant(claims: dict[str, object]) -> Grant:
    principal = None
    if "acct" in claims:
        principal = Principal(str(claims["acct"]), str(claims.get("sub", "")))
    entries = claims.get("access")
    access = tuple(
        Access(str(a["type"]), str(a["name"]), tuple(str(x) for x in a["actions"]))
        for a in (entries if isinstance(entries, list) else [])
        if isinstance(a, dict)
    )
    return Grant(principal, access)


def _decode(core: Core, token: str, kind: str, audience: str | None = None) -> dict[str, object]:
    try:
        claims = jwt.decode(
            token,
            core.signing_key,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=audience,
            options={"require": ["exp", "iss"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the authorization token has expired") from exc
    except (jwt.PyJWTError, ValueError) as exc:  # ValueError: not even ASCII
        raise Unauthorized("the authorization token is invalid") from exc
    if claims.get("typ") != kind:
        raise Unauthorized("the authorization token is invalid")
    return claims


# The ECR Public actions a /v2 action needs; a policy must allow them all.
ECR_ACTIONS: dict[str, tuple[str, ...]] = {
    PULL: ("BatchCheckLayerAvailability",),
    PUSH: (
        "BatchCheckLayerAvailability",
        "InitiateLayerUpload",
        "UploadLayerPart",
        "CompleteLayerUpload",
        "PutImage",
    ),
    DELETE: ("BatchDeleteImage",),
}


async def may(
    core: Core,
    principal: Principal | None,
    owner_account: str | None,
    repository: Repository | None,
    ecr_actions: tuple[str, ...],
) -> bool:
    """The one access decision for writes, on both faces.

    The owning account may, unless the repository policy explicitly denies
    it; another account may only where the policy allows every action and
    denies none.
    """
    if principal is None or owner_account is None:
        return False
    text = await policies.stored_policy(core, repository) if repository is not None else None
    decisions = []
    if text is not None:
        resource = f"arn:aws:ecr-public::{owner_account}:repository/{repository.name}"  # type: ignore[union-attr]
        decisions = [
            policies.evaluate(text, principal.account_id, principal.arn, a, resource)
            for a in ecr_actions
        ]
    if "Deny" in decisions:
        return False
    if owner_account == principal.account_id:
        return True
    return bool(decisions) and all(d == "Allow" for d in decisions)


async def permitted_actions(
    core: Core,
    principal: Principal | None,
    owner_account: str | None,
    repository: Repository | None,
    requested: tuple[str, ...],
) -> tuple[str, ...]:
    """Which of the /v2 actions asked for are granted. Anyone may pull, as on
    ECR Public, where every repository is public."""
    allowed = []
    for action in requested:
        if action == PULL or await may(
            core, principal, owner_account, repository, ECR_ACTIONS[action]
        ):
            allowed.append(action)
    return tuple(allowed)
