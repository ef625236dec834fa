"""Repository policies: IAM resource-policy JSON, validated as AWS does,
stored verbatim, and evaluated for pushes and deletes by other accounts."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from . import jsontext
from .errors import InvalidPolicy, PolicyLocksOut, PolicyNotFound
from .model import Repository
from .service import Core

VERSIONS = ("2008-10-17", "2012-10-17")
_EFFECTS = ("Allow", "Deny")
_ACCOUNT = re.compile(r"[0-9]{12}")
_IAM_ARN = re.compile(r"arn:aws:(?:iam|sts)::([0-9]{12}):.+")
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}


def _strings(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise InvalidPolicy(f"{where} must be a non-empty string or list of strings")
    return items


def _check_principal(value: Any, where: str) -> None:
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        raise InvalidPolicy(f'{where} must be "*" or an object')
    for kind, ids in value.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise InvalidPolicy(f"{where} has an unknown principal type {kind!r}")
        for ident in _strings(ids, f"{where}.{kind}"):
            if kind == "AWS" and not (
                ident == "*" or _ACCOUNT.fullmatch(ident) or _IAM_ARN.fullmatch(ident)
            ):
                raise InvalidPolicy(f"{where}.AWS has an invalid principal {ident!r}")


def validate_policy(text: str) -> list[dict[str, Any]]:
    """Parse a policy and return its statements; InvalidPolicy says why not."""
    try:
        doc = jsontext.loads(text)
    except ValueError as exc:
        raise InvalidPolicy("the policy is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise InvalidPolicy("the policy must be a JSON object")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise InvalidPolicy(f"unknown policy elements {sorted(unknown)}")
    if "Version" in doc and doc["Version"] not in VERSIONS:
        raise InvalidPolicy(f"Version must be one of {VERSIONS}")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise InvalidPolicy("Statement must be an object or a non-empty list")
    for i, st in enumerate(statements):
        where = f"Statement[{i}]"
        if not isinstance(st, dict):
            raise InvalidPolicy(f"{where} must be an object")
        if set(st) - _STATEMENT_KEYS:
            raise InvalidPolicy(f"{where} has unknown elements {sorted(set(st) - _STATEMENT_KEYS)}")
        if st.get("Effect") not in _EFFECTS:
            raise InvalidPolicy(f"{where}.Effect must be Allow or Deny")
        if ("Principal" in st) == ("NotPrincipal" in st):
            raise InvalidPolicy(f"{where} needs exactly one of Principal and NotPrincipal")
        _check_principal(st.get("Principal", st.get("NotPrincipal")), where)
        if ("Action" in st) == ("NotAction" in st):
            raise InvalidPolicy(f"{where} needs exactly one of Action and NotAction")
        for action in _strings(st.get("Action", st.get("NotAction")), f"{where}.Action"):
            if action != "*" and not re.fullmatch(r"(?:ecr-public|ecr):[A-Za-z*?]+", action):
                raise InvalidPolicy(f"{where} has an invalid action {action!r}")
        for key in ("Resource", "NotResource"):
            if key in st:
                _strings(st[key], f"{where}.{key}")
        if "Condition" in st and not isinstance(st["Condition"], dict):
            raise InvalidPolicy(f"{where}.Condition must be an object")
        if "Sid" in st and not isinstance(st["Sid"], str):
            raise InvalidPolicy(f"{where}.Sid must be a string")
    return statements


async def set_policy(
    core: Core,
    repository: Repository,
    text: str,
    setter: tuple[str, str],
    force: bool = False,
) -> str:
    """Store `text` verbatim. As AWS does, a policy that would deny its setter
    (account id, principal ARN) a later SetRepositoryPolicy needs `force`."""
    validate_policy(text)
    resource = f"arn:aws:ecr-public::{repository.account_id}:repository/{repository.name}"
    if not force and evaluate(text, *setter, "SetRepositoryPolicy", resource) == "Deny":
        raise PolicyLocksOut(repository.name)
    async with core.meta.write(repository) as tx:
        await tx.set_policy(repository.id, text)
    return text


async def stored_policy(core: Core, repository: Repository) -> str | None:
    async with core.meta.read() as tx:
        return await tx.get_policy(repository.id)


async def get_policy(core: Core, repository: Repository) -> str:
    text = await stored_policy(core, repository)
    if text is None:
        raise PolicyNotFound(repository.account_id, repository.name)
    return text


async def delete_policy(core: Core, repository: Repository) -> str:
    async with core.meta.write(repository) as tx:
        text = await tx.get_policy(repository.id)
        if text is None:
            raise PolicyNotFound(repository.account_id, repository.name)
        await tx.set_policy(repository.id, None)
    return text


def _principal_matches(value: Any, account_id: str, arn: str) -> bool:
    if value == "*":
        return True
    for ident in _strings(value.get("AWS", []) or ["-"], "AWS") if isinstance(value, dict) else []:
        if ident in ("*", account_id, f"arn:aws:iam::{account_id}:root", arn):
            return True
    return False


def _any(patterns: Any, value: str, ignore_case: bool) -> bool:
    items = patterns if isinstance(patterns, list) else [patterns]
    if ignore_case:
        value = value.lower()
        items = [p.lower() for p in items]
    return any(fnmatchcase(value, p) for p in items)


def _action_matches(patterns: Any, action: str) -> bool:
    # ECR Public also honours the private-ECR spelling of its actions.
    return _any(patterns, f"ecr-public:{action}", True) or _any(patterns, f"ecr:{action}", True)


def evaluate(text: str, account_id: str, arn: str, action: str, resource: str) -> str | None:
    """ "Deny", "Allow" or None (the policy says nothing) for one action.

    A statement with a Condition is not evaluated: an Allow under conditions
    berth cannot check does not apply, a Deny under them does (fail closed).
    """
    decision = None
    for st in validate_policy(text):
        if "Principal" in st:
            if not _principal_matches(st["Principal"], account_id, arn):
                continue
        elif _principal_matches(st["NotPrincipal"], account_id, arn):
            continue
        if "Action" in st:
            if not _action_matches(st["Action"], action):
                continue
        elif _action_matches(st["NotAction"], action):
            continue
        if "Resource" in st and not _any(st["Resource"], resource, False):
            continue
        if "NotResource" in st and _any(st["NotResource"], resource, False):
            continue
        if st["Effect"] == "Deny":
            return "Deny"
        if "Condition" not in st:
            decision = "Allow"
    return decision
