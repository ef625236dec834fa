"""OCI distribution-spec errors, and how core's errors read on /v2."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..core import errors as e

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}


class OciError(Exception):
    """One or more errors in the spec's JSON form, with the status to send."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
        more: list[tuple[str, str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = [(code, message, detail), *(more or [])]
        self.headers = headers or {}

    def response(self, head: bool = False) -> web.Response:
        body = json.dumps(
            {
                "errors": [
                    {"code": c, "message": m, **({"detail": d} if d is not None else {})}
                    for c, m, d in self.errors
                ]
            }
        ).encode()
        headers = {**API_VERSION_HEADER, **self.headers, "Content-Type": "application/json"}
        headers.pop("Content-Length", None)  # the body's own length, always
        if head:
            # HEAD answers carry the status and headers, never a body.
            headers["Content-Length"] = str(len(body))
            return web.Response(status=self.status, headers=headers)
        return web.Response(status=self.status, body=body, headers=headers)


def _name_unknown(err: e.RepositoryNotFound) -> OciError:
    return OciError(
        404,
        "NAME_UNKNOWN",
        f"repository name not known to registry: the repository with name '{err.name}' "
        f"does not exist in the registry with id '{err.account_id}'",
        {"name": err.name},
    )


_TABLE: dict[type[Exception], Callable[[Any], OciError]] = {
    e.RepositoryNotFound: _name_unknown,
    e.RegistryNotFound: lambda err: OciError(
        404,
        "NAME_UNKNOWN",
        f"repository name not known to registry: no registry has the alias '{err.registry}'",
    ),
    e.InvalidName: lambda err: OciError(
        400,
        "TAG_INVALID" if err.kind == "tag" else "NAME_INVALID",
        f"invalid {err.kind}: {err.value!r}",
        {err.kind: err.value},
    ),
    e.InvalidDigest: lambda err: OciError(
        400, "DIGEST_INVALID", f"provided digest is not valid: {err.value!r}"
    ),
    e.UnsupportedDigest: lambda err: OciError(
        400, "DIGEST_INVALID", f"unsupported digest algorithm: {err.algorithm!r}"
    ),
    e.DigestMismatch: lambda err: OciError(
        400,
        "DIGEST_INVALID",
        "provided digest did not match uploaded content",
        {"expected": err.expected, "actual": err.actual},
    ),
    e.BlobNotFound: lambda err: OciError(
        404, "BLOB_UNKNOWN", "blob unknown to registry", {"digest": err.digest}
    ),
    e.ManifestNotFound: lambda err: OciError(
        404, "MANIFEST_UNKNOWN", "manifest unknown to registry", {"reference": err.reference}
    ),
    e.ManifestInvalid: lambda err: OciError(
        400, "MANIFEST_INVALID", f"manifest invalid: {err.reason}"
    ),
    e.ManifestMediaTypeMissing: lambda err: OciError(
        400, "MANIFEST_INVALID", "manifest invalid: no media type given or found"
    ),
    e.ManifestTooLarge: lambda err: OciError(
        413, "SIZE_INVALID", f"manifest is larger than the {err.limit} bytes allowed"
    ),
    e.UploadNotFound: lambda err: OciError(
        404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {"uuid": err.upload_id}
    ),
    e.Unauthorized: lambda err: OciError(401, "UNAUTHORIZED", err.reason),
    e.BlobInUse: lambda err: OciError(
        405,
        "UNSUPPORTED",
        "the blob is referenced by a manifest in this repository; delete the manifest first",
        {"digest": err.digest},
    ),
    e.Denied: lambda err: OciError(403, "DENIED", "requested access to the resource is denied"),
}


def _missing(status: int, digests_missing: list[str], what: str) -> OciError:
    first, *rest = digests_missing
    return OciError(
        status,
        "MANIFEST_BLOB_UNKNOWN",
        f"{what} unknown to registry: {first}",
        {"digest": first},
        more=[
            ("MANIFEST_BLOB_UNKNOWN", f"{what} unknown to registry: {d}", {"digest": d})
            for d in rest
        ],
    )


_TABLE[e.BlobsNotFound] = lambda err: _missing(400, err.digests, "blob")
_TABLE[e.ManifestsNotFound] = lambda err: _missing(400, err.digests, "manifest")


def to_oci(err: Exception) -> OciError | None:
    for kind in type(err).__mro__:
        if kind in _TABLE:
            return _TABLE[kind](err)
    return None
