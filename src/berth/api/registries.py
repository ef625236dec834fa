"""DescribeRegistries, GetAuthorizationToken."""

from __future__ import annotations

import base64
from typing import Any

from ..core import auth, registries
from . import shapes
from .errors import AwsError
from .protocol import Call

# ECR Public serves its auth API from us-east-1 only (reference §1.5).
AUTH_REGION = "us-east-1"


async def describe_registries(call: Call) -> dict[str, Any]:
    # A caller sees its own registry: a list of one, as on AWS; the model's
    # paging members are accepted and the single page never has a nextToken.
    registry = await registries.ensure_registry(call.core, call.principal.account_id)
    return {"registries": [shapes.registry(call.core, registry)]}


async def get_authorization_token(call: Call) -> dict[str, Any]:
    if call.region != AUTH_REGION:
        raise AwsError(
            "UnsupportedCommandException",
            f"GetAuthorizationToken command is only supported in {AUTH_REGION}.",
        )
    await registries.ensure_registry(call.core, call.principal.account_id)
    password, expires_at = auth.issue_login_password(call.core, call.principal)
    token = base64.b64encode(f"AWS:{password}".encode()).decode()
    return {"authorizationData": {"authorizationToken": token, "expiresAt": expires_at}}
