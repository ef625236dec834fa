"""Gallery test content, pushed through the real API: repositories whose catalog
data tries every way of breaking the page, an index, many tags, and private data
that must never show."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from support import images
from support.ecr import new_account_key, push_image_via_api, put_manifest, upload_blobs

# Would set these if user-written text ever ran as script in the page.
XSS_FLAG = "__berthPwned"
MARKDOWN_PAYLOAD = (
    "# About <b>bold</b>\n\n"
    f"<script>window.{XSS_FLAG} = 'script'; document.title = 'pwned'</script>\n\n"
    f'<img src="x" onerror="window.{XSS_FLAG} = \'onerror\'">\n\n'
    f"[click me](javascript:window.{XSS_FLAG}='link')\n\n"
    f'<a href="#" onclick="window.{XSS_FLAG}=1">raw link</a>\n\n'
    "![logo](javascript:alert(1))\n\n"
    "A [safe link](https://example.com/docs) and `inline code`.\n"
)
USAGE = (
    "## Run it\n\n```sh\ndocker run --rm app --help\n```\n\n"
    "| flag | meaning |\n|---|---|\n| -v | verbose |\n"
)
HOSTILE_DESCRIPTION = (
    'Tools <script>alert("d")</script> & "quotes" \'apos\' <img src=x onerror=alert(1)>'
)
DISPLAY_NAME = 'Acme <i>Tools</i> & "Co"'
# Private data: must never appear on a public page.
POLICY_MARKER = "PolicyMarker9f3c"
RESOURCE_TAG_MARKER = "ResourceTagMarker7d1e"
ARTIFACT_TYPE = "application/vnd.example.policy.v1"
TAGS_IN_BULK = 60  # more than one page of the gallery's tag table


def png(width: int = 64, height: int = 64, rgb: tuple[int, int, int] = (11, 110, 79)) -> bytes:
    """A valid solid-colour PNG: ECR Public takes 60 to 2048 pixels a side."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class Content:
    """What `populate` made; names are per run so several runs share a server."""

    alias: str
    app: str  # hostile catalog data, a logo, an index tagged `latest`
    cli: str  # plain catalog data, many tags, no `latest`
    hidden: str  # catalog data but no image: not public
    other_alias: str  # a second registry
    other: str  # its one repository
    other_account: str
    logo: bytes
    index_digest: str
    cli_digests: dict[str, str]  # tag -> digest


def _image_with(seed: int, annotation: str) -> tuple[images.Image, bytes]:
    """A one-layer image; the annotation makes each manifest distinct cheaply."""
    image = images.oci_image(seed, n_layers=1, layer_size=256)
    doc = json.loads(image.manifest)
    doc["annotations"] = {"org.berth.test": annotation}
    return image, images.dump_json(doc)


def populate(server: Any, prefix: str) -> Content:
    ecr = server.ecr()
    app, cli, hidden = f"{prefix}/app", f"{prefix}/cli", f"{prefix}/hidden"
    logo = png()
    ecr.put_registry_catalog_data(displayName=DISPLAY_NAME)
    ecr.create_repository(
        repositoryName=app,
        catalogData={
            "description": HOSTILE_DESCRIPTION,
            "architectures": ["x86-64", "ARM 64", "mips"],
            "operatingSystems": ["Linux"],
            "aboutText": MARKDOWN_PAYLOAD,
            "usageText": USAGE,
            "logoImageBlob": logo,
        },
        tags=[{"Key": "owner", "Value": RESOURCE_TAG_MARKER}],
    )
    ecr.set_repository_policy(
        repositoryName=app,
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": POLICY_MARKER,
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": ["ecr-public:BatchCheckLayerAvailability"],
                    }
                ],
            }
        ),
    )
    amd64 = images.oci_image(101, n_layers=1, layer_size=256)
    arm64 = images.oci_image(102, n_layers=1, layer_size=256, architecture="arm64", variant="v8")
    index = images.oci_index([amd64, arm64])
    push_image_via_api(ecr, app, index, tag="latest")
    # An upload left open: upload state is private too.
    ecr.initiate_layer_upload(repositoryName=app)

    ecr.create_repository(
        repositoryName=cli,
        catalogData={
            "description": "A command line helper for Windows on ARM",
            "architectures": ["ARM"],
            "operatingSystems": ["Windows"],
        },
    )
    base, _ = _image_with(200, "")
    upload_blobs(ecr, cli, base.blobs)
    cli_digests = {}
    for n in range(TAGS_IN_BULK):
        _, body = _image_with(200, str(n))
        tag = f"v1.{n:03d}"
        put_manifest(ecr, cli, body, tag=tag, media_type=images.OCI_MANIFEST)
        cli_digests[tag] = images.sha256_digest(body)

    ecr.create_repository(
        repositoryName=hidden, catalogData={"description": "never pushed, never shown"}
    )

    key = new_account_key()
    other_ecr = server.ecr(access_key=key)
    other = f"{prefix}/other"
    other_ecr.create_repository(
        repositoryName=other, catalogData={"description": "the other registry's repository"}
    )
    push_image_via_api(other_ecr, other, images.oci_image(300, n_layers=1, layer_size=256))
    # An OCI 1.1 artifact: its artifactType is what the tag table shows.
    empty = images.Blob("application/vnd.oci.empty.v1+json", b"{}")
    policy = images.Blob("application/vnd.example.policy.layer.v1", b"allow all")
    upload_blobs(other_ecr, other, [empty, policy])
    artifact = {
        "schemaVersion": 2,
        "mediaType": images.OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": empty.descriptor(),
        "layers": [policy.descriptor()],
    }
    put_manifest(
        other_ecr, other, images.dump_json(artifact), tag="policy", media_type=images.OCI_MANIFEST
    )
    other_alias = other_ecr.describe_registries()["registries"][0]["aliases"][0]["name"]
    return Content(
        alias=server.alias,
        app=app,
        cli=cli,
        hidden=hidden,
        other_alias=other_alias,
        other=other,
        other_account=key,
        logo=logo,
        index_digest=index.digest,
        cli_digests=cli_digests,
    )
