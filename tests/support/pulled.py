"""Pull an image back out of the registry with skopeo and compare it byte for byte.

`pull()` copies `docker://…` into an `oci:` layout (OCI content) or a `dir:` layout
(Docker content: skopeo's oci: destination would convert it), with `--preserve-digests`
so skopeo fails rather than rewrite anything; `assert_pulled()` checks that the layout
holds exactly the item's manifests and blobs, each byte-identical.
"""

from __future__ import annotations

from pathlib import Path

from support import images, skopeo


def expected_payloads(item: images.Image | images.Index) -> dict[str, bytes]:
    """digest -> bytes of every manifest and blob reachable from `item`."""
    children = item.images if isinstance(item, images.Index) else [item]
    out = {item.digest: item.manifest}
    for image in children:
        out[image.digest] = image.manifest
        for blob in image.blobs:
            out[blob.digest] = blob.data
    return out


def _uses_oci_layout(item: images.Image | images.Index) -> bool:
    return item.media_type in (images.OCI_MANIFEST, images.OCI_INDEX)


def pull(
    source: str, dest: Path, item: images.Image | images.Index, creds: str | None = None
) -> str:
    """skopeo copy `source` (docker://…) into `dest`; returns the destination reference."""
    target = f"oci:{dest}:latest" if _uses_oci_layout(item) else f"dir:{dest}"
    skopeo.copy(
        source,
        target,
        all=isinstance(item, images.Index),
        preserve_digests=True,
        creds=creds,
    )
    return target


def read_layout(dest: Path, item: images.Image | images.Index) -> tuple[str, dict[str, bytes]]:
    """(top-level manifest digest, digest -> bytes of every file) of a pulled layout."""
    found: dict[str, bytes] = {}
    if _uses_oci_layout(item):
        top, _ = images.read_oci_layout_manifest(dest, "latest")
        for path in (dest / "blobs" / "sha256").iterdir():
            found["sha256:" + path.name] = path.read_bytes()
        return top, found
    for path in dest.iterdir():
        if path.name == "version":
            continue
        data = path.read_bytes()
        if path.name == "manifest.json":
            found[images.sha256_digest(data)] = data
        else:
            found["sha256:" + path.name.removesuffix(".manifest.json")] = data
    return images.sha256_digest((dest / "manifest.json").read_bytes()), found


def assert_pulled(dest: Path, item: images.Image | images.Index) -> None:
    top, found = read_layout(dest, item)
    assert top == item.digest
    expected = expected_payloads(item)
    assert sorted(found) == sorted(expected), "pulled files differ from what was pushed"
    for digest, data in expected.items():
        assert images.sha256_digest(found[digest]) == digest, f"{digest} was altered"
        assert found[digest] == data, f"{digest} differs"


def image_size(item: images.Image | images.Index) -> int:
    """ECR's imageSizeInBytes: config + layers; for an index, its largest child's size."""
    if isinstance(item, images.Index):
        return max(image_size(child) for child in item.images)
    return sum(blob.size for blob in item.blobs)


def artifact_media_type(item: images.Image | images.Index) -> str:
    """ECR's artifactMediaType: the config's media type; for an index, its own type."""
    if isinstance(item, images.Index):
        return item.media_type
    return item.config.media_type
