"""SigV4 on the control plane.

`open` mode (the embedded default) checks only that a request is signed in
the SigV4 shape and learns the caller from the access key id: a 12-digit
key names its account, anything else is the default account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from .errors import AwsError

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*"
)
_ACCOUNT_KEY = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_credential(request: web.Request) -> Credential:
    header = request.headers.get("Authorization")
    if header is None:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        raise AwsError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            "parameters in the AWS4-HMAC-SHA256 form.",
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise AwsError(
            "IncompleteSignatureException",
            f"Credential should be scoped to a valid region, not '{match['credential']}'.",
        )
    return Credential(
        access_key_id=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(match["signed"].split(";")),
        signature=match["signature"],
    )


def account_for_key(access_key_id: str, default_account: str) -> str:
    return access_key_id if _ACCOUNT_KEY.fullmatch(access_key_id) else default_account
