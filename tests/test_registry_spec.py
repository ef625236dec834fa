"""OCI Distribution Spec v1.1 behaviour beyond the basics in test_registry_protocol.py:
cross-repository mounts (C1), OCI 1.1 artifacts (C2), referrers (C3), sha512 (C11), tag
paging (C12), ranged blob reads, many-chunk and streamed uploads, blob deletes, and the
manifest edge cases (no mediaType, nested indexes, digest-looking tags, size limit,
several missing blobs, HEAD/GET header parity)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests

from conftest import Server
from support import images
from support.registry import Session, error_codes, sha256_digest

ACCEPT = {
    "Accept": ", ".join(
        [images.OCI_MANIFEST, images.OCI_INDEX, images.DOCKER_MANIFEST, images.DOCKER_MANIFEST_LIST]
    )
}
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = images.Blob(OCI_EMPTY, b"{}")


@pytest.fixture(scope="module")
def creds(server: Server) -> str:
    return server.creds()


@pytest.fixture
def s(server: Server, repository: str, creds: str) -> Session:
    """A pushing session on a fresh repository."""
    return Session(server, repository, creds)


def new_repository(server: Server) -> str:
    name = f"test/{uuid.uuid4().hex[:12]}"
    server.ecr().create_repository(repositoryName=name)
    return name


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    assert code in error_codes(response), response.text


def sha512_digest(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def unique(label: str) -> bytes:
    return f"{label} {uuid.uuid4()}".encode()


def location_path(response: requests.Response) -> str:
    return urlparse(response.headers["Location"]).path


def artifact(
    layers: list[images.Blob],
    *,
    artifact_type: str | None = None,
    config: images.Blob = EMPTY_CONFIG,
    subject: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    media_type: str | None = images.OCI_MANIFEST,
) -> bytes:
    """An OCI image manifest in the field order the image-spec examples use."""
    obj: dict[str, Any] = {"schemaVersion": 2}
    if media_type is not None:
        obj["mediaType"] = media_type
    if artifact_type is not None:
        obj["artifactType"] = artifact_type
    obj["config"] = config.descriptor()
    obj["layers"] = [layer.descriptor() for layer in layers]
    if subject is not None:
        obj["subject"] = subject
    if annotations is not None:
        obj["annotations"] = annotations
    return images.dump_json(obj)


# --- C1: cross-repository blob mount -------------------------------------------------------


def test_mount_from_another_repository_links_the_blob(server: Server, creds: str) -> None:
    src, dst = new_repository(server), new_repository(server)
    data = unique("unreferenced")
    digest = sha256_digest(data)
    assert Session(server, src, creds).push_blob(data).status_code == 201
    d = Session(server, dst, creds)
    assert d.head(f"blobs/{digest}").status_code == 404

    mounted = d.post("blobs/uploads/", params={"mount": digest, "from": f"{server.alias}/{src}"})
    assert mounted.status_code == 201, mounted.text
    assert location_path(mounted) == f"/v2/{server.alias}/{dst}/blobs/{digest}"
    assert mounted.headers["Docker-Content-Digest"] == digest
    head = d.head(f"blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Length"] == str(len(data))
    assert d.get(f"blobs/{digest}").content == data
    # The mounted blob is as good as a pushed one: a manifest in dst may reference it.
    body = artifact([images.Blob("application/vnd.example.data", data)])
    assert d.push_blob(EMPTY_CONFIG.data).status_code == 201
    assert d.push_manifest(body, images.OCI_MANIFEST, "mounted").status_code == 201


def _assert_upload_fallback(session: Session, response: requests.Response) -> None:
    """A mount that did not happen: 202 and an upload session a plain PUT completes."""
    assert response.status_code == 202, response.text
    assert "/blobs/uploads/" in response.headers["Location"], response.headers
    assert "Docker-Content-Digest" not in response.headers
    data = unique("uploaded instead")
    done = session.put(
        response.headers["Location"], params={"digest": sha256_digest(data)}, data=data
    )
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == sha256_digest(data)
    assert session.get(f"blobs/{sha256_digest(data)}").content == data


def test_mount_of_unknown_digest_starts_an_upload(server: Server, creds: str) -> None:
    src, dst = new_repository(server), new_repository(server)
    missing = sha256_digest(unique("never pushed anywhere"))
    d = Session(server, dst, creds)
    response = d.post("blobs/uploads/", params={"mount": missing, "from": f"{server.alias}/{src}"})
    _assert_upload_fallback(d, response)
    assert d.head(f"blobs/{missing}").status_code == 404


def test_mount_from_missing_repository_starts_an_upload(server: Server, creds: str) -> None:
    owner, dst = new_repository(server), new_repository(server)
    data = unique("exists, but not where asked")
    digest = sha256_digest(data)
    assert Session(server, owner, creds).push_blob(data).status_code == 201
    d = Session(server, dst, creds)
    response = d.post(
        "blobs/uploads/",
        params={"mount": digest, "from": f"{server.alias}/test/no-such-{uuid.uuid4().hex[:8]}"},
    )
    _assert_upload_fallback(d, response)
    assert d.head(f"blobs/{digest}").status_code == 404


def test_mount_from_repository_without_the_blob_is_not_a_201(server: Server, creds: str) -> None:
    """The Harbor replication bug: the blob exists in the registry, but not in `from`."""
    owner, other, dst = (new_repository(server) for _ in range(3))
    data = unique("only in owner")
    digest = sha256_digest(data)
    assert Session(server, owner, creds).push_blob(data).status_code == 201
    d = Session(server, dst, creds)
    response = d.post("blobs/uploads/", params={"mount": digest, "from": f"{server.alias}/{other}"})
    _assert_upload_fallback(d, response)
    assert d.head(f"blobs/{digest}").status_code == 404
    assert Session(server, other, creds).head(f"blobs/{digest}").status_code == 404


def test_mount_without_from(server: Server, creds: str) -> None:
    """Without `from` berth links a blob some repository of the registry holds (201, really
    linked); a blob no repository holds is an upload (202), even while its bytes remain."""
    owner, dst, later = (new_repository(server) for _ in range(3))
    data = unique("mount without from")
    digest = sha256_digest(data)
    assert Session(server, owner, creds).push_blob(data).status_code == 201
    d = Session(server, dst, creds)
    response = d.post("blobs/uploads/", params={"mount": digest})
    assert response.status_code == 201, response.text
    assert location_path(response) == f"/v2/{server.alias}/{dst}/blobs/{digest}"
    assert response.headers["Docker-Content-Digest"] == digest
    assert d.get(f"blobs/{digest}").content == data
    # An unknown digest without `from` can only be an upload.
    unknown = sha256_digest(unique("unknown, no from"))
    _assert_upload_fallback(d, d.post("blobs/uploads/", params={"mount": unknown}))
    # Once no repository holds it, the blob waits for garbage collection, mountable by none.
    for name in (owner, dst):
        server.ecr().delete_repository(repositoryName=name, force=True)
    gone = Session(server, later, creds)
    _assert_upload_fallback(gone, gone.post("blobs/uploads/", params={"mount": digest}))
    assert gone.head(f"blobs/{digest}").status_code == 404


# --- C2: OCI 1.1 artifacts -----------------------------------------------------------------

POLICY = "application/vnd.example.policy.v1"


def test_artifact_with_artifact_type_and_empty_config(s: Session, repository: str, ecr) -> None:  # type: ignore[no-untyped-def]
    layer = images.Blob("application/vnd.example.policy.rego.v1", unique("package policy"))
    s.push_blobs([EMPTY_CONFIG.data, layer.data])
    body = artifact([layer], artifact_type=POLICY)
    digest = sha256_digest(body)
    put = s.push_manifest(body, images.OCI_MANIFEST, "policy")
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == digest
    assert location_path(put).endswith(f"/manifests/{digest}")
    for reference in ("policy", digest):
        got = s.get(f"manifests/{reference}", headers=ACCEPT)
        assert got.status_code == 200, got.text
        assert got.content == body
        assert got.headers["Content-Type"] == images.OCI_MANIFEST
        assert got.headers["Docker-Content-Digest"] == digest
    assert s.get(f"blobs/{EMPTY_CONFIG.digest}").content == b"{}"

    (detail,) = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
        "imageDetails"
    ]
    assert detail["imageManifestMediaType"] == images.OCI_MANIFEST
    assert detail["artifactMediaType"] == POLICY
    assert detail["imageTags"] == ["policy"]


# --- C3: referrers -------------------------------------------------------------------------

SIGNATURE = "application/vnd.example.signature.v1"
SBOM = "application/vnd.example.sbom.v1"


def _referrer(
    s: Session,
    subject: dict[str, Any],
    artifact_type: str | None,
    annotations: dict[str, str] | None,
    config: images.Blob = EMPTY_CONFIG,
) -> bytes:
    layer = images.Blob("application/vnd.example.payload", unique("payload"))
    s.push_blobs([config.data, layer.data])
    body = artifact(
        [layer],
        artifact_type=artifact_type,
        config=config,
        subject=subject,
        annotations=annotations,
    )
    put = s.push_manifest(body, images.OCI_MANIFEST)
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == sha256_digest(body)
    assert put.headers["OCI-Subject"] == subject["digest"], put.headers
    return body


def _referrers(s: Session, digest: str, **params: str) -> requests.Response:
    response = s.get(f"referrers/{digest}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == images.OCI_INDEX
    body = response.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == images.OCI_INDEX
    assert isinstance(body["manifests"], list)
    return response


def test_referrers_of_an_existing_subject(s: Session) -> None:
    subject_image = images.oci_image(12001, n_layers=1)
    assert s.push_image(subject_image, "app").status_code == 201
    subject = subject_image.descriptor()

    signed = {"org.example.signer": "alice", "org.opencontainers.image.created": "2024-01-01"}
    sig = _referrer(s, subject, SIGNATURE, signed)
    # No artifactType: the referrers list takes the config's media type instead.
    sbom_config = images.Blob(SBOM, images.dump_json({"format": "spdx", "n": str(uuid.uuid4())}))
    sbom = _referrer(s, subject, None, {"org.example.kind": "sbom"}, config=sbom_config)
    # An index can be a referrer too.
    index_body = images.dump_json(
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_INDEX,
            "artifactType": "application/vnd.example.bundle.v1",
            "manifests": [],
            "subject": subject,
            "annotations": {"org.example.kind": "bundle"},
        }
    )
    put = s.push_manifest(index_body, images.OCI_INDEX)
    assert put.status_code == 201, put.text
    assert put.headers["OCI-Subject"] == subject["digest"]

    response = _referrers(s, subject_image.digest)
    assert "OCI-Filters-Applied" not in response.headers
    found = {d["digest"]: d for d in response.json()["manifests"]}
    assert found == {
        sha256_digest(sig): {
            "mediaType": images.OCI_MANIFEST,
            "digest": sha256_digest(sig),
            "size": len(sig),
            "artifactType": SIGNATURE,
            "annotations": signed,
        },
        sha256_digest(sbom): {
            "mediaType": images.OCI_MANIFEST,
            "digest": sha256_digest(sbom),
            "size": len(sbom),
            "artifactType": SBOM,
            "annotations": {"org.example.kind": "sbom"},
        },
        sha256_digest(index_body): {
            "mediaType": images.OCI_INDEX,
            "digest": sha256_digest(index_body),
            "size": len(index_body),
            "artifactType": "application/vnd.example.bundle.v1",
            "annotations": {"org.example.kind": "bundle"},
        },
    }

    filtered = _referrers(s, subject_image.digest, artifactType=SIGNATURE)
    assert filtered.headers.get("OCI-Filters-Applied") == "artifactType"
    assert [d["digest"] for d in filtered.json()["manifests"]] == [sha256_digest(sig)]
    by_config = _referrers(s, subject_image.digest, artifactType=SBOM)
    assert by_config.headers.get("OCI-Filters-Applied") == "artifactType"
    assert [d["digest"] for d in by_config.json()["manifests"]] == [sha256_digest(sbom)]
    none = _referrers(s, subject_image.digest, artifactType="application/vnd.example.none")
    assert none.json()["manifests"] == []

    # The subject itself is untouched and a referrer is an ordinary manifest.
    assert s.get("manifests/app", headers=ACCEPT).content == subject_image.manifest
    assert s.get(f"manifests/{sha256_digest(sig)}", headers=ACCEPT).content == sig
    assert s.get("tags/list").json()["tags"] == ["app"]


def test_referrer_accepted_before_its_subject_exists(s: Session) -> None:
    subject_image = images.oci_image(12002, n_layers=1)
    subject = subject_image.descriptor()
    assert s.head(f"manifests/{subject_image.digest}", headers=ACCEPT).status_code == 404
    sig = _referrer(s, subject, SIGNATURE, {"org.example.early": "yes"})

    listed = _referrers(s, subject_image.digest).json()["manifests"]
    assert [d["digest"] for d in listed] == [sha256_digest(sig)]
    assert listed[0]["artifactType"] == SIGNATURE
    assert listed[0]["annotations"] == {"org.example.early": "yes"}
    # Pushing the subject later changes nothing in the list.
    assert s.push_image(subject_image, "late").status_code == 201
    again = _referrers(s, subject_image.digest).json()["manifests"]
    assert [d["digest"] for d in again] == [sha256_digest(sig)]


def test_referrers_none(s: Session) -> None:
    image = images.oci_image(12003, n_layers=1)
    assert s.push_image(image, "plain").status_code == 201
    for digest in (image.digest, sha256_digest(unique("no such manifest"))):
        response = _referrers(s, digest)
        assert response.json()["manifests"] == []


@pytest.mark.parametrize(
    "digest", ["sha256:xyz", "notadigest", "sha256:" + "A" * 64, "sha256:" + "0" * 63]
)
def test_referrers_malformed_digest(s: Session, digest: str) -> None:
    response = s.get(f"referrers/{digest}")
    assert response.status_code == 400, (response.status_code, response.text)
    assert error_codes(response)


# --- C11: sha512 ---------------------------------------------------------------------------


def test_sha512_blob_upload(s: Session) -> None:
    data = images.make_layer(11001, size=8 * 1024)
    digest = sha512_digest(data)
    started = s.post("blobs/uploads/", params={"digest-algorithm": "sha512"})
    assert started.status_code == 202, started.text
    done = s.put(started.headers["Location"], params={"digest": digest}, data=data)
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    assert location_path(done).endswith(f"/blobs/{digest}")
    head = s.head(f"blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Length"] == str(len(data))
    got = s.get(f"blobs/{digest}")
    assert got.content == data
    assert got.headers["Docker-Content-Digest"] == digest


def test_sha512_chunked_upload(s: Session) -> None:
    data = images.make_layer(11002, size=8 * 1024)
    digest = sha512_digest(data)
    response = s.post("blobs/uploads/", params={"digest-algorithm": "sha512"})
    assert response.status_code == 202
    for first in range(0, len(data), 3000):
        chunk = data[first : first + 3000]
        response = s.patch(
            response.headers["Location"],
            data=chunk,
            headers={"Content-Range": f"{first}-{first + len(chunk) - 1}"},
        )
        assert response.status_code == 202, response.text
    done = s.put(response.headers["Location"], params={"digest": digest})
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    assert s.get(f"blobs/{digest}").content == data


def test_sha512_monolithic_post(s: Session) -> None:
    data = unique("sha512 in one request")
    digest = sha512_digest(data)
    response = s.post("blobs/uploads/", params={"digest": digest}, data=data)
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == digest
    assert s.get(f"blobs/{digest}").content == data


def test_sha512_digest_without_the_algorithm_hint(s: Session) -> None:
    data = unique("sha512 given only at PUT")
    digest = sha512_digest(data)
    started = s.start_upload()
    done = s.put(started.headers["Location"], params={"digest": digest}, data=data)
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    assert s.get(f"blobs/{digest}").content == data


def test_sha512_wrong_body_is_digest_invalid(s: Session) -> None:
    data = unique("the bytes sent")
    claimed = sha512_digest(unique("the bytes claimed"))
    started = s.post("blobs/uploads/", params={"digest-algorithm": "sha512"})
    assert started.status_code == 202
    response = s.put(started.headers["Location"], params={"digest": claimed}, data=data)
    assert_error(response, 400, "DIGEST_INVALID")
    for digest in (claimed, sha512_digest(data), sha256_digest(data)):
        assert s.head(f"blobs/{digest}").status_code == 404, digest
    mono = s.post("blobs/uploads/", params={"digest": claimed}, data=data)
    assert_error(mono, 400, "DIGEST_INVALID")
    assert s.head(f"blobs/{claimed}").status_code == 404


def test_sha512_manifest_by_digest(s: Session) -> None:
    image = images.oci_image(11003, n_layers=1)
    s.push_blobs([blob.data for blob in image.blobs])
    digest = sha512_digest(image.manifest)
    put = s.push_manifest(image.manifest, image.media_type, digest)
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == digest
    assert location_path(put).endswith(f"/manifests/{digest}")
    got = s.get(f"manifests/{digest}", headers=ACCEPT)
    assert got.status_code == 200, got.text
    assert got.content == image.manifest
    assert got.headers["Docker-Content-Digest"] == digest
    assert got.headers["Content-Type"] == image.media_type
    head = s.head(f"manifests/{digest}", headers=ACCEPT)
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Length"] == str(len(image.manifest))


def test_sha512_manifest_wrong_body(s: Session) -> None:
    image = images.oci_image(11004, n_layers=1)
    s.push_blobs([blob.data for blob in image.blobs])
    claimed = sha512_digest(image.manifest + b"\n")
    response = s.push_manifest(image.manifest, image.media_type, claimed)
    assert_error(response, 400, "DIGEST_INVALID")
    for digest in (claimed, sha512_digest(image.manifest), image.digest):
        assert s.head(f"manifests/{digest}", headers=ACCEPT).status_code == 404, digest


# --- C12: tag listing ----------------------------------------------------------------------

TAGS = ["1.0", "1.10", "1.2", "latest", "v2"]  # lexical order
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@pytest.fixture(scope="module")
def tagged(server: Server, creds: str) -> Session:
    """A repository with TAGS (pushed out of order); tests only read it."""
    session = Session(server, new_repository(server), creds)
    image = images.oci_image(12101, n_layers=1)
    for tag in ["v2", "1.2", "latest", "1.10", "1.0"]:
        assert session.push_image(image, tag).status_code == 201
    return session


def test_tags_list_is_lexical(server: Server, tagged: Session) -> None:
    response = tagged.get("tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": f"{server.alias}/{tagged.repo}", "tags": TAGS}
    assert "Link" not in response.headers


def _pages(session: Session, start: str) -> Iterator[tuple[list[str], str | None]]:
    url: str | None = start
    while url is not None:
        response = session.get(url)
        assert response.status_code == 200, response.text
        link = response.headers.get("Link")
        url = None
        if link is not None:
            match = _NEXT.search(link)
            assert match, link
            url = urljoin(session.server.url + "/", match[1])
        yield response.json()["tags"], url


def test_tags_list_pages_follow_link(tagged: Session) -> None:
    pages = list(_pages(tagged, "tags/list?n=2"))
    assert [tags for tags, _ in pages] == [["1.0", "1.10"], ["1.2", "latest"], ["v2"]]
    for tags, link in pages[:-1]:
        assert link is not None
        query = parse_qs(urlparse(link).query)
        assert query == {"n": ["2"], "last": [tags[-1]]}, link
    assert pages[-1][1] is None
    seen = [tag for tags, _ in pages for tag in tags]
    assert seen == TAGS


@pytest.mark.parametrize(
    ("query", "expected", "more"),
    [
        ("n=0", [], False),
        ("last=1.2", ["latest", "v2"], False),
        ("n=1&last=1.2", ["latest"], True),
        ("n=5", TAGS, False),
        ("n=100", TAGS, False),
        ("last=v2", [], False),
        ("last=1.05", ["1.10", "1.2", "latest", "v2"], False),
    ],
)
def test_tags_list_n_and_last(tagged: Session, query: str, expected: list[str], more: bool) -> None:
    response = tagged.get(f"tags/list?{query}")
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == expected
    assert ("Link" in response.headers) == more, response.headers


def test_tags_list_unknown_repository(server: Server, creds: str) -> None:
    missing = Session(server, f"test/missing-{uuid.uuid4().hex[:12]}", creds)
    assert_error(missing.get("tags/list"), 404, "NAME_UNKNOWN")
    assert_error(missing.get("tags/list?n=2"), 404, "NAME_UNKNOWN")


def test_tags_list_of_untagged_content(server: Server, s: Session, repository: str) -> None:
    image = images.oci_image(12102, n_layers=1)
    assert s.push_image(image).status_code == 201  # by digest: no tag
    response = s.get("tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": f"{server.alias}/{repository}", "tags": []}
    assert s.get("tags/list?n=2").json()["tags"] == []


# --- blobs: ranges, many chunks, streamed PATCH, overlap, delete ---------------------------


@pytest.fixture
def blob(s: Session) -> tuple[bytes, str]:
    data = images.make_layer(13001, size=4096)
    assert s.push_blob(data).status_code == 201
    return data, sha256_digest(data)


def test_blob_advertises_ranges(s: Session, blob: tuple[bytes, str]) -> None:
    _, digest = blob
    for method in ("HEAD", "GET"):
        response = s.request(method, f"blobs/{digest}")
        assert response.status_code == 200
        assert response.headers.get("Accept-Ranges") == "bytes", (method, response.headers)


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 9), ("bytes=-10", -10, -1), ("bytes=10-", 10, -1)],
    ids=["first-ten", "suffix", "open"],
)
def test_blob_range(s: Session, blob: tuple[bytes, str], header: str, start: int, end: int) -> None:
    data, digest = blob
    size = len(data)
    first, last = start % size, end % size
    response = s.get(f"blobs/{digest}", headers={"Range": header})
    assert response.status_code == 206, (response.status_code, response.headers)
    assert response.content == data[first : last + 1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert response.headers["Content-Length"] == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes=500-0", "bytes=-0"])
def test_blob_range_unsatisfiable(s: Session, blob: tuple[bytes, str], header: str) -> None:
    data, digest = blob
    response = s.get(f"blobs/{digest}", headers={"Range": header.format(size=len(data))})
    assert response.status_code == 416, (response.status_code, response.headers)
    assert response.headers.get("Content-Range") == f"bytes */{len(data)}"
    assert response.json()["errors"][0]["code"] == "RANGE_INVALID"


def test_upload_in_fifty_chunks(s: Session) -> None:
    data = b"".join(unique(f"chunk {i}").ljust(1024, b".") for i in range(50))
    assert len(data) == 50 * 1024
    response = s.start_upload()
    assert response.status_code == 202
    for i in range(50):
        response = s.patch(
            response.headers["Location"],
            data=data[i * 1024 : (i + 1) * 1024],
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{i * 1024}-{(i + 1) * 1024 - 1}",
            },
        )
        assert response.status_code == 202, (i, response.text)
        assert response.headers["Range"] == f"0-{(i + 1) * 1024 - 1}"
    done = s.put(response.headers["Location"], params={"digest": sha256_digest(data)})
    assert done.status_code == 201, done.text
    assert s.get(f"blobs/{sha256_digest(data)}").content == data


def test_streamed_patch_without_content_range(s: Session) -> None:
    """A PATCH with a chunked transfer-encoded body and no Content-Range/Length."""
    parts = [unique(f"streamed part {i}") * 300 for i in range(8)]
    data = b"".join(parts)
    started = s.start_upload()  # the session holds its push token from here on
    assert started.status_code == 202
    patched = s.patch(
        started.headers["Location"],
        data=iter(parts),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert patched.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Range" not in patched.request.headers
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{len(data) - 1}"
    done = s.put(patched.headers["Location"], params={"digest": sha256_digest(data)})
    assert done.status_code == 201, done.text
    assert s.get(f"blobs/{sha256_digest(data)}").content == data


def test_overlapping_chunk_is_416_and_changes_nothing(s: Session) -> None:
    data = bytes(range(256)) * 2  # 512 bytes
    started = s.start_upload()
    url = started.headers["Location"]
    first = s.patch(url, data=data[:100], headers={"Content-Range": "0-99"})
    assert first.status_code == 202, first.text
    url = first.headers["Location"]

    overlap = s.patch(url, data=b"X" * 100, headers={"Content-Range": "50-149"})
    assert overlap.status_code == 416, (overlap.status_code, overlap.text)
    assert overlap.headers.get("Range") == "0-99", overlap.headers
    assert "/blobs/uploads/" in overlap.headers.get("Location", ""), overlap.headers
    status = s.get(url)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-99"

    second = s.patch(url, data=data[100:300], headers={"Content-Range": "100-299"})
    assert second.status_code == 202, second.text
    done = s.put(
        second.headers["Location"],
        params={"digest": sha256_digest(data)},
        data=data[300:],
        headers={"Content-Range": f"300-{len(data) - 1}"},
    )
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == sha256_digest(data)
    assert s.get(f"blobs/{sha256_digest(data)}").content == data


def test_blob_delete(s: Session) -> None:
    data = unique("to be deleted")
    digest = sha256_digest(data)
    assert s.push_blob(data).status_code == 201
    assert s.head(f"blobs/{digest}").status_code == 200
    deleted = s.delete(f"blobs/{digest}")
    assert deleted.status_code == 202, deleted.text
    assert s.head(f"blobs/{digest}").status_code == 404
    assert_error(s.get(f"blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert_error(s.delete(f"blobs/{digest}"), 404, "BLOB_UNKNOWN")
    # It can be pushed again.
    assert s.push_blob(data).status_code == 201
    assert s.get(f"blobs/{digest}").content == data


# --- manifests -----------------------------------------------------------------------------


def test_manifest_without_media_type_field(s: Session) -> None:
    """C4 on /v2 (Helm charts): the Content-Type names the type the body leaves out."""
    config = images.Blob("application/vnd.cncf.helm.config.v1+json", b'{"name":"chart"}')
    chart = images.Blob("application/vnd.cncf.helm.chart.content.v1.tar+gzip", unique("chart"))
    s.push_blobs([config.data, chart.data])
    body = artifact([chart], config=config, media_type=None)
    assert "mediaType" not in json.loads(body)
    put = s.push_manifest(body, images.OCI_MANIFEST, "0.1.0")
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == sha256_digest(body)
    for reference in ("0.1.0", sha256_digest(body)):
        got = s.get(f"manifests/{reference}", headers=ACCEPT)
        assert got.status_code == 200
        assert got.content == body
        assert got.headers["Content-Type"] == images.OCI_MANIFEST
        head = s.head(f"manifests/{reference}", headers=ACCEPT)
        assert head.headers["Content-Type"] == images.OCI_MANIFEST


def test_nested_index(s: Session) -> None:
    inner = images.oci_index(
        [
            images.oci_image(14001, n_layers=1, architecture="amd64"),
            images.oci_image(14002, n_layers=1, architecture="arm64", variant="v8"),
        ]
    )
    single = images.oci_image(14003, n_layers=1, architecture="s390x")
    assert s.push_image(inner).status_code == 201
    assert s.push_image(single).status_code == 201
    outer_body = images.dump_json(
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_INDEX,
            "manifests": [
                {**inner.descriptor(), "annotations": {"org.example.role": "nested"}},
                {**single.descriptor(), "platform": single.platform},
            ],
        }
    )
    put = s.push_manifest(outer_body, images.OCI_INDEX, "nested")
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == sha256_digest(outer_body)
    got = s.get("manifests/nested", headers=ACCEPT)
    assert got.content == outer_body
    assert got.headers["Content-Type"] == images.OCI_INDEX
    inner_got = s.get(f"manifests/{inner.digest}", headers=ACCEPT)
    assert inner_got.content == inner.manifest
    assert inner_got.headers["Content-Type"] == images.OCI_INDEX


def test_nested_index_with_missing_child_index(s: Session) -> None:
    inner = images.oci_index([images.oci_image(14004, n_layers=1)])
    assert s.push_image(inner.images[0]).status_code == 201  # the child image, not the index
    outer_body = images.dump_json(
        {"schemaVersion": 2, "mediaType": images.OCI_INDEX, "manifests": [inner.descriptor()]}
    )
    response = s.push_manifest(outer_body, images.OCI_INDEX, "broken")
    assert response.status_code == 400, response.text
    assert error_codes(response)
    assert inner.digest in response.text
    assert s.head("manifests/broken", headers=ACCEPT).status_code == 404


def test_digest_shaped_tag_is_an_ordinary_tag(s: Session) -> None:
    """`sha256-<hex>` is the referrers tag schema's tag: a tag, never a digest."""
    target = images.oci_image(14101, n_layers=1)
    other = images.oci_image(14102, n_layers=1)
    assert s.push_image(target).status_code == 201
    tag = "sha256-" + target.digest.removeprefix("sha256:")
    put = s.push_image(other, tag)
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == other.digest
    by_tag = s.get(f"manifests/{tag}", headers=ACCEPT)
    assert by_tag.content == other.manifest
    assert by_tag.headers["Docker-Content-Digest"] == other.digest
    assert s.get(f"manifests/{target.digest}", headers=ACCEPT).content == target.manifest
    assert s.get("tags/list").json()["tags"] == [tag]
    # Deleting the tag leaves both manifests.
    assert s.delete(f"manifests/{tag}").status_code == 202
    assert s.head(f"manifests/{target.digest}", headers=ACCEPT).status_code == 200
    assert s.head(f"manifests/{other.digest}", headers=ACCEPT).status_code == 200


def test_manifest_over_4_mib_is_refused(s: Session) -> None:
    layer = images.Blob("application/vnd.example.data", unique("small layer"))
    s.push_blobs([EMPTY_CONFIG.data, layer.data])
    body = artifact([layer], annotations={"org.example.padding": "x" * (4 * 1024 * 1024)})
    assert len(body) > 4 * 1024 * 1024
    response = s.push_manifest(body, images.OCI_MANIFEST, "huge")
    assert response.status_code in (400, 413), (response.status_code, response.text[:300])
    assert {"MANIFEST_INVALID", "SIZE_INVALID"} & set(error_codes(response)), response.text
    assert s.head("manifests/huge", headers=ACCEPT).status_code == 404
    assert s.head(f"manifests/{sha256_digest(body)}", headers=ACCEPT).status_code == 404


def test_manifest_with_two_missing_blobs(s: Session) -> None:
    image = images.oci_image(14201, n_layers=3)
    s.push_blobs([image.config.data, image.layers[1].data])
    missing = [image.layers[0].digest, image.layers[2].digest]
    response = s.push_manifest(image.manifest, image.media_type, "v1")
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert [e["code"] for e in errors] == ["MANIFEST_BLOB_UNKNOWN"] * 2, errors
    for error, digest in zip(errors, missing, strict=True):
        assert digest in json.dumps(error), (digest, error)
    assert s.head("manifests/v1", headers=ACCEPT).status_code == 404


_VOLATILE = {"date", "server", "connection", "keep-alive"}


def _stable_headers(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in _VOLATILE}


@pytest.mark.parametrize(
    "kind",
    ["oci", "docker", "oci-index"],
)
def test_manifest_head_and_get_headers_match(s: Session, kind: str) -> None:
    item: images.Image | images.Index = {
        "oci": lambda: images.oci_image(14301, n_layers=1),
        "docker": lambda: images.docker_image(14302, n_layers=1),
        "oci-index": lambda: images.oci_index([images.oci_image(14303, n_layers=1)]),
    }[kind]()
    assert s.push_image(item, "same").status_code == 201
    seen = []
    for reference in ("same", item.digest):
        got = s.get(f"manifests/{reference}", headers=ACCEPT)
        head = s.head(f"manifests/{reference}", headers=ACCEPT)
        assert got.status_code == head.status_code == 200
        assert head.content == b""
        assert _stable_headers(head) == _stable_headers(got), reference
        assert got.headers["Content-Length"] == str(len(item.manifest))
        assert got.headers["Docker-Content-Digest"] == item.digest
        assert got.headers["Content-Type"] == item.media_type
        seen.append(_stable_headers(got))
    assert seen[0] == seen[1]


# --- upload headers, byte-exact custom fields, no platform resolution ----------------------


def test_no_chunk_minimum_is_advertised(s: Session) -> None:
    """berth takes chunks of any size, so it must not claim a minimum."""
    started = s.start_upload()
    assert started.status_code == 202
    assert "OCI-Chunk-Min-Length" not in started.headers
    patched = s.patch(started.headers["Location"], data=b"x")
    assert patched.status_code == 202 and "OCI-Chunk-Min-Length" not in patched.headers


def test_upload_status_after_chunks(s: Session) -> None:
    started = s.start_upload()
    url = started.headers["Location"]
    for i, part in enumerate((b"a" * 100, b"b" * 50)):
        start = 100 * i
        answer = s.patch(
            url,
            data=part,
            headers={"Content-Range": f"{start}-{start + len(part) - 1}"},
        )
        assert answer.status_code == 202, answer.text
        url = answer.headers["Location"]
    status = s.get(url)
    assert status.status_code == 204, status.text
    assert status.headers["Range"] == "0-149"
    assert status.headers["Docker-Upload-UUID"] in status.headers["Location"]


def test_custom_fields_and_data_fields_kept_byte_exact(s: Session) -> None:
    config = json.dumps({"architecture": "amd64", "os": "linux", "x-custom": [1, 2]}).encode()
    layer = unique("layer with data")
    s.push_blobs([config, layer])
    body = (
        b'{ "schemaVersion":2,\n  "mediaType":"application/vnd.oci.image.manifest.v1+json",'
        b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'
        + sha256_digest(config).encode()
        + b'","size":'
        + str(len(config)).encode()
        + b',"x-descriptor-field":true},\n"layers":[{"mediaType":"application/octet-stream",'
        b'"digest":"'
        + sha256_digest(layer).encode()
        + b'","size":'
        + str(len(layer)).encode()
        + b',"data":"'
        + base64.b64encode(layer)
        + b'"}],"annotations":{"a":"\\u00e9"},"x-top-level":{"nested":[null,1.50]}}'
    )
    put = s.push_manifest(body, images.OCI_MANIFEST, "custom")
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == sha256_digest(body)
    for reference in ("custom", sha256_digest(body)):
        got = s.get(f"manifests/{reference}", headers=ACCEPT)
        assert got.content == body
    assert s.get(f"blobs/{sha256_digest(config)}").content == config


@pytest.mark.parametrize("accept", [images.OCI_MANIFEST, images.DOCKER_MANIFEST, "*/*"])
def test_index_is_served_as_stored_whatever_accept(s: Session, accept: str) -> None:
    """No platform resolution: an index is answered as the index, for GET and HEAD."""
    index = images.oci_index([images.oci_image(14401, n_layers=1)])
    assert s.push_image(index, "multi").status_code == 201
    got = s.get("manifests/multi", headers={"Accept": accept})
    assert got.status_code == 200, got.text
    assert got.content == index.manifest
    assert got.headers["Content-Type"] == images.OCI_INDEX
    assert got.headers["Docker-Content-Digest"] == index.digest
    head = s.head("manifests/multi", headers={"Accept": accept})
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == index.digest
    assert head.headers["Content-Length"] == str(len(index.manifest))


# --- shapes the conformance suite pushes: no layers, empty index, non-distributable --------


def test_manifest_without_layers_and_empty_index(s: Session) -> None:
    s.push_blobs([EMPTY_CONFIG.data])
    no_layers = artifact([], artifact_type=POLICY)
    empty_index = images.dump_json(
        {"schemaVersion": 2, "mediaType": images.OCI_INDEX, "manifests": []}
    )
    for body, media_type in ((no_layers, images.OCI_MANIFEST), (empty_index, images.OCI_INDEX)):
        put = s.push_manifest(body, media_type)
        assert put.status_code == 201, put.text
        got = s.get(f"manifests/{sha256_digest(body)}", headers=ACCEPT)
        assert got.content == body and got.headers["Content-Type"] == media_type


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ],
)
def test_non_distributable_layers_need_not_be_pushed(s: Session, media_type: str) -> None:
    foreign = unique("lives elsewhere")
    present = images.Blob(images.OCI_LAYER_GZIP, unique("pushed"))
    config = images.Blob("application/vnd.oci.image.config.v1+json", b'{"os":"linux"}')
    s.push_blobs([config.data, present.data])
    body = images.dump_json(
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [
                {
                    "mediaType": media_type,
                    "digest": sha256_digest(foreign),
                    "size": len(foreign),
                    "urls": ["https://example.com/layer.tar.gz"],
                },
                present.descriptor(),
            ],
        }
    )
    put = s.push_manifest(body, images.OCI_MANIFEST, "foreign")
    assert put.status_code == 201, put.text
    assert s.get("manifests/foreign", headers=ACCEPT).content == body
    assert s.head(f"blobs/{sha256_digest(foreign)}").status_code == 404
    # An ordinary layer that is missing is still refused.
    missing = images.Blob(images.OCI_LAYER_GZIP, unique("absent"))
    bad = body.replace(present.digest.encode(), missing.digest.encode())
    assert missing.size == present.size
    refused = s.push_manifest(bad, images.OCI_MANIFEST, "bad")
    assert_error(refused, 400, "MANIFEST_BLOB_UNKNOWN")
