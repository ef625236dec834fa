"""Self-tests for tests/support: the image builders and the skopeo driver (no server needed)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from support import images as im
from support import skopeo as sk

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- layers -----------------------------------------------------------------------------


def test_make_layer_is_deterministic_and_seeded() -> None:
    assert im.make_layer(1) == im.make_layer(1)
    assert im.make_layer(1) != im.make_layer(2)
    assert im.make_layer(1, 1000) != im.make_layer(1, 2000)


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
@pytest.mark.parametrize("size", [0, 1, 1000, 64 * 1024])
def test_make_layer_is_real_tar_gzip(seed: int, size: int) -> None:
    layer = im.make_layer(seed, size)
    # gzip magic, deflate, MTIME field (bytes 4-8) zero.
    assert layer[:3] == b"\x1f\x8b\x08"
    assert layer[4:8] == b"\0\0\0\0"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        members = tar.getmembers()
        files = [m for m in members if m.isfile()]
        assert 1 <= len(files) <= 3
        assert sum(m.size for m in files) == size
        assert all(m.mtime == 0 for m in members)
        for m in files:
            extracted = tar.extractfile(m)
            assert extracted is not None
            assert len(extracted.read()) == m.size


# --- images -----------------------------------------------------------------------------


@pytest.mark.parametrize("builder", [im.oci_image, im.docker_image])
def test_image_is_deterministic(builder: Callable[..., im.Image]) -> None:
    a, b = builder(5), builder(5)
    assert a.manifest == b.manifest and a.digest == b.digest
    assert [x.data for x in a.blobs] == [x.data for x in b.blobs]
    c = builder(6)
    assert c.digest != a.digest
    assert not {x.digest for x in c.blobs} & {x.digest for x in a.blobs}


def test_oci_image_structure() -> None:
    image = im.oci_image(3, n_layers=2, architecture="arm64", os="linux", variant="v8")
    assert image.media_type == im.OCI_MANIFEST
    assert image.digest == _sha(image.manifest)
    manifest = json.loads(image.manifest)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == im.OCI_MANIFEST
    assert manifest["config"] == {
        "mediaType": im.OCI_CONFIG,
        "digest": _sha(image.config.data),
        "size": len(image.config.data),
    }
    assert manifest["layers"] == [
        {"mediaType": im.OCI_LAYER_GZIP, "digest": _sha(x.data), "size": len(x.data)}
        for x in image.layers
    ]
    config = json.loads(image.config.data)
    assert (config["architecture"], config["os"], config["variant"]) == ("arm64", "linux", "v8")
    assert config["rootfs"] == {
        "type": "layers",
        "diff_ids": [_sha(gzip.decompress(x.data)) for x in image.layers],
    }
    assert image.platform == {"architecture": "arm64", "os": "linux", "variant": "v8"}


def test_docker_image_media_types() -> None:
    image = im.docker_image(4)
    manifest = json.loads(image.manifest)
    assert image.media_type == manifest["mediaType"] == im.DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == image.config.media_type == im.DOCKER_CONFIG
    assert {x["mediaType"] for x in manifest["layers"]} == {im.DOCKER_LAYER_GZIP}
    assert [x["digest"] for x in manifest["layers"]] == [x.digest for x in image.layers]
    assert len(image.layers) == 3


def test_blob_descriptor() -> None:
    blob = im.Blob("application/octet-stream", b"hello")
    assert blob.size == 5
    assert blob.digest == _sha(b"hello")
    assert blob.descriptor() == {
        "mediaType": "application/octet-stream",
        "digest": _sha(b"hello"),
        "size": 5,
    }


# --- indexes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "index_fn", "media_type"),
    [
        (im.oci_image, im.oci_index, im.OCI_INDEX),
        (im.docker_image, im.docker_manifest_list, im.DOCKER_MANIFEST_LIST),
    ],
)
def test_index_structure(
    builder: Callable[..., im.Image],
    index_fn: Callable[[list[im.Image]], im.Index],
    media_type: str,
) -> None:
    children = [builder(20), builder(21, architecture="arm64", variant="v8")]
    index = index_fn(children)
    assert index.media_type == media_type
    assert index.digest == _sha(index.manifest)
    assert index_fn([builder(20), builder(21, architecture="arm64", variant="v8")]) == index
    obj = json.loads(index.manifest)
    assert obj["schemaVersion"] == 2 and obj["mediaType"] == media_type
    assert obj["manifests"] == [
        {
            "mediaType": children[0].media_type,
            "digest": children[0].digest,
            "size": len(children[0].manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        {
            "mediaType": children[1].media_type,
            "digest": children[1].digest,
            "size": len(children[1].manifest),
            "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
        },
    ]


# --- layouts ----------------------------------------------------------------------------


def test_write_oci_layout_files(tmp_path: Path) -> None:
    image = im.oci_image(30)
    im.write_oci_layout(tmp_path, image, "v1")
    assert json.loads((tmp_path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    for blob in image.blobs:
        assert (tmp_path / "blobs/sha256" / blob.digest[7:]).read_bytes() == blob.data
    assert im.read_oci_layout_manifest(tmp_path, "v1") == (image.digest, image.manifest)

    # A second tag is added alongside; re-tagging replaces only that tag.
    other = im.oci_image(31)
    im.write_oci_layout(tmp_path, other, "v2")
    im.write_oci_layout(tmp_path, other, "v2")
    entries = json.loads((tmp_path / "index.json").read_text())["manifests"]
    assert [e["annotations"][im.REF_NAME_ANNOTATION] for e in entries] == ["v1", "v2"]
    assert im.read_oci_layout_manifest(tmp_path, "v1")[0] == image.digest
    assert im.read_oci_layout_manifest(tmp_path, "v2")[0] == other.digest


def test_write_oci_layout_index(tmp_path: Path) -> None:
    index = im.oci_index([im.oci_image(32), im.oci_image(33, architecture="arm64")])
    im.write_oci_layout(tmp_path, index)
    entry = json.loads((tmp_path / "index.json").read_text())["manifests"][0]
    assert entry["mediaType"] == im.OCI_INDEX and entry["digest"] == index.digest
    for child in index.images:
        assert (tmp_path / "blobs/sha256" / child.digest[7:]).read_bytes() == child.manifest


def test_docker_list_needs_dir_layout(tmp_path: Path) -> None:
    lst = im.docker_manifest_list([im.docker_image(34)])
    with pytest.raises(ValueError):
        im.write_oci_layout(tmp_path / "oci", lst)
    assert im.write_layout(tmp_path / "d", lst) == f"dir:{tmp_path / 'd'}"
    assert (tmp_path / "d/manifest.json").read_bytes() == lst.manifest


# --- skopeo command construction (no process) -------------------------------------------


def test_build_command_copy_flags() -> None:
    cmd = sk._build_command(
        ["copy", "--all", "oci:/x:t", "docker://h/r:t"],
        creds="u:p",
        src_creds=None,
        dest_creds=None,
        use_login=False,
    )
    assert cmd[:3] == [sk.SKOPEO, "--insecure-policy", "copy"]
    assert "--src-tls-verify=false" in cmd and "--dest-tls-verify=false" in cmd
    assert cmd[cmd.index("--dest-creds") + 1] == "u:p"
    assert "--src-creds" not in cmd
    assert cmd[-2:] == ["oci:/x:t", "docker://h/r:t"]
    assert "--authfile" in cmd and str(sk.login_authfile()) not in cmd


def test_build_command_single_registry_flags() -> None:
    for sub in ("inspect", "list-tags", "delete"):
        cmd = sk._build_command(
            [sub, "docker://h/r"], creds="u:p", src_creds=None, dest_creds=None, use_login=True
        )
        assert "--tls-verify=false" in cmd
        assert cmd[cmd.index("--creds") + 1] == "u:p"
        assert cmd[cmd.index("--authfile") + 1] == str(sk.login_authfile())
    assert "u:p" not in sk._redact(cmd)


# --- skopeo end to end, layout to layout ------------------------------------------------


@needs_skopeo
def test_skopeo_copies_image_between_oci_layouts(tmp_path: Path) -> None:
    image = im.oci_image(40)
    im.write_oci_layout(tmp_path / "a", image, "t1")
    sk.copy(f"oci:{tmp_path / 'a'}:t1", f"oci:{tmp_path / 'b'}:t1", preserve_digests=True)
    assert im.read_oci_layout_manifest(tmp_path / "b", "t1") == (image.digest, image.manifest)
    for blob in image.blobs:
        assert (tmp_path / "b/blobs/sha256" / blob.digest[7:]).read_bytes() == blob.data
    # inspect --raw returns the exact bytes: no trailing newline added.
    assert sk.inspect_raw(f"oci:{tmp_path / 'a'}:t1") == image.manifest
    assert sk.inspect_config(f"oci:{tmp_path / 'a'}:t1") == image.config.data


@needs_skopeo
def test_skopeo_copies_index_between_oci_layouts(tmp_path: Path) -> None:
    index = im.oci_index([im.oci_image(41), im.oci_image(42, architecture="arm64", variant="v8")])
    im.write_oci_layout(tmp_path / "a", index, "multi")
    src, dst = f"oci:{tmp_path / 'a'}:multi", f"oci:{tmp_path / 'b'}:multi"
    sk.copy(src, dst, all=True, preserve_digests=True)
    assert im.read_oci_layout_manifest(tmp_path / "b", "multi") == (index.digest, index.manifest)
    for child in index.images:
        for data in [child.manifest, *(blob.data for blob in child.blobs)]:
            assert (tmp_path / "b/blobs/sha256" / _sha(data)[7:]).read_bytes() == data


@needs_skopeo
def test_skopeo_keeps_docker_content_byte_for_byte(tmp_path: Path) -> None:
    # A Docker image via the oci: layout and a Docker list via dir:, both copied to dir:.
    image = im.docker_image(43)
    src = im.write_layout(tmp_path / "img", image)
    sk.copy(src, f"dir:{tmp_path / 'img-out'}", preserve_digests=True)
    assert (tmp_path / "img-out/manifest.json").read_bytes() == image.manifest

    lst = im.docker_manifest_list([im.docker_image(44), im.docker_image(45, architecture="arm64")])
    src = im.write_layout(tmp_path / "list", lst)
    sk.copy(src, f"dir:{tmp_path / 'list-out'}", all=True, preserve_digests=True)
    assert (tmp_path / "list-out/manifest.json").read_bytes() == lst.manifest
    child = lst.images[1]
    assert (tmp_path / f"list-out/{child.digest[7:]}.manifest.json").read_bytes() == child.manifest


@needs_skopeo
def test_skopeo_failure_raises_with_output(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="--- stderr ---"):
        sk.copy(f"oci:{tmp_path / 'missing'}:x", f"oci:{tmp_path / 'b'}:x")
    proc = sk.skopeo("inspect", f"oci:{tmp_path / 'missing'}:x", check=False)
    assert proc.returncode != 0 and proc.stderr


@needs_skopeo
@pytest.mark.skipif(os.geteuid() != 0, reason="root-only cache location")
def test_blob_info_cache_is_cleared(tmp_path: Path) -> None:
    cache = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")
    im.write_oci_layout(tmp_path / "a", im.oci_image(46))
    sk.copy(f"oci:{tmp_path / 'a'}:latest", f"oci:{tmp_path / 'b'}:latest")
    assert cache.exists()  # skopeo 1.9.3 writes it even for a layout-to-layout copy
    sk.clear_blob_info_cache()
    assert not cache.exists()
