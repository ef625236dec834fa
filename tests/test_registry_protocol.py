"""The /v2 face at the protocol level, with `requests`: token flow, uploads, blobs,
manifests, tags, deletes and error bodies (cases C7, C10 and the distribution spec)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urljoin, urlparse

import pytest
import requests

from conftest import Server, aws
from support import images
from support.registry import (
    Session,
    bearer,
    error_codes,
    parse_challenge,
    sha256_digest,
    token,
    token_response,
)

ALL_MANIFEST_TYPES = ", ".join(
    [images.OCI_MANIFEST, images.OCI_INDEX, images.DOCKER_MANIFEST, images.DOCKER_MANIFEST_LIST]
)
ACCEPT = {"Accept": ALL_MANIFEST_TYPES}
EMPTY = sha256_digest(b"")


@pytest.fixture(scope="module")
def creds(server: Server) -> str:
    return server.creds()


@pytest.fixture
def s(server: Server, repository: str, creds: str) -> Session:
    """A pushing session on a fresh repository."""
    return Session(server, repository, creds)


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    assert code in error_codes(response), response.text


def location(server: Server, response: requests.Response) -> str:
    return urljoin(server.url + "/", response.headers["Location"])


def upload_uuid_of(response: requests.Response) -> str:
    return urlparse(response.headers["Location"]).path.rstrip("/").rsplit("/", 1)[-1]


def assert_session_headers(response: requests.Response, received: int) -> None:
    """A 202/204 upload answer: Location, Range of the bytes so far, Docker-Upload-UUID."""
    assert response.headers.get("Location"), response.headers
    assert "/blobs/uploads/" in response.headers["Location"]
    expected_range = f"0-{max(received - 1, 0)}"
    assert response.headers.get("Range") == expected_range, response.headers
    uid = response.headers.get("Docker-Upload-UUID")
    assert uid, response.headers
    assert upload_uuid_of(response) == uid


# --- C7: the challenge and the login token ------------------------------------------------


def test_v2_base_challenges_anonymous_callers(server: Server) -> None:
    response = requests.get(f"{server.url}/v2/", timeout=10)
    assert_error(response, 401, "UNAUTHORIZED")
    scheme, params = parse_challenge(response.headers["WWW-Authenticate"])
    assert scheme == "bearer"
    assert params["realm"] == f"{server.url}/token"
    assert params["service"] == server.host
    assert response.headers.get("Docker-Distribution-API-Version") == "registry/2.0"


def test_v2_base_head_challenges_without_body(server: Server) -> None:
    response = requests.head(f"{server.url}/v2/", timeout=10)
    assert response.status_code == 401
    assert parse_challenge(response.headers["WWW-Authenticate"])[0] == "bearer"
    assert response.content == b""


def test_challenge_leads_to_a_working_token(server: Server, creds: str) -> None:
    challenge = requests.get(f"{server.url}/v2/", timeout=10).headers["WWW-Authenticate"]
    _, params = parse_challenge(challenge)
    user, password = creds.split(":")
    answer = requests.get(
        params["realm"], params={"service": params["service"]}, auth=(user, password), timeout=10
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body["token"], str) and body["token"]
    assert body.get("expires_in", 60) > 0
    ok = requests.get(f"{server.url}/v2/", headers=bearer(body["token"]), timeout=10)
    assert ok.status_code == 200, ok.text


def test_authorization_token_is_what_the_aws_cli_parses(server: Server) -> None:
    data = server.ecr().get_authorization_token()["authorizationData"]
    decoded = base64.b64decode(data["authorizationToken"]).decode()
    parts = decoded.split(":")
    assert len(parts) == 2, "the aws CLI splits on ':' and needs exactly two parts"
    assert parts[0] == "AWS" and parts[1]
    expires = data["expiresAt"]
    remaining = (expires - datetime.now(UTC)).total_seconds()
    assert 11 * 3600 < remaining <= 12 * 3600 + 60, expires


def test_aws_cli_login_password_gets_a_push_token(server: Server, repository: str) -> None:
    result = aws(server, "get-login-password")
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip()
    assert ":" not in password and password
    answer = token_response(server, repository, "pull,push", f"AWS:{password}")
    assert answer.status_code == 200, answer.text
    started = requests.post(
        f"{server.v2(repository)}/blobs/uploads/",
        headers=bearer(answer.json()["token"]),
        timeout=10,
    )
    assert started.status_code == 202, started.text


def test_token_with_password_allows_push(server: Server, repository: str, creds: str) -> None:
    value = token(server, repository, "pull,push", creds)
    data = b"pushed with a bearer token"
    response = requests.post(
        f"{server.v2(repository)}/blobs/uploads/",
        params={"digest": sha256_digest(data)},
        data=data,
        headers=bearer(value),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    head = requests.head(
        f"{server.v2(repository)}/blobs/{sha256_digest(data)}", headers=bearer(value), timeout=10
    )
    assert head.status_code == 200


def test_token_with_wrong_password_is_refused(server: Server, repository: str) -> None:
    for password in ("not-a-password", server.password() + "x"):
        answer = token_response(server, repository, "pull,push", f"AWS:{password}")
        assert_error(answer, 401, "UNAUTHORIZED")
        assert "token" not in answer.json()


def test_basic_with_wrong_password_on_v2_is_challenged(server: Server, repository: str) -> None:
    response = requests.post(
        f"{server.v2(repository)}/blobs/uploads/", auth=("AWS", "wrong"), timeout=10
    )
    assert_error(response, 401, "UNAUTHORIZED")
    assert parse_challenge(response.headers["WWW-Authenticate"])[0] == "bearer"


def test_anonymous_token_pulls_but_cannot_push(server: Server, repository: str, creds: str) -> None:
    image = images.oci_image(seed=7001, n_layers=1)
    pushed = Session(server, repository, creds).push_image(image, "v1")
    assert pushed.status_code == 201

    anon = token(server, repository, "pull,push")
    base = server.v2(repository)
    # Pull works anonymously.
    got = requests.get(f"{base}/manifests/v1", headers={**bearer(anon), **ACCEPT}, timeout=10)
    assert got.status_code == 200 and got.content == image.manifest
    # No upload session, no monolithic blob, no manifest.
    started = requests.post(f"{base}/blobs/uploads/", headers=bearer(anon), timeout=10)
    assert started.status_code in (401, 403), started.text
    assert "Location" not in started.headers
    error_codes(started)
    data = b"anonymous bytes"
    mono = requests.post(
        f"{base}/blobs/uploads/",
        params={"digest": sha256_digest(data)},
        data=data,
        headers=bearer(anon),
        timeout=10,
    )
    assert mono.status_code in (401, 403), mono.text
    put = requests.put(
        f"{base}/manifests/anon",
        data=image.manifest,
        headers={**bearer(anon), "Content-Type": image.media_type},
        timeout=10,
    )
    assert put.status_code in (401, 403), put.text
    delete = requests.delete(f"{base}/manifests/{image.digest}", headers=bearer(anon), timeout=10)
    assert delete.status_code in (401, 403), delete.text

    reader = Session(server, repository)  # anonymous token flow
    assert reader.head(f"blobs/{sha256_digest(data)}").status_code == 404
    assert reader.head("manifests/anon", headers=ACCEPT).status_code == 404
    assert reader.get("tags/list").json()["tags"] == ["v1"]
    assert reader.head(f"manifests/{image.digest}", headers=ACCEPT).status_code == 200


def test_anonymous_session_is_refused_push_scope(server: Server, repository: str) -> None:
    anon = Session(server, repository)
    response = anon.start_upload()
    assert response.status_code in (401, 403), response.text
    assert "Location" not in response.headers


def test_token_for_one_repository_does_not_push_another(
    server: Server, repository: str, creds: str, ecr
) -> None:  # type: ignore[no-untyped-def]
    other = f"test/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=other)
    value = token(server, repository, "pull,push", creds)
    response = requests.post(
        f"{server.v2(other)}/blobs/uploads/", headers=bearer(value), timeout=10
    )
    assert_error(response, 401, "UNAUTHORIZED")
    _, params = parse_challenge(response.headers["WWW-Authenticate"])
    assert params.get("scope") == f"repository:{server.alias}/{other}:pull,push"


def test_basic_credentials_directly_on_v2_push(server: Server, repository: str) -> None:
    auth = ("AWS", server.password())
    base = server.v2(repository)
    assert requests.get(f"{server.url}/v2/", auth=auth, timeout=10).status_code == 200
    image = images.oci_image(seed=7003, n_layers=2)
    for blob in image.blobs:
        started = requests.post(f"{base}/blobs/uploads/", auth=auth, timeout=10)
        assert started.status_code == 202, started.text
        done = requests.put(
            location(server, started),
            params={"digest": blob.digest},
            data=blob.data,
            auth=auth,
            timeout=10,
        )
        assert done.status_code == 201, done.text
    put = requests.put(
        f"{base}/manifests/basic",
        data=image.manifest,
        headers={"Content-Type": image.media_type},
        auth=auth,
        timeout=10,
    )
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == image.digest
    got = requests.get(f"{base}/manifests/basic", headers=ACCEPT, auth=auth, timeout=10)
    assert got.content == image.manifest


# --- uploads --------------------------------------------------------------------------------


def test_post_then_put_with_the_whole_blob(s: Session) -> None:
    data = images.make_layer(101)
    started = s.start_upload()
    assert started.status_code == 202, started.text
    assert_session_headers(started, 0)
    done = s.put(started.headers["Location"], params={"digest": sha256_digest(data)}, data=data)
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == sha256_digest(data)
    assert urlparse(done.headers["Location"]).path.endswith(f"/blobs/{sha256_digest(data)}")
    assert s.get(f"blobs/{sha256_digest(data)}").content == data
    # A completed session is gone.
    assert_error(s.get(started.headers["Location"]), 404, "BLOB_UPLOAD_UNKNOWN")


def test_upload_session_belongs_to_its_repository(
    server: Server, s: Session, creds: str, ecr
) -> None:  # type: ignore[no-untyped-def]
    data = b"started in the first repository"
    started = s.start_upload()
    assert s.patch(started.headers["Location"], data=data).status_code == 202
    other = f"test/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=other)
    thief = Session(server, other, creds)
    uid = started.headers["Docker-Upload-UUID"]
    assert_error(thief.get(f"blobs/uploads/{uid}"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(
        thief.put(f"blobs/uploads/{uid}", params={"digest": sha256_digest(data)}),
        404,
        "BLOB_UPLOAD_UNKNOWN",
    )
    assert thief.head(f"blobs/{sha256_digest(data)}").status_code == 404
    # The owner can still finish it.
    done = s.put(started.headers["Location"], params={"digest": sha256_digest(data)})
    assert done.status_code == 201, done.text


def test_post_patch_then_empty_put(s: Session) -> None:
    data = images.make_layer(102)
    started = s.start_upload()
    patched = s.patch(
        started.headers["Location"],
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert patched.status_code == 202, patched.text
    assert_session_headers(patched, len(data))
    assert patched.headers["Docker-Upload-UUID"] == started.headers["Docker-Upload-UUID"]
    done = s.put(patched.headers["Location"], params={"digest": sha256_digest(data)}, data=b"")
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == sha256_digest(data)
    assert s.get(f"blobs/{sha256_digest(data)}").content == data


@pytest.mark.parametrize("with_content_range", [True, False], ids=["content-range", "streamed"])
def test_chunked_upload(s: Session, with_content_range: bool) -> None:
    data = images.make_layer(103 + with_content_range)
    chunks = [data[:1000], data[1000:30000], data[30000:]]
    response = s.start_upload()
    assert response.status_code == 202
    offset = 0
    for chunk in chunks:
        headers = {"Content-Type": "application/octet-stream"}
        if with_content_range:
            headers["Content-Range"] = f"{offset}-{offset + len(chunk) - 1}"
        response = s.patch(response.headers["Location"], data=chunk, headers=headers)
        assert response.status_code == 202, response.text
        offset += len(chunk)
        assert_session_headers(response, offset)
        status = s.get(response.headers["Location"])
        assert status.status_code == 204, status.text
        assert_session_headers(status, offset)
        assert status.content == b""
    done = s.put(response.headers["Location"], params={"digest": sha256_digest(data)})
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == sha256_digest(data)
    assert s.get(f"blobs/{sha256_digest(data)}").content == data


def test_last_chunk_in_put_body(s: Session) -> None:
    data = images.make_layer(105)
    started = s.start_upload()
    patched = s.patch(started.headers["Location"], data=data[:5000])
    assert patched.status_code == 202
    done = s.put(
        patched.headers["Location"],
        params={"digest": sha256_digest(data)},
        data=data[5000:],
        headers={"Content-Range": f"5000-{len(data) - 1}"},
    )
    assert done.status_code == 201, done.text
    assert s.get(f"blobs/{sha256_digest(data)}").content == data


def test_monolithic_post_with_digest(s: Session) -> None:
    data = images.make_layer(106)
    response = s.post(
        "blobs/uploads/",
        params={"digest": sha256_digest(data)},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == sha256_digest(data)
    assert urlparse(response.headers["Location"]).path.endswith(f"/blobs/{sha256_digest(data)}")
    assert s.get(f"blobs/{sha256_digest(data)}").content == data


def test_monolithic_post_with_wrong_digest(s: Session) -> None:
    data = b"monolithic but wrong"
    claimed = sha256_digest(b"something else")
    response = s.post("blobs/uploads/", params={"digest": claimed}, data=data)
    assert_error(response, 400, "DIGEST_INVALID")
    assert s.head(f"blobs/{claimed}").status_code == 404
    assert s.head(f"blobs/{sha256_digest(data)}").status_code == 404


def test_upload_status_of_a_fresh_session(s: Session) -> None:
    started = s.start_upload()
    status = s.get(started.headers["Location"])
    assert status.status_code == 204
    assert_session_headers(status, 0)


def test_delete_cancels_an_upload(s: Session) -> None:
    started = s.start_upload()
    url = started.headers["Location"]
    s.patch(url, data=b"some bytes")
    cancelled = s.delete(url)
    assert cancelled.status_code == 204, cancelled.text
    assert_error(s.get(url), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(s.patch(url, data=b"more"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(
        s.put(url, params={"digest": sha256_digest(b"some bytes")}), 404, "BLOB_UPLOAD_UNKNOWN"
    )


def test_refused_put_changes_nothing_and_can_be_retried(server: Server, s: Session) -> None:
    """A final chunk whose digest is wrong is not kept: the upload stands where it stood,
    so the same PUT with the right digest completes (the content is never doubled)."""
    started = s.start_upload()
    url = location(server, started)
    patched = s.patch(url, data=b"first half, ")
    assert_session_headers(patched, 12)
    url = location(server, patched)
    wrong = s.put(url, params={"digest": sha256_digest(b"something else")}, data=b"second half")
    assert_error(wrong, 400, "DIGEST_INVALID")
    status = s.get(url)
    assert status.status_code == 204
    assert_session_headers(status, 12)
    whole = b"first half, second half"
    done = s.put(url, params={"digest": sha256_digest(whole)}, data=b"second half")
    assert done.status_code == 201, done.text
    assert s.get(f"blobs/{sha256_digest(whole)}").content == whole


def test_unknown_upload_uuid(s: Session) -> None:
    url = f"blobs/uploads/{uuid.uuid4()}"
    assert_error(s.get(url), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(s.patch(url, data=b"x"), 404, "BLOB_UPLOAD_UNKNOWN")


@pytest.mark.parametrize("in_put_body", [True, False], ids=["put-body", "patched"])
def test_digest_mismatch_on_put(s: Session, in_put_body: bool) -> None:
    data = b"the bytes actually sent" + bytes([in_put_body])
    claimed = sha256_digest(b"the bytes claimed" + bytes([in_put_body]))
    response = s.push_blob(data, claimed, in_put_body=in_put_body)
    assert_error(response, 400, "DIGEST_INVALID")
    head = s.head(f"blobs/{claimed}")
    assert head.status_code == 404 and head.content == b""
    assert_error(s.get(f"blobs/{claimed}"), 404, "BLOB_UNKNOWN")
    # Never stored under the digest of what was sent either.
    assert_error(s.get(f"blobs/{sha256_digest(data)}"), 404, "BLOB_UNKNOWN")


def test_put_without_digest(s: Session) -> None:
    started = s.start_upload()
    response = s.put(started.headers["Location"], data=b"no digest")
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert error_codes(response)
    assert s.head(f"blobs/{sha256_digest(b'no digest')}").status_code == 404


@pytest.mark.parametrize("start", [0, 5, 11, 20])
def test_patch_out_of_order_is_416(s: Session, start: int) -> None:
    started = s.start_upload()
    url = started.headers["Location"]
    first = s.patch(url, data=b"0123456789", headers={"Content-Range": "0-9"})
    assert first.status_code == 202
    chunk = b"abcdefghij"
    response = s.patch(
        url, data=chunk, headers={"Content-Range": f"{start}-{start + len(chunk) - 1}"}
    )
    assert response.status_code == 416, response.text
    # The session survives with its first 10 bytes, and completes.
    status = s.get(url)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-9"
    done = s.put(url, params={"digest": sha256_digest(b"0123456789")})
    assert done.status_code == 201, done.text
    assert s.get(f"blobs/{sha256_digest(b'0123456789')}").content == b"0123456789"


def test_first_patch_not_at_zero_is_416(s: Session) -> None:
    started = s.start_upload()
    response = s.patch(started.headers["Location"], data=b"abc", headers={"Content-Range": "3-5"})
    assert response.status_code == 416, response.text


# --- blobs ----------------------------------------------------------------------------------


def test_blob_head_and_get(s: Session) -> None:
    data = images.make_layer(201)
    digest = sha256_digest(data)
    assert s.push_blob(data).status_code == 201
    head = s.head(f"blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.content == b""
    got = s.get(f"blobs/{digest}")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["Docker-Content-Digest"] == digest
    assert int(got.headers["Content-Length"]) == len(data)


def test_blob_range_get(s: Session) -> None:
    data = images.make_layer(202)
    digest = sha256_digest(data)
    assert s.push_blob(data).status_code == 201
    got = s.get(f"blobs/{digest}", headers={"Range": "bytes=100-1099"})
    assert got.status_code == 206, got.status_code
    assert got.content == data[100:1100]
    assert got.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    tail = s.get(f"blobs/{digest}", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206
    assert tail.content == data[-10:]
    rest = s.get(f"blobs/{digest}", headers={"Range": f"bytes={len(data) - 5}-"})
    assert rest.status_code == 206
    assert rest.content == data[-5:]


def test_unknown_blob(s: Session) -> None:
    digest = sha256_digest(b"never pushed " + uuid.uuid4().bytes)
    assert_error(s.get(f"blobs/{digest}"), 404, "BLOB_UNKNOWN")
    head = s.head(f"blobs/{digest}")
    assert head.status_code == 404 and head.content == b""


def test_blob_of_another_repository_is_not_served(
    server: Server, s: Session, creds: str, ecr
) -> None:  # type: ignore[no-untyped-def]
    data = b"only in the first repository " + uuid.uuid4().bytes
    assert s.push_blob(data).status_code == 201
    other = f"test/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=other)
    assert_error(
        Session(server, other, creds).get(f"blobs/{sha256_digest(data)}"), 404, "BLOB_UNKNOWN"
    )


# --- C10: zero-byte blobs -------------------------------------------------------------------


def test_zero_byte_blob(s: Session) -> None:
    started = s.start_upload()
    assert started.status_code == 202
    done = s.put(started.headers["Location"], params={"digest": EMPTY}, data=b"")
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == EMPTY
    head = s.head(f"blobs/{EMPTY}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "0"
    assert head.headers["Docker-Content-Digest"] == EMPTY
    got = s.get(f"blobs/{EMPTY}")
    assert got.status_code == 200
    assert got.content == b""


def test_zero_byte_blob_monolithic(s: Session) -> None:
    done = s.post("blobs/uploads/", params={"digest": EMPTY}, data=b"")
    assert done.status_code == 201, done.text
    assert s.head(f"blobs/{EMPTY}").headers["Content-Length"] == "0"


def test_manifest_with_zero_byte_config(s: Session) -> None:
    layer = images.Blob(images.OCI_LAYER_GZIP, images.make_layer(301))
    assert s.push_blob(b"").status_code == 201
    assert s.push_blob(layer.data).status_code == 201
    body = images.dump_json(
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_MANIFEST,
            "config": {"mediaType": images.OCI_CONFIG, "digest": EMPTY, "size": 0},
            "layers": [layer.descriptor()],
        }
    )
    put = s.push_manifest(body, images.OCI_MANIFEST, "empty-config")
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == sha256_digest(body)
    got = s.get("manifests/empty-config", headers=ACCEPT)
    assert got.content == body


def test_zero_byte_digest_with_bytes_is_rejected(s: Session) -> None:
    response = s.push_blob(b"x", EMPTY)
    assert_error(response, 400, "DIGEST_INVALID")
    # A fresh repository: the empty blob was never linked here.
    assert_error(s.get(f"blobs/{EMPTY}"), 404, "BLOB_UNKNOWN")
    mono = s.post("blobs/uploads/", params={"digest": EMPTY}, data=b"x")
    assert_error(mono, 400, "DIGEST_INVALID")
    assert s.head(f"blobs/{EMPTY}").status_code == 404
    assert s.head(f"blobs/{sha256_digest(b'x')}").status_code == 404


# --- manifests ------------------------------------------------------------------------------


def _docker_list() -> images.Index:
    return images.docker_manifest_list(
        [
            images.docker_image(401, n_layers=1, architecture="amd64"),
            images.docker_image(402, n_layers=1, architecture="arm64", variant="v8"),
        ]
    )


def _oci_index() -> images.Index:
    return images.oci_index(
        [
            images.oci_image(403, n_layers=1, architecture="amd64"),
            images.oci_image(404, n_layers=2, architecture="arm64", variant="v8"),
        ]
    )


MANIFEST_KINDS = {
    "docker-schema2": lambda: images.docker_image(405, n_layers=2),
    "docker-list": _docker_list,
    "oci-manifest": lambda: images.oci_image(406, n_layers=2),
    "oci-index": _oci_index,
}


def assert_manifest_response(
    response: requests.Response, item: images.Image | images.Index, head: bool = False
) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == item.digest
    assert response.headers["Content-Type"] == item.media_type
    assert response.headers["Content-Length"] == str(len(item.manifest))
    if head:
        assert response.content == b""
    else:
        assert response.content == item.manifest


@pytest.mark.parametrize("kind", list(MANIFEST_KINDS))
def test_manifest_round_trip(s: Session, kind: str) -> None:
    item = MANIFEST_KINDS[kind]()
    put = s.push_image(item, "t1")
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == item.digest
    assert urlparse(put.headers["Location"]).path.endswith(f"/manifests/{item.digest}")
    # The same bytes by digest too (idempotent, same digest).
    again = s.push_manifest(item.manifest, item.media_type, item.digest)
    assert again.status_code == 201, again.text
    assert again.headers["Docker-Content-Digest"] == item.digest

    for reference in ("t1", item.digest):
        got = s.get(f"manifests/{reference}", headers=ACCEPT)
        assert_manifest_response(got, item)
        head = s.head(f"manifests/{reference}", headers=ACCEPT)
        assert_manifest_response(head, item, head=True)
        for name in ("Content-Type", "Docker-Content-Digest", "Content-Length"):
            assert head.headers[name] == got.headers[name]
    for child in getattr(item, "images", []):
        assert_manifest_response(s.get(f"manifests/{child.digest}", headers=ACCEPT), child)
    assert s.get("tags/list").json()["tags"] == ["t1"]


def test_manifest_missing_blob(s: Session) -> None:
    image = images.oci_image(501, n_layers=2)
    s.push_blobs([image.config.data, image.layers[0].data])  # the second layer is missing
    response = s.push_manifest(image.manifest, image.media_type, "missing")
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert image.layers[1].digest in response.text
    assert_error(s.get("manifests/missing", headers=ACCEPT), 404, "MANIFEST_UNKNOWN")
    assert_error(s.get(f"manifests/{image.digest}", headers=ACCEPT), 404, "MANIFEST_UNKNOWN")


def test_index_missing_child(s: Session) -> None:
    index = _oci_index()
    assert s.push_image(index.images[0]).status_code == 201
    response = s.push_manifest(index.manifest, index.media_type, "partial")
    assert response.status_code == 400, response.text
    assert error_codes(response)
    assert index.images[1].digest in response.text
    assert s.head("manifests/partial", headers=ACCEPT).status_code == 404


def test_manifest_digest_mismatch(s: Session) -> None:
    image = images.oci_image(502, n_layers=1)
    s.push_blobs([b.data for b in image.blobs])
    wrong = sha256_digest(image.manifest + b" ")
    response = s.push_manifest(image.manifest, image.media_type, wrong)
    assert_error(response, 400, "DIGEST_INVALID")
    assert s.head(f"manifests/{wrong}", headers=ACCEPT).status_code == 404
    assert s.head(f"manifests/{image.digest}", headers=ACCEPT).status_code == 404


@pytest.mark.parametrize("body", [b"not json", b"{", b"", b"[1, 2]"], ids=repr)
def test_manifest_not_json(s: Session, body: bytes) -> None:
    response = s.push_manifest(body, images.OCI_MANIFEST, "bad")
    assert_error(response, 400, "MANIFEST_INVALID")
    assert s.get("tags/list").json()["tags"] == []


_ZERO = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    "obj",
    [
        None,
        {"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "layers": []},
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_MANIFEST,
            "config": {"mediaType": images.OCI_CONFIG, "digest": "sha256:zz", "size": 1},
            "layers": [],
        },
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_MANIFEST,
            "config": {"mediaType": images.OCI_CONFIG, "digest": _ZERO, "size": "big"},
            "layers": [],
        },
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_MANIFEST,
            "config": {"mediaType": images.OCI_CONFIG, "digest": _ZERO, "size": 1},
            "layers": 5,
        },
    ],
    ids=["null", "no-config", "bad-digest", "bad-size", "layers-not-a-list"],
)
def test_manifest_malformed(s: Session, obj: object) -> None:
    response = s.push_manifest(json.dumps(obj).encode(), images.OCI_MANIFEST, "bad")
    assert_error(response, 400, "MANIFEST_INVALID")
    assert s.get("tags/list").json()["tags"] == []


def test_unknown_manifest(s: Session) -> None:
    assert_error(s.get("manifests/nope", headers=ACCEPT), 404, "MANIFEST_UNKNOWN")
    missing = sha256_digest(b"no such manifest")
    assert_error(s.get(f"manifests/{missing}", headers=ACCEPT), 404, "MANIFEST_UNKNOWN")
    head = s.head("manifests/nope", headers=ACCEPT)
    assert head.status_code == 404 and head.content == b""


def test_manifest_put_keeps_exact_bytes_not_reserialised(s: Session) -> None:
    image = images.oci_image(503, n_layers=1)
    s.push_blobs([b.data for b in image.blobs])
    compact = json.dumps(json.loads(image.manifest), separators=(",", ":")).encode() + b"\n"
    put = s.push_manifest(compact, image.media_type, "compact")
    assert put.status_code == 201
    assert put.headers["Docker-Content-Digest"] == sha256_digest(compact)
    assert s.get("manifests/compact", headers=ACCEPT).content == compact


# --- names, aliases, repositories -----------------------------------------------------------


def test_push_into_missing_repository(server: Server, creds: str, ecr) -> None:  # type: ignore[no-untyped-def]
    name = f"test/missing-{uuid.uuid4().hex[:12]}"
    s = Session(server, name, creds)
    assert_error(s.start_upload(), 404, "NAME_UNKNOWN")
    data = b"bytes for nobody"
    assert_error(
        s.post("blobs/uploads/", params={"digest": sha256_digest(data)}, data=data),
        404,
        "NAME_UNKNOWN",
    )
    image = images.oci_image(601, n_layers=0)
    assert_error(s.push_manifest(image.manifest, image.media_type, "v1"), 404, "NAME_UNKNOWN")
    assert_error(s.get("tags/list"), 404, "NAME_UNKNOWN")
    assert_error(s.get("manifests/v1", headers=ACCEPT), 404, "NAME_UNKNOWN")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[name])


def test_unknown_alias(server: Server, repository: str, creds: str) -> None:
    alias = f"nosuch{uuid.uuid4().hex[:8]}"
    anon = Session(server, repository, alias=alias)
    assert_error(anon.get("tags/list"), 404, "NAME_UNKNOWN")
    assert_error(anon.get("manifests/latest", headers=ACCEPT), 404, "NAME_UNKNOWN")
    assert_error(anon.get(f"blobs/{EMPTY}"), 404, "NAME_UNKNOWN")
    # Credentials for the default account do not make another alias exist.
    direct = requests.get(
        f"{server.url}/v2/{alias}/{repository}/tags/list",
        auth=tuple(creds.split(":")),
        timeout=10,
    )
    assert_error(direct, 404, "NAME_UNKNOWN")


def test_invalid_repository_name_on_v2(server: Server, creds: str) -> None:
    for session in (Session(server, "MyRepo"), Session(server, "MyRepo", creds)):
        response = session.get("tags/list")
        assert 400 <= response.status_code < 500, response.status_code
        assert response.status_code != 401
        assert error_codes(response), response.text
    raw = requests.get(f"{server.url}/v2/{server.alias}/MyRepo/tags/list", timeout=10)
    assert 400 <= raw.status_code < 500
    assert error_codes(raw)


# --- tags -----------------------------------------------------------------------------------


def test_tags_list(server: Server, s: Session, repository: str) -> None:
    empty = s.get("tags/list")
    assert empty.status_code == 200
    assert empty.json() == {"name": f"{server.alias}/{repository}", "tags": []}
    image = images.oci_image(701, n_layers=1)
    tags = ["v2", "latest", "1.2", "1.10", "1.0", "B", "a_b"]
    for tag in tags:
        assert s.push_image(image, tag).status_code == 201
    other = images.docker_image(702, n_layers=1)
    assert s.push_image(other, "other").status_code == 201
    response = s.get("tags/list")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "name": f"{server.alias}/{repository}",
        "tags": sorted([*tags, "other"]),
    }
    # Anonymous pull sees the same list.
    assert Session(server, repository).get("tags/list").json() == response.json()


# --- deletes --------------------------------------------------------------------------------


def test_delete_manifest_by_tag_removes_only_the_tag(s: Session) -> None:
    image = images.oci_image(801, n_layers=1)
    assert s.push_image(image, "a").status_code == 201
    assert s.push_manifest(image.manifest, image.media_type, "b").status_code == 201
    response = s.delete("manifests/a")
    assert response.status_code == 202, response.text
    assert_error(s.get("manifests/a", headers=ACCEPT), 404, "MANIFEST_UNKNOWN")
    assert_manifest_response(s.get("manifests/b", headers=ACCEPT), image)
    assert_manifest_response(s.get(f"manifests/{image.digest}", headers=ACCEPT), image)
    assert s.get("tags/list").json()["tags"] == ["b"]
    assert_error(s.delete("manifests/a"), 404, "MANIFEST_UNKNOWN")


def test_delete_manifest_by_digest_removes_image_and_tags(
    server: Server, s: Session, repository: str, ecr
) -> None:  # type: ignore[no-untyped-def]
    image = images.oci_image(802, n_layers=1)
    keep = images.oci_image(803, n_layers=1)
    assert s.push_image(image, "a").status_code == 201
    assert s.push_manifest(image.manifest, image.media_type, "b").status_code == 201
    assert s.push_image(keep, "keep").status_code == 201
    response = s.delete(f"manifests/{image.digest}")
    assert response.status_code == 202, response.text
    for reference in ("a", "b", image.digest):
        assert_error(s.get(f"manifests/{reference}", headers=ACCEPT), 404, "MANIFEST_UNKNOWN")
    assert s.get("tags/list").json()["tags"] == ["keep"]
    assert_manifest_response(s.get("manifests/keep", headers=ACCEPT), keep)
    digests = [
        d["imageDigest"] for d in ecr.describe_images(repositoryName=repository)["imageDetails"]
    ]
    assert digests == [keep.digest]
    assert_error(s.delete(f"manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN")


def test_anonymous_delete_is_refused(server: Server, s: Session, repository: str) -> None:
    image = images.oci_image(804, n_layers=1)
    assert s.push_image(image, "a").status_code == 201
    anon = Session(server, repository, actions="pull,delete")
    response = anon.delete(f"manifests/{image.digest}")
    assert response.status_code in (401, 403), response.text
    assert_manifest_response(s.get("manifests/a", headers=ACCEPT), image)


# --- no 500s on odd input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "blobs/sha256:xyz"),
        ("GET", "blobs/notadigest"),
        ("HEAD", "blobs/sha256:" + "0" * 63),
        ("GET", "manifests/-bad-tag"),
        ("GET", "manifests/sha256:tooshort"),
        ("PUT", "manifests/" + "t" * 129),
        ("GET", "blobs/uploads/not-a-uuid"),
        ("PUT", "blobs/uploads/not-a-uuid?digest=sha256:abc"),
        ("PATCH", "tags/list"),
        ("GET", "nonsense/path"),
    ],
)
def test_odd_requests_get_json_4xx(s: Session, method: str, path: str) -> None:
    response = s.request(method, path, data=b"{}", headers=ACCEPT)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if method != "HEAD":
        assert response.headers["Content-Type"].startswith("application/json")
        assert error_codes(response)
