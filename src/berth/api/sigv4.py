"""SigV4 on the control plane.

`open` mode (the embedded default) checks only that a request is signed in
the SigV4 shape and learns the caller from the access key id: a 12-digit
key names its account, anything else is the default account. `strict` mode
verifies every signature (Authorization header or presigned query string)
against the keys in a credentials file and refuses the rest as AWS does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from ..core.auth import Principal
from .errors import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "ecr-public"
MAX_PRESIGNED_EXPIRY = 7 * 24 * 3600
CLOCK_SKEW = timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    ALGORITHM + r"\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*"
)
_ACCOUNT = re.compile(r"[0-9]{12}")
_INVALID_TOKEN = "The security token included in the request is invalid."
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires: int | None  # presigned requests only


@dataclass(frozen=True)
class Key:
    """One configured access key (strict mode)."""

    access_key_id: str
    secret_access_key: str
    account_id: str
    principal_arn: str
    session_token: str | None = None


def load_keys(path: Path) -> dict[str, Key]:
    """Read a credentials file: TOML with one `[[credentials]]` table per key
    (access_key_id, secret_access_key, account_id, optional principal_arn and
    session_token)."""
    with path.open("rb") as f:
        doc = tomllib.load(f)
    keys: dict[str, Key] = {}
    for i, entry in enumerate(doc.get("credentials", [])):
        try:
            account = str(entry["account_id"])
            key = Key(
                access_key_id=str(entry["access_key_id"]),
                secret_access_key=str(entry["secret_access_key"]),
                account_id=account,
                principal_arn=str(entry.get("principal_arn", f"arn:aws:iam::{account}:root")),
                session_token=entry.get("session_token"),
            )
        except KeyError as exc:
            raise ValueError(f"{path}: credentials[{i}] lacks {exc.args[0]!r}") from None
        if not _ACCOUNT.fullmatch(account):
            raise ValueError(f"{path}: credentials[{i}].account_id must be 12 digits")
        keys[key.access_key_id] = key
    if not keys:
        raise ValueError(f"{path}: no [[credentials]] entries")
    return keys


def parse_credential(request: web.Request) -> Credential:
    query = request.rel_url.query
    if "X-Amz-Algorithm" in query:
        return _parse_presigned(request)
    header = request.headers.get("Authorization")
    if header is None:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        raise AwsError(
            "IncompleteSignatureException",
            f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            f"parameters in the {ALGORITHM} form. Authorization={header}",
        )
    amz_date = request.headers.get("X-Amz-Date", "")
    return _credential(match["credential"], match["signed"], match["signature"], amz_date, None)


def _parse_presigned(request: web.Request) -> Credential:
    query = request.rel_url.query
    missing = [
        k
        for k in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")
        if k not in query
    ]
    if query["X-Amz-Algorithm"] != ALGORITHM or missing:
        raise AwsError(
            "IncompleteSignatureException",
            f"Presigned requests need X-Amz-Algorithm={ALGORITHM} and {', '.join(missing)}",
        )
    try:
        expires = int(query.get("X-Amz-Expires", "900"))
    except ValueError:
        raise AwsError("IncompleteSignatureException", "X-Amz-Expires is not a number") from None
    if not 0 <= expires <= MAX_PRESIGNED_EXPIRY:
        # As SigV4 bounds it (and a date that far out would not even compute).
        raise AwsError(
            "IncompleteSignatureException",
            "X-Amz-Expires must be non-negative and less than a week (in seconds) that is "
            f"{MAX_PRESIGNED_EXPIRY}",
        )
    return _credential(
        query["X-Amz-Credential"],
        query["X-Amz-SignedHeaders"],
        query["X-Amz-Signature"],
        query["X-Amz-Date"],
        expires,
    )


def _credential(
    scope: str, signed: str, signature: str, amz_date: str, expires: int | None
) -> Credential:
    parts = scope.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise AwsError(
            "IncompleteSignatureException",
            f"Credential should be scoped to a valid region, not '{scope}'.",
        )
    return Credential(
        access_key_id=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(signed.split(";")),
        signature=signature,
        amz_date=amz_date,
        expires=expires,
    )


def open_principal(credential: Credential, default_account: str) -> Principal:
    """Open mode: the caller's account is its access key id when that is 12 digits."""
    key = credential.access_key_id
    account = key if _ACCOUNT.fullmatch(key) else default_account
    return Principal(account, f"arn:aws:iam::{account}:root")


def verify(
    request: web.Request, body: bytes, credential: Credential, keys: dict[str, Key]
) -> Principal:
    """Strict mode: the principal of a correctly signed request, or AWS's refusal."""
    key = keys.get(credential.access_key_id)
    if key is None:
        raise AwsError("UnrecognizedClientException", _INVALID_TOKEN)
    if key.session_token is not None:
        sent = request.headers.get("X-Amz-Security-Token") or request.rel_url.query.get(
            "X-Amz-Security-Token"
        )
        if sent != key.session_token:
            raise AwsError("UnrecognizedClientException", _INVALID_TOKEN)
    try:
        signed_at = datetime.strptime(credential.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AwsError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ) from None
    now = datetime.now(UTC)
    stamp = "%Y%m%dT%H%M%SZ"
    if credential.expires is not None:
        if now > signed_at + timedelta(seconds=credential.expires):
            raise AwsError(
                "InvalidSignatureException",
                f"Signature expired: {credential.amz_date} is now earlier than "
                f"{(now - timedelta(seconds=credential.expires)).strftime(stamp)} "
                f"({now.strftime(stamp)} - {credential.expires} sec.)",
            )
    elif signed_at < now - CLOCK_SKEW:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature expired: {credential.amz_date} is now earlier than "
            f"{(now - CLOCK_SKEW).strftime(stamp)} ({now.strftime(stamp)} - 5 min.)",
        )
    if signed_at > now + CLOCK_SKEW:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature not yet current: {credential.amz_date} is still later than "
            f"{(now + CLOCK_SKEW).strftime(stamp)} ({now.strftime(stamp)} + 5 min.)",
        )
    if credential.date != credential.amz_date[:8]:
        raise AwsError(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{credential.date}' != '{credential.amz_date[:8]}', from "
            f"'{credential.amz_date}'.",
        )
    if credential.service != SERVICE:
        raise AwsError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'.",
        )
    expected = signature(request, body, credential, key.secret_access_key)
    if not hmac.compare_digest(expected, credential.signature):
        raise AwsError("InvalidSignatureException", _MISMATCH)
    return Principal(key.account_id, key.principal_arn)


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def signature(request: web.Request, body: bytes, credential: Credential, secret: str) -> str:
    """The SigV4 signature of `request` as its sender should have computed it."""
    presigned = credential.expires is not None
    query = [
        (k, v)
        for k, v in request.rel_url.query.items()
        if not (presigned and k == "X-Amz-Signature")
    ]
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query))
    headers = []
    for name in credential.signed_headers:
        values = request.headers.getall(name, [])
        headers.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    payload = request.headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body).hexdigest()
    path = request.raw_path.split("?", 1)[0] or "/"
    canonical = "\n".join(
        [
            request.method,
            path,
            canonical_query,
            "".join(headers),
            ";".join(credential.signed_headers),
            payload,
        ]
    )
    scope = f"{credential.date}/{credential.region}/{credential.service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, credential.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (credential.date, credential.region, credential.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
