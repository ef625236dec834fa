"""The AWS JSON 1.1 face: `POST /` with `X-Amz-Target: SpencerFrontendService.<Op>`.

Thin by design: authenticate, decode and validate against the service model,
call one operation, render its result or map its error.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..core import auth, jsontext
from ..core.errors import BerthError
from ..core.service import Core
from . import sigv4
from .errors import AwsError, to_aws
from .validation import OPERATIONS, ValidationError, validate_input

log = logging.getLogger(__name__)

TARGET_PREFIX = "SpencerFrontendService."
CONTENT_TYPE = "application/x-amz-json-1.1"
# UploadLayerPart carries up to 20 MiB of base64 (~27 MiB) in its JSON body.
MAX_BODY = 32 * 1024 * 1024


@dataclass
class Call:
    """One control-plane request, as an operation sees it."""

    core: Core
    operation: str
    params: dict[str, Any]
    principal: auth.Principal
    region: str


Operation = Callable[[Call], Awaitable[dict[str, Any]]]


def _response(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def make_handler(
    core: Core, operations: dict[str, Operation], keys: dict[str, sigv4.Key] | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of `POST /`; `keys` turns on strict SigV4 (None: open mode)."""

    async def handle(request: web.Request) -> web.Response:
        try:
            return _response(200, await _dispatch(request, core, operations, keys))
        except AwsError as err:
            return _response(err.status, err.body())
        except BerthError as err:
            mapped = to_aws(err)
            if mapped is None:
                log.exception("unmapped core error in %s", request.headers.get("X-Amz-Target"))
                mapped = AwsError("ServerException", "An internal error occurred.", 500)
            return _response(mapped.status, mapped.body())
        except HttpProcessingError as err:  # a body that cannot be read (bad encoding)
            return _response(400, {"__type": "SerializationException", "message": err.message})
        except Exception:
            # A bug: still answered in AWS's form, and logged in full.
            log.exception("unexpected error in %s", request.headers.get("X-Amz-Target"))
            return _response(
                500, {"__type": "ServerException", "message": "An internal error occurred."}
            )

    return handle


async def _dispatch(
    request: web.Request,
    core: Core,
    operations: dict[str, Operation],
    keys: dict[str, sigv4.Key] | None,
) -> dict[str, Any]:
    target = request.headers.get("X-Amz-Target", "")
    name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    if name not in OPERATIONS:
        raise AwsError("UnknownOperationException", f"Unknown operation '{target}'")
    credential = sigv4.parse_credential(request)
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise AwsError("SerializationException", "Request body is too large")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # a chunked body, with no length to check first
        raise AwsError("SerializationException", "Request body is too large") from None
    if keys is None:
        principal = sigv4.open_principal(credential, core.settings.account_id)
    else:
        principal = sigv4.verify(request, raw, credential, keys)
    try:
        body = jsontext.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise AwsError("SerializationException", "Malformed JSON in the request body") from exc
    try:
        params = validate_input(name, body)
    except ValidationError as err:
        raise AwsError(err.code, err.message) from err
    operation = operations.get(name)
    if operation is None:
        raise AwsError(
            "UnsupportedCommandException",
            f"The {name} operation is not supported by this registry.",
        )
    return await operation(Call(core, name, params, principal, credential.region))
