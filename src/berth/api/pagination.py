"""Opaque, tamper-evident `nextToken`s: a cursor signed with the registry key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from .errors import AwsError


def encode(key: bytes, operation: str, scope: str, cursor: Any) -> str:
    payload = json.dumps([operation, scope, cursor], separators=(",", ":")).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


def decode(key: bytes, operation: str, scope: str, token: str) -> Any:
    """The cursor inside a token this operation issued for this scope."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        mac, payload = raw[:16], raw[16:]
        if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()[:16]):
            raise ValueError("signature")
        op, token_scope, cursor = json.loads(payload)
        if op != operation or token_scope != scope:
            raise ValueError("scope")
    except (ValueError, TypeError) as exc:
        raise AwsError(
            "InvalidParameterException",
            "Invalid parameter at 'nextToken' failed to satisfy constraint: "
            "'Invalid pagination token'",
        ) from exc
    return cursor


def refuse_with(params: dict[str, Any], member: str) -> None:
    """AWS refuses paging members next to an explicit list of items."""
    for paging in ("maxResults", "nextToken"):
        if paging in params:
            raise AwsError(
                "InvalidParameterException",
                f"Invalid parameter at '{paging}' failed to satisfy constraint: "
                f"'{paging} cannot be used with {member}'",
            )
