"""SigV4 on the control plane: `--auth strict` against a credentials file, and
open mode's rules. Requests are signed by botocore itself (header auth through
boto3, query-string presigning through botocore's SigV4QueryAuth); only the
client's clock is moved, to probe the skew window."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import Server, aws, start_server
from support.stores import Store

ALICE = ("AKIAALICE", "alice-secret", "111122223333")
BOB = ("ASIABOB", "bob-secret", "444455556666")
BOB_TOKEN = "bob-session-token"
KEYS_TOML = f"""
[[credentials]]
access_key_id = "{ALICE[0]}"
secret_access_key = "{ALICE[1]}"
account_id = "{ALICE[2]}"
principal_arn = "arn:aws:iam::{ALICE[2]}:user/alice"

[[credentials]]
access_key_id = "{BOB[0]}"
secret_access_key = "{BOB[1]}"
account_id = "{BOB[2]}"
session_token = "{BOB_TOKEN}"
"""
JSON = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def strict(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("strict")
    keys = root / "keys.toml"
    keys.write_text(KEYS_TOML)
    srv = start_server(
        root / "data", None, "--auth", "strict", "--credentials", str(keys), store=new_store()
    )
    yield srv
    srv.stop()


def client(server: Server, key: tuple[str, str, str], token: str | None = None) -> Any:
    return boto3.client(
        "ecr-public",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        aws_session_token=token,
    )


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def repositories(server: Server) -> set[str]:
    """Every repository of both accounts, read with valid keys."""
    names: set[str] = set()
    for ecr in (client(server, ALICE), client(server, BOB, BOB_TOKEN)):
        for page in ecr.get_paginator("describe_repositories").paginate():
            names |= {r["repositoryName"] for r in page["repositories"]}
    return names


def signed(
    server: Server,
    key: tuple[str, str, str],
    *,
    operation: str = "DescribeRegistries",
    body: bytes = b"{}",
    skew: timedelta = timedelta(0),
    token: str | None = None,
    presign_expires: int | None = None,
    service: str = "ecr-public",
) -> requests.Response:
    """Sign one request with botocore's signer at (client clock + skew) and send it."""
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=body if presign_expires is None else b"",
        headers={"X-Amz-Target": f"SpencerFrontendService.{operation}", "Content-Type": JSON},
    )
    credentials = Credentials(key[0], key[1], token)
    signer = (
        botocore.auth.SigV4Auth(credentials, service, "us-east-1")
        if presign_expires is None
        else botocore.auth.SigV4QueryAuth(credentials, service, "us-east-1", presign_expires)
    )
    moment = datetime.now(UTC).replace(tzinfo=None) + skew
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: moment):
        signer.add_auth(request)
    prepared = request.prepare()
    return requests.post(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=30
    )


def refusal(response: requests.Response) -> tuple[str, str, int]:
    body = response.json()
    assert response.headers["Content-Type"] == JSON
    return body["__type"], body["message"], response.status_code


# --- accepted ------------------------------------------------------------------------------------


def test_header_auth_names_the_configured_account(strict: Server) -> None:
    registries = client(strict, ALICE).describe_registries()["registries"]
    assert [r["registryId"] for r in registries] == [ALICE[2]]
    bob = client(strict, BOB, BOB_TOKEN).describe_registries()["registries"]
    assert [r["registryId"] for r in bob] == [BOB[2]]
    assert registries[0]["aliases"][0]["name"] != bob[0]["aliases"][0]["name"]


def test_accounts_see_only_their_own_registry_alias_and_repositories(strict: Server) -> None:
    alice, bob = client(strict, ALICE), client(strict, BOB, BOB_TOKEN)
    name = f"own/{uuid.uuid4().hex[:8]}"
    made = alice.create_repository(repositoryName=name)["repository"]
    assert made["registryId"] == ALICE[2]
    assert made["repositoryArn"] == f"arn:aws:ecr-public::{ALICE[2]}:repository/{name}"
    alice_alias = alice.describe_registries()["registries"][0]["aliases"][0]["name"]
    assert made["repositoryUri"].endswith(f"/{alice_alias}/{name}")

    listed = {r["repositoryName"] for r in bob.describe_repositories()["repositories"]}
    assert name not in listed
    code, _, _ = error_of(lambda: bob.describe_repositories(repositoryNames=[name]))
    assert code == "RepositoryNotFoundException"
    code, message, _ = error_of(lambda: bob.get_repository_catalog_data(repositoryName=name))
    assert code == "RepositoryNotFoundException" and BOB[2] in message
    # Bob may make his own repository of the same name.
    theirs = bob.create_repository(repositoryName=name)["repository"]
    assert theirs["registryId"] == BOB[2] and theirs["repositoryUri"] != made["repositoryUri"]
    # Alice's display name is hers only.
    alice.put_registry_catalog_data(displayName="Alice")
    assert bob.get_registry_catalog_data()["registryCatalogData"].get("displayName") != "Alice"


@pytest.mark.parametrize("expires", [604801, 10**20, -5])
def test_presigned_expiry_out_of_sigv4_bounds_is_refused(strict: Server, expires: int) -> None:
    answer = signed(strict, ALICE, presign_expires=expires)
    code, message, status = refusal(answer)
    assert (code, status) == ("IncompleteSignatureException", 400)
    assert "less than a week" in message


def test_presigned_query_string(strict: Server) -> None:
    answer = signed(strict, ALICE, presign_expires=300)
    assert answer.status_code == 200, answer.text
    assert [r["registryId"] for r in answer.json()["registries"]] == [ALICE[2]]
    with_token = signed(strict, BOB, presign_expires=300, token=BOB_TOKEN)
    assert with_token.status_code == 200, with_token.text
    assert "X-Amz-Security-Token" in with_token.request.url  # type: ignore[operator]


@pytest.mark.parametrize("minutes", [-4, 4])
def test_clock_skew_within_five_minutes_is_accepted(strict: Server, minutes: int) -> None:
    answer = signed(strict, ALICE, skew=timedelta(minutes=minutes))
    assert answer.status_code == 200, answer.text


# --- refused -------------------------------------------------------------------------------------


def test_unknown_access_key(strict: Server) -> None:
    before = repositories(strict)
    ecr = client(strict, ("AKIAUNKNOWN", "whatever", ""))
    code, message, status = error_of(lambda: ecr.create_repository(repositoryName="nope"))
    assert (code, status) == ("UnrecognizedClientException", 400)
    assert message == "The security token included in the request is invalid."
    assert repositories(strict) == before


def test_wrong_secret(strict: Server) -> None:
    before = repositories(strict)
    ecr = client(strict, (ALICE[0], "not-the-secret", ""))
    code, message, status = error_of(lambda: ecr.create_repository(repositoryName="nope"))
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("The request signature we calculated does not match")
    assert repositories(strict) == before


def test_tampered_body_breaks_the_signature(strict: Server) -> None:
    request = AWSRequest(
        method="POST",
        url=strict.url + "/",
        data=b'{"repositoryName":"signed"}',
        headers={"X-Amz-Target": "SpencerFrontendService.CreateRepository", "Content-Type": JSON},
    )
    botocore.auth.SigV4Auth(Credentials(ALICE[0], ALICE[1]), "ecr-public", "us-east-1").add_auth(
        request
    )
    headers = dict(request.prepare().headers)
    answer = requests.post(strict.url, data=b'{"repositoryName":"tampered"}', headers=headers)
    assert refusal(answer)[0] == "InvalidSignatureException"
    assert "tampered" not in repositories(strict)


def test_wrong_service_in_scope(strict: Server) -> None:
    code, message, status = refusal(signed(strict, ALICE, service="ecr"))
    assert (code, status) == ("InvalidSignatureException", 400)
    assert "ecr-public" in message


def test_missing_authentication(strict: Server) -> None:
    answer = requests.post(
        strict.url,
        data=b'{"repositoryName":"unsigned"}',
        headers={"X-Amz-Target": "SpencerFrontendService.CreateRepository", "Content-Type": JSON},
    )
    code, message, status = refusal(answer)
    assert (code, message, status) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
        400,
    )
    assert "unsigned" not in repositories(strict)


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA256 Credential=AKIAALICE/20260101/us-east-1/ecr-public/aws4_request",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + "0" * 64,
        "Basic YWxpY2U6c2VjcmV0",
    ],
)
def test_incomplete_signature(strict: Server, header: str) -> None:
    answer = requests.post(
        strict.url,
        data=b"{}",
        headers={
            "X-Amz-Target": "SpencerFrontendService.DescribeRegistries",
            "Content-Type": JSON,
            "Authorization": header,
        },
    )
    code, _, status = refusal(answer)
    assert (code, status) == ("IncompleteSignatureException", 400)


@pytest.mark.parametrize(
    ("minutes", "start"),
    [(-6, "Signature expired: "), (6, "Signature not yet current: ")],
)
def test_clock_skew_beyond_five_minutes(strict: Server, minutes: int, start: str) -> None:
    code, message, status = refusal(signed(strict, ALICE, skew=timedelta(minutes=minutes)))
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith(start)


def test_expired_presigned_url(strict: Server) -> None:
    code, message, status = refusal(
        signed(strict, ALICE, presign_expires=60, skew=timedelta(minutes=-2))
    )
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("Signature expired: ")


def test_presigned_with_wrong_secret(strict: Server) -> None:
    code, _, status = refusal(signed(strict, (ALICE[0], "nope", ""), presign_expires=300))
    assert (code, status) == ("InvalidSignatureException", 400)


@pytest.mark.parametrize("token", [None, "not-bobs-token"])
def test_security_token_required_when_configured(strict: Server, token: str | None) -> None:
    before = repositories(strict)
    ecr = client(strict, BOB, token)
    code, message, status = error_of(lambda: ecr.create_repository(repositoryName="bobs"))
    assert (code, status) == ("UnrecognizedClientException", 400)
    assert message == "The security token included in the request is invalid."
    assert repositories(strict) == before
    code, _, _ = refusal(signed(strict, BOB, presign_expires=300, token=token))
    assert code == "UnrecognizedClientException"


def test_cli_with_strict_keys(strict: Server) -> None:
    def run(key: tuple[str, str, str]) -> Any:
        env = {"AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1]}
        return aws(strict, "describe-registries", env=env)

    ok = run(ALICE)
    assert ok.returncode == 0, ok.stderr
    assert '"registryId": "111122223333"' in ok.stdout
    refused = run((ALICE[0], "wrong", ""))
    assert refused.returncode == 255
    assert "(InvalidSignatureException) when calling the DescribeRegistries operation" in (
        refused.stderr
    )


# --- open mode -----------------------------------------------------------------------------------


def test_open_mode_accepts_any_well_formed_signature(server: Server) -> None:
    ecr = client(server, ("AKIDANYTHING", "any-secret-at-all", ""))
    assert ecr.describe_registries()["registries"][0]["registryId"] == server.account_id
    answer = signed(server, ("AKIDX", "y"), presign_expires=60)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text


def test_open_mode_twelve_digit_key_is_the_account(server: Server) -> None:
    for key, account in [
        ("210987654321", "210987654321"),
        ("21098765432", server.account_id),  # 11 digits
        ("2109876543210", server.account_id),  # 13 digits
        ("AKIA21098765", server.account_id),
    ]:
        ecr = client(server, (key, "s", ""))
        assert ecr.describe_registries()["registries"][0]["registryId"] == account, key


def test_open_mode_still_needs_a_signature(server: Server) -> None:
    answer = requests.post(
        server.url,
        data=b"{}",
        headers={"X-Amz-Target": "SpencerFrontendService.DescribeRegistries"},
    )
    assert refusal(answer)[0] == "MissingAuthenticationTokenException"
