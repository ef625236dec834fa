"""Manifest parsing: the media-type table and what a manifest references.

Bytes are never re-serialised: the digest is of the exact bytes received,
and parsing only reads them to learn references, sizes and media types.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from . import digests, jsontext
from .errors import InvalidDigest, ManifestInvalid, ManifestMediaTypeMissing, UnsupportedDigest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

IMAGE = "image"
INDEX = "index"
SCHEMA1 = "schema1"

# media type -> kind; the one table every face and check reads.
MEDIA_TYPES: dict[str, str] = {
    DOCKER_MANIFEST: IMAGE,
    OCI_MANIFEST: IMAGE,
    DOCKER_LIST: INDEX,
    OCI_INDEX: INDEX,
    DOCKER_SCHEMA1: SCHEMA1,
    DOCKER_SCHEMA1_SIGNED: SCHEMA1,
}

# Layers that live elsewhere (`urls`) and need not be in the registry.
NON_DISTRIBUTABLE = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)

# Descriptor sizes are stored as signed 64-bit integers.
MAX_SIZE = 2**63 - 1

# Limit from the service model's ImageManifest shape (4 MiB of characters).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    urls: tuple[str, ...] = ()


@dataclass
class Manifest:
    """What core needs to know of a manifest; `body` is kept byte-exact."""

    body: bytes
    digest: str
    media_type: str
    kind: str
    blobs: list[Descriptor] = field(default_factory=list)  # config + layers
    children: list[Descriptor] = field(default_factory=list)  # index entries
    subject: Descriptor | None = None
    config_media_type: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None

    @property
    def required_blobs(self) -> list[Descriptor]:
        return [d for d in self.blobs if not (d.media_type in NON_DISTRIBUTABLE and d.urls)]

    @property
    def blob_bytes(self) -> int:
        return sum(d.size for d in self.blobs)


def infer_media_type(doc: dict[str, Any]) -> str | None:
    """Guess a media type from structure, for /v2 clients that send no Content-Type."""
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1_SIGNED if "signatures" in doc else DOCKER_SCHEMA1
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc or "layers" in doc:
        return OCI_MANIFEST
    return None


def parse(body: bytes, declared: str | None = None, *, infer: bool = False) -> Manifest:
    """Parse manifest bytes.

    `declared` is the media type the caller named (Content-Type on /v2,
    imageManifestMediaType in the API). `infer` lets the structure decide when
    neither the caller nor the body names one.
    """
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(f"manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        doc = jsontext.loads(body)
    except ValueError as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest is not a JSON object")
    own = doc.get("mediaType")
    if own is not None and not isinstance(own, str):
        raise ManifestInvalid("mediaType is not a string")
    if declared and own and declared != own:
        raise ManifestInvalid(f"media type {declared!r} does not match the manifest's {own!r}")
    media_type = own or declared or (infer_media_type(doc) if infer else None)
    if not media_type:
        raise ManifestMediaTypeMissing()
    kind = MEDIA_TYPES.get(media_type)
    if kind is None:
        raise ManifestInvalid(f"unsupported manifest media type {media_type!r}")
    manifest = Manifest(body=body, digest=digests.of(body), media_type=media_type, kind=kind)
    if kind == SCHEMA1:
        _parse_schema1(doc, manifest)
        return manifest
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    manifest.artifact_type = _optional_text(doc.get("artifactType"), "artifactType")
    manifest.annotations = _annotations(doc.get("annotations"), "annotations")
    if "subject" in doc:
        manifest.subject = _descriptor(doc["subject"], "subject")
    if kind == IMAGE:
        config = _descriptor(doc.get("config"), "config")
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise ManifestInvalid("layers is not a list")
        manifest.blobs = [config] + [_descriptor(x, f"layers[{i}]") for i, x in enumerate(layers)]
        manifest.config_media_type = config.media_type
        if manifest.blob_bytes > MAX_SIZE:
            raise ManifestInvalid("the sizes of config and layers add up to more than 2^63-1")
    else:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise ManifestInvalid("manifests is not a list")
        manifest.children = [_descriptor(x, f"manifests[{i}]") for i, x in enumerate(children)]
    return manifest


def _parse_schema1(doc: dict[str, Any], manifest: Manifest) -> None:
    layers = doc.get("fsLayers")
    if not isinstance(layers, list):
        raise ManifestInvalid("fsLayers is not a list")
    seen: dict[str, None] = {}
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("blobSum"), str):
            raise ManifestInvalid(f"fsLayers[{i}].blobSum is missing")
        seen[_digest(layer["blobSum"], f"fsLayers[{i}].blobSum")] = None
    # schema 1 carries no sizes; 0 stands for unknown until the blob is looked up.
    manifest.blobs = [
        Descriptor("application/vnd.docker.container.image.rootfs.diff+x-gtar", d, 0) for d in seen
    ]


def _digest(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ManifestInvalid(f"{where} is not a digest")
    try:
        digests.parse(value)
    except (InvalidDigest, UnsupportedDigest) as exc:
        raise ManifestInvalid(f"{where} is not a valid digest: {value!r}") from exc
    return value


def _optional_text(value: Any, where: str) -> str | None:
    """A string berth stores in a column of its own (media and artifact types): no NUL,
    which PostgreSQL's text cannot hold and no media type has."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ManifestInvalid(f"{where} is not a string")
    if "\x00" in value:
        raise ManifestInvalid(f"{where} contains a NUL character")
    return value


def _annotations(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ManifestInvalid(f"{where} must map strings to strings")
    return value


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} is not a descriptor")
    media_type = _optional_text(value.get("mediaType"), f"{where}.mediaType")
    if not media_type:
        raise ManifestInvalid(f"{where}.mediaType is missing")
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
        raise ManifestInvalid(f"{where}.size is not an integer from 0 to {MAX_SIZE}")
    data = value.get("data")
    if data is not None:
        try:
            if not isinstance(data, str) or len(base64.b64decode(data, validate=True)) != size:
                raise ValueError
        except ValueError:
            raise ManifestInvalid(f"{where}.data is not the base64 of `size` bytes") from None
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise ManifestInvalid(f"{where}.platform is not an object")
    artifact_type = _optional_text(value.get("artifactType"), f"{where}.artifactType")
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ManifestInvalid(f"{where}.urls is not a list of strings")
    return Descriptor(
        media_type=media_type,
        digest=_digest(value.get("digest"), f"{where}.digest"),
        size=size,
        platform=platform,
        artifact_type=artifact_type,
        annotations=_annotations(value.get("annotations"), f"{where}.annotations"),
        urls=tuple(urls),
    )


def artifact_media_type(manifest: Manifest) -> str:
    """ECR's `artifactMediaType`: artifactType, else the config's type, else the index's."""
    return manifest.artifact_type or manifest.config_media_type or manifest.media_type
