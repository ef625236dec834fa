"""Build OCI / Docker images and indexes in memory, with no network and no container tooling.

Everything here is deterministic: the same seed always yields byte-identical blobs and
manifests, so tests can compute expected digests up front and compare them byte for byte
with what a registry serves back.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

# Fixed timestamps keep tar headers, gzip headers and config JSON reproducible.
_EPOCH = 0
_CREATED = "1970-01-01T00:00:00Z"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dump_json(obj: Any) -> bytes:
    """Serialize a manifest/config the one way this module always does.

    Pretty-printed (indent=3, like the Docker CLI) and without a trailing newline, so a
    server that re-serializes JSON instead of storing the exact bytes changes the digest
    and gets caught.
    """
    return json.dumps(obj, indent=3).encode()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def _make_tar(seed: int, size: int) -> bytes:
    """Uncompressed tar of 1-3 files whose contents total `size` bytes of seeded noise."""
    rng = random.Random(seed)
    n_files = 1 + seed % 3 if size >= 3 else 1
    # Split `size` into n_files non-negative parts deterministically.
    cuts = sorted(rng.randrange(size + 1) for _ in range(n_files - 1))
    bounds = [0, *cuts, size]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        # A per-seed directory keeps the layers of different seeds from overlapping paths.
        dirname = f"berth-test-{seed}"
        info = tarfile.TarInfo(dirname)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = _EPOCH
        tar.addfile(info)
        for i in range(n_files):
            content = rng.randbytes(bounds[i + 1] - bounds[i])
            info = tarfile.TarInfo(f"{dirname}/file-{i}.bin")
            info.size = len(content)
            info.mode = 0o644
            info.mtime = _EPOCH
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    # GzipFile (unlike gzip.compress in some versions) writes a fixed OS byte, and with
    # mtime=0 and no filename the header is identical on every run and platform.
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=_EPOCH, compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


def make_layer(seed: int, size: int = 64 * 1024) -> bytes:
    """A real tar+gzip layer; `size` is the total file content (random data, so the
    compressed layer is slightly larger than `size`)."""
    return _gzip(_make_tar(seed, size))


def diff_id(layer: bytes) -> str:
    """Digest of the uncompressed tar, as listed in the config's rootfs.diff_ids."""
    return sha256_digest(gzip.decompress(layer))


def _layer_seed(seed: int, index: int) -> int:
    # Derive layer seeds by hashing so images with nearby seeds never share layers by accident.
    return int.from_bytes(hashlib.sha256(f"layer:{seed}:{index}".encode()).digest()[:6], "big")


@dataclass(frozen=True)
class Image:
    config: Blob
    layers: list[Blob]
    manifest: bytes
    media_type: str
    platform: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def size(self) -> int:
        return len(self.manifest)

    @property
    def blobs(self) -> list[Blob]:
        """Config first, then layers: everything a push must upload."""
        return [self.config, *self.layers]

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def _build_image(
    seed: int,
    n_layers: int,
    architecture: str,
    os: str,
    variant: str | None,
    layer_size: int,
    *,
    manifest_type: str,
    config_type: str,
    layer_type: str,
) -> Image:
    raw_layers = [make_layer(_layer_seed(seed, i), layer_size) for i in range(n_layers)]
    layers = [Blob(layer_type, data) for data in raw_layers]
    config_obj: dict[str, Any] = {
        "created": _CREATED,
        "architecture": architecture,
        "os": os,
    }
    if variant:
        config_obj["variant"] = variant
    config_obj["config"] = {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        # The seed label makes configs (and so manifests) unique per seed even with 0 layers.
        "Labels": {"org.berth.test.seed": str(seed)},
    }
    config_obj["rootfs"] = {"type": "layers", "diff_ids": [diff_id(d) for d in raw_layers]}
    config_obj["history"] = [
        {"created": _CREATED, "created_by": f"berth test layer {i}"} for i in range(n_layers)
    ]
    config = Blob(config_type, dump_json(config_obj))
    manifest_obj: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    platform = {"architecture": architecture, "os": os}
    if variant:
        platform["variant"] = variant
    return Image(config, layers, dump_json(manifest_obj), manifest_type, platform)


def oci_image(
    seed: int,
    n_layers: int = 3,
    architecture: str = "amd64",
    os: str = "linux",
    variant: str | None = None,
    layer_size: int = 64 * 1024,
) -> Image:
    return _build_image(
        seed,
        n_layers,
        architecture,
        os,
        variant,
        layer_size,
        manifest_type=OCI_MANIFEST,
        config_type=OCI_CONFIG,
        layer_type=OCI_LAYER_GZIP,
    )


def docker_image(
    seed: int,
    n_layers: int = 3,
    architecture: str = "amd64",
    os: str = "linux",
    variant: str | None = None,
    layer_size: int = 64 * 1024,
) -> Image:
    return _build_image(
        seed,
        n_layers,
        architecture,
        os,
        variant,
        layer_size,
        manifest_type=DOCKER_MANIFEST,
        config_type=DOCKER_CONFIG,
        layer_type=DOCKER_LAYER_GZIP,
    )


@dataclass(frozen=True)
class Index:
    images: list[Image]
    manifest: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def size(self) -> int:
        return len(self.manifest)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def _build_index(images: list[Image], media_type: str) -> Index:
    manifests = [{**image.descriptor(), "platform": dict(image.platform)} for image in images]
    obj = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
    return Index(list(images), dump_json(obj), media_type)


def oci_index(images: list[Image]) -> Index:
    return _build_index(images, OCI_INDEX)


def docker_manifest_list(images: list[Image]) -> Index:
    return _build_index(images, DOCKER_MANIFEST_LIST)


def write_oci_layout(path: Path, item: Image | Index, tag: str = "latest") -> None:
    """Write (or add a tag to) an OCI image layout that `skopeo copy oci:<path>:<tag>` reads.

    For an Index the top-level entry points at the index manifest and every child's
    manifest and blobs are written too, so `skopeo copy --all` finds the whole tree.
    Calling it again on the same path adds/replaces `tag` and keeps the other tags.

    Docker schema 2 content: skopeo 1.9.3's oci: transport ignores index.json entries whose
    mediaType is not an OCI one ("no descriptor found for reference"), so a docker_image()
    is listed under the OCI manifest type. skopeo then still pushes the exact bytes with
    the Docker Content-Type (it sniffs the manifest's own mediaType). That trick does NOT
    work for a Docker manifest list (skopeo re-serializes it as an OCI index), so those
    raise; use write_dir_layout() / write_layout() for them.
    """
    if item.media_type == DOCKER_MANIFEST_LIST:
        raise ValueError("skopeo's oci: transport rewrites Docker manifest lists; use dir:")
    path = Path(path)
    blob_dir = path / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> None:
        target = blob_dir / sha256_digest(data).removeprefix("sha256:")
        if not target.exists():
            target.write_bytes(data)

    for data in _all_payloads(item):
        put(data)

    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index_path = path / "index.json"
    entries: list[dict[str, Any]] = []
    if index_path.exists():
        existing = json.loads(index_path.read_text())
        entries = [
            e
            for e in existing.get("manifests", [])
            if e.get("annotations", {}).get(REF_NAME_ANNOTATION) != tag
        ]
    entry = {**item.descriptor(), "annotations": {REF_NAME_ANNOTATION: tag}}
    if item.media_type == DOCKER_MANIFEST:
        entry["mediaType"] = OCI_MANIFEST
    entries.append(entry)
    index_path.write_text(json.dumps({"schemaVersion": 2, "manifests": entries}, indent=2))


def _all_payloads(item: Image | Index) -> list[bytes]:
    """Every blob and manifest reachable from `item` (children before parents)."""
    images = item.images if isinstance(item, Index) else [item]
    out: list[bytes] = []
    for image in images:
        out += [blob.data for blob in image.blobs]
        out.append(image.manifest)
    if isinstance(item, Index):
        out.append(item.manifest)
    return out


def write_dir_layout(path: Path, item: Image | Index) -> None:
    """Write skopeo's `dir:` transport format (one image or list per directory, no tags).

    Unlike oci:, `dir:` reports each manifest's type by sniffing its mediaType field, so it
    carries Docker schema 2 images and manifest lists through `skopeo copy [--all]`
    byte for byte.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    images = item.images if isinstance(item, Index) else [item]
    for image in images:
        for blob in image.blobs:
            (path / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
        if isinstance(item, Index):
            # List children live in <hex>.manifest.json next to the top-level manifest.json.
            name = image.digest.removeprefix("sha256:") + ".manifest.json"
            (path / name).write_bytes(image.manifest)
    (path / "manifest.json").write_bytes(item.manifest)


def write_layout(path: Path, item: Image | Index, tag: str = "latest") -> str:
    """Write `item` in a layout skopeo copies without altering it; return the source ref.

    OCI content (and single Docker images) go to an OCI layout (`oci:<path>:<tag>`);
    Docker manifest lists go to a `dir:` layout (`dir:<path>`, `tag` unused).
    """
    if item.media_type == DOCKER_MANIFEST_LIST:
        write_dir_layout(path, item)
        return f"dir:{path}"
    write_oci_layout(path, item, tag)
    return f"oci:{path}:{tag}"


def read_oci_layout_manifest(path: Path, tag: str = "latest") -> tuple[str, bytes]:
    """(digest, exact manifest bytes) that an OCI layout's index.json maps `tag` to."""
    index = json.loads((Path(path) / "index.json").read_text())
    for entry in index.get("manifests", []):
        if entry.get("annotations", {}).get(REF_NAME_ANNOTATION) == tag:
            digest: str = entry["digest"]
            data = (Path(path) / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
            return digest, data
    raise KeyError(f"tag {tag!r} not in OCI layout {path}")
