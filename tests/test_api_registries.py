"""DescribeRegistries, GetAuthorizationToken (C7) and the AWS JSON 1.1 protocol's own errors."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import aws
from support import ecr as api

DEFAULT_ACCOUNT = "123456789012"
AMZ_JSON = "application/x-amz-json-1.1"
SIGNATURE = "0123456789abcdef" * 4
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/ecr-public/aws4_request, "
    f"SignedHeaders=host, Signature={SIGNATURE}"
)


def raw_call(
    server,  # type: ignore[no-untyped-def]
    target: str | None,
    body: bytes = b"{}",
    authorization: str | None = AUTHORIZATION,
) -> requests.Response:
    """One hand-made control-plane request, signed-looking unless told otherwise."""
    headers = {"Content-Type": AMZ_JSON, "X-Amz-Date": "20261203T183033Z"}
    if target is not None:
        headers["X-Amz-Target"] = target
    if authorization is not None:
        headers["Authorization"] = authorization
    return requests.post(f"{server.url}/", data=body, headers=headers, timeout=10)


def expect_aws_error(response: requests.Response, code: str, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(AMZ_JSON)
    body = response.json()
    assert body["__type"].rsplit("#", 1)[-1] == code, body
    assert isinstance(body.get("message", body.get("Message")), str)
    return body


def decode_token(token: str) -> tuple[str, str]:
    user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
    assert sep == ":"
    return user, password


def login_can_push(server, repository: str, password: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether `password` logs in well enough to start a blob upload over /v2."""
    token = api.pull_token(server, repository, "pull,push", password=password)
    response = requests.post(
        f"{server.v2(repository)}/blobs/uploads/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.status_code == 202


# --- DescribeRegistries --------------------------------------------------------------------------


def test_describe_registries_default(server, ecr) -> None:  # type: ignore[no-untyped-def]
    answer = ecr.describe_registries()
    assert "nextToken" not in answer
    (registry,) = answer["registries"]
    assert registry == {
        "registryId": DEFAULT_ACCOUNT,
        "registryArn": f"arn:aws:ecr-public::{DEFAULT_ACCOUNT}:registry/{DEFAULT_ACCOUNT}",
        "registryUri": f"{server.host}/berth",
        "verified": False,
        "aliases": [
            {
                "name": "berth",
                "status": "ACTIVE",
                "primaryRegistryAlias": True,
                "defaultRegistryAlias": True,
            }
        ],
    }


def test_account_key_gets_its_own_registry_and_alias(server, ecr) -> None:  # type: ignore[no-untyped-def]
    key = api.new_account_key()
    client = server.ecr(access_key=key)
    (registry,) = client.describe_registries()["registries"]
    assert registry["registryId"] == key
    assert registry["registryArn"] == f"arn:aws:ecr-public::{key}:registry/{key}"
    (alias,) = registry["aliases"]
    assert alias["name"] != "berth"
    assert re.fullmatch(r"[a-z][a-z0-9]+", alias["name"]), alias
    assert 2 <= len(alias["name"]) <= 50
    assert alias["status"] == "ACTIVE"
    assert alias["primaryRegistryAlias"] is True
    assert alias["defaultRegistryAlias"] is True
    assert registry["registryUri"] == f"{server.host}/{alias['name']}"
    assert registry["verified"] is False

    # The alias is stable, and it is the one the account's repositories live under.
    assert client.describe_registries()["registries"] == [registry]
    repo = client.create_repository(repositoryName="own/app")["repository"]
    assert repo["registryId"] == key
    assert repo["repositoryUri"] == f"{server.host}/{alias['name']}/own/app"
    assert repo["repositoryArn"] == f"arn:aws:ecr-public::{key}:repository/own/app"
    # The default account still sees only its own registry.
    assert ecr.describe_registries()["registries"][0]["registryId"] == DEFAULT_ACCOUNT


def test_two_accounts_get_different_aliases(server) -> None:  # type: ignore[no-untyped-def]
    first = server.ecr(access_key=api.new_account_key()).describe_registries()["registries"][0]
    second = server.ecr(access_key=api.new_account_key()).describe_registries()["registries"][0]
    assert first["registryId"] != second["registryId"]
    assert first["aliases"][0]["name"] != second["aliases"][0]["name"]


def test_non_numeric_access_key_is_the_default_account(server) -> None:  # type: ignore[no-untyped-def]
    client = server.ecr(access_key="AKIAEXAMPLEOTHERKEY")
    assert client.describe_registries()["registries"][0]["registryId"] == DEFAULT_ACCOUNT


# --- GetAuthorizationToken (C7) ------------------------------------------------------------------


def test_authorization_token_shape(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    before = datetime.now(UTC)
    data = ecr.get_authorization_token()["authorizationData"]
    assert set(data) == {"authorizationToken", "expiresAt"}
    token = data["authorizationToken"]
    assert re.fullmatch(r"\S+", token)
    decoded = base64.b64decode(token, validate=True).decode()
    assert decoded.count(":") == 1  # what `aws ecr-public get-login-password` splits on
    user, password = decoded.split(":")
    assert user == "AWS"
    assert password
    assert isinstance(data["expiresAt"], datetime)
    lifetime = data["expiresAt"] - before
    assert timedelta(hours=12) - timedelta(minutes=2) < lifetime < timedelta(hours=12, minutes=2)
    # The password is a working login.
    assert login_can_push(server, repository, password)


def test_bad_password_is_refused_by_the_token_service(server, repository) -> None:  # type: ignore[no-untyped-def]
    response = requests.get(
        f"{server.url}/token",
        params={"scope": f"repository:berth/{repository}:pull,push", "service": "berth"},
        auth=("AWS", "not-a-password"),
        timeout=10,
    )
    assert response.status_code == 401
    # Anonymous callers may pull, never push.
    token = api.pull_token(server, repository, "pull,push")
    upload = requests.post(
        f"{server.v2(repository)}/blobs/uploads/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert upload.status_code in (401, 403)


def test_cli_get_login_password(server, repository) -> None:  # type: ignore[no-untyped-def]
    result = aws(server, "get-login-password")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")
    password = result.stdout.strip()
    assert password and ":" not in password and "\n" not in password
    assert login_can_push(server, repository, password)


def test_cli_get_authorization_token(server) -> None:  # type: ignore[no-untyped-def]
    result = aws(server, "get-authorization-token")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)["authorizationData"]
    user, password = decode_token(data["authorizationToken"])
    assert user == "AWS" and ":" not in password
    # The CLI prints timestamps as epoch seconds or ISO 8601, depending on its configuration.
    raw = data["expiresAt"]
    if isinstance(raw, int | float):
        expires = datetime.fromtimestamp(raw, UTC)
    else:
        expires = datetime.fromisoformat(raw)
    assert expires.tzinfo is not None
    assert abs(expires - datetime.now(UTC) - timedelta(hours=12)) < timedelta(minutes=2)


def test_authorization_token_only_in_us_east_1(server) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        server.ecr(region="us-west-2").get_authorization_token()
    assert api.error_code(info.value) == "UnsupportedCommandException"
    assert info.value.response["Error"]["Message"] == (
        "GetAuthorizationToken command is only supported in us-east-1."
    )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_cli_get_login_password_in_us_west_2(server) -> None:  # type: ignore[no-untyped-def]
    result = aws(server, "get-login-password", region="us-west-2")
    assert result.returncode in (254, 255)
    assert "UnsupportedCommandException" in result.stderr
    assert "only supported in us-east-1" in result.stderr
    assert result.stdout == ""


# --- protocol errors -----------------------------------------------------------------------------


def test_success_response_headers(server) -> None:  # type: ignore[no-untyped-def]
    response = raw_call(server, "SpencerFrontendService.DescribeRegistries")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(AMZ_JSON)
    uuid.UUID(response.headers["x-amzn-RequestId"])
    assert response.json()["registries"][0]["registryId"] == DEFAULT_ACCOUNT


@pytest.mark.parametrize(
    "target",
    [
        "SpencerFrontendService.NoSuchOperation",
        "SpencerFrontendService.GetPremiumRepositoryCatalogData",
        "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        "SpencerFrontendService.",
        "DescribeRepositories",
    ],
)
def test_unknown_target(server, target: str) -> None:  # type: ignore[no-untyped-def]
    expect_aws_error(raw_call(server, target), "UnknownOperationException")


def test_missing_target(server) -> None:  # type: ignore[no-untyped-def]
    expect_aws_error(raw_call(server, None), "UnknownOperationException")


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"repositoryName": "ab"', b"\xff\xfe{}", b'{"a": 1} trailing']
)
def test_malformed_json_is_serialization_exception(server, body: bytes) -> None:  # type: ignore[no-untyped-def]
    response = raw_call(server, "SpencerFrontendService.DescribeRepositories", body)
    expect_aws_error(response, "SerializationException")


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_json_that_is_not_an_object_is_a_client_error(server, body: bytes) -> None:  # type: ignore[no-untyped-def]
    response = raw_call(server, "SpencerFrontendService.DescribeRepositories", body)
    assert response.status_code == 400, response.text
    assert response.json()["__type"] in {"SerializationException", "InvalidParameterException"}


def test_wrong_member_types_are_client_errors(server) -> None:  # type: ignore[no-untyped-def]
    for body in (
        {"repositoryNames": "not-a-list"},
        {"maxResults": "ten"},
        {"repositoryNames": [42]},
    ):
        response = raw_call(
            server, "SpencerFrontendService.DescribeRepositories", json.dumps(body).encode()
        )
        assert response.status_code == 400, (body, response.text)
        assert response.json()["__type"] in {"SerializationException", "InvalidParameterException"}


def test_missing_authorization_header(server) -> None:  # type: ignore[no-untyped-def]
    response = raw_call(server, "SpencerFrontendService.DescribeRegistries", authorization=None)
    expect_aws_error(response, "MissingAuthenticationTokenException")


def test_malformed_authorization_header(server) -> None:  # type: ignore[no-untyped-def]
    response = raw_call(
        server, "SpencerFrontendService.DescribeRegistries", authorization="Bearer something"
    )
    assert 400 <= response.status_code < 500
    assert "registries" not in response.json()
