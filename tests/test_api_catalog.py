"""Catalog data, repository policies and resource tags through boto3 and the aws
CLI. Every refused call is checked to have changed nothing."""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import Server, aws


def png(width: int, height: int) -> bytes:
    """A real, minimal greyscale PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def arn(server: Server, name: str) -> str:
    return f"arn:aws:ecr-public::{server.account_id}:repository/{name}"


# --- catalog data --------------------------------------------------------------------------------

FULL = {
    "description": "A small image",
    "aboutText": "# About\n\nMarkdown *text*.",
    "usageText": "`docker run it`",
    "architectures": ["ARM", "ARM 64", "x86", "x86-64"],
    "operatingSystems": ["Linux", "Windows"],
}


def test_plain_repository_has_empty_catalog_data(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    data = ecr.get_repository_catalog_data(repositoryName=repository)["catalogData"]
    assert data == {"marketplaceCertified": False}


def test_put_and_get_every_member_and_the_logo(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    logo = png(64, 64)
    put = ecr.put_repository_catalog_data(
        repositoryName=repository, catalogData={**FULL, "logoImageBlob": logo}
    )["catalogData"]
    got = ecr.get_repository_catalog_data(repositoryName=repository)["catalogData"]
    assert put == got
    assert {k: got[k] for k in FULL} == FULL
    assert got["marketplaceCertified"] is False
    assert "logoImageBlob" not in got
    served = requests.get(got["logoUrl"], timeout=10)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.content == logo
    # Content-addressed: the same bytes in another repository give the same URL.
    other = f"test/{uuid.uuid4().hex[:12]}"
    made = ecr.create_repository(repositoryName=other, catalogData={"logoImageBlob": logo})
    assert made["catalogData"]["logoUrl"] == got["logoUrl"]
    # An empty blob removes the logo; other members stay.
    cleared = ecr.put_repository_catalog_data(
        repositoryName=repository, catalogData={"logoImageBlob": b""}
    )["catalogData"]
    assert "logoUrl" not in cleared and cleared["description"] == FULL["description"]


def test_unknown_logo_url_is_404(server) -> None:  # type: ignore[no-untyped-def]
    assert requests.get(f"{server.url}/logo/{'0' * 64}.png", timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"GIF89a" + b"\x00" * 100, "must be a PNG"),
        (png(59, 64), "between 60x60 and 2048x2048"),
        (png(64, 2049), "between 60x60 and 2048x2048"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 512_000, "less than or equal to 512000"),
    ],
    ids=["not-png", "too-narrow", "too-tall", "too-big"],
)
def test_bad_logo_is_refused_and_changes_nothing(ecr, repository, blob: bytes, reason: str) -> None:  # type: ignore[no-untyped-def]
    before = ecr.put_repository_catalog_data(
        repositoryName=repository, catalogData={"description": "before"}
    )["catalogData"]
    code, message = error_of(
        lambda: ecr.put_repository_catalog_data(
            repositoryName=repository, catalogData={"description": "after", "logoImageBlob": blob}
        )
    )
    assert code == "InvalidParameterException"
    assert message.startswith("Invalid parameter at 'catalogData.logoImageBlob'")
    assert reason in message
    assert ecr.get_repository_catalog_data(repositoryName=repository)["catalogData"] == before


@pytest.mark.parametrize(
    ("catalog", "member", "constraint"),
    [
        ({"architectures": ["x"] * 51}, "catalogData.architectures", "less than or equal to 50"),
        (
            {"architectures": ["x" * 51]},
            "catalogData.architectures.1.member",
            "less than or equal to 50",
        ),
        (
            {"operatingSystems": [""]},
            "catalogData.operatingSystems.1.member",
            "greater than or equal to 1",
        ),
        ({"description": "d" * 1025}, "catalogData.description", "less than or equal to 1024"),
        ({"aboutText": "a" * 25601}, "catalogData.aboutText", "less than or equal to 25600"),
        ({"usageText": "u" * 25601}, "catalogData.usageText", "less than or equal to 25600"),
    ],
)
def test_catalog_limits(ecr, repository, catalog: dict, member: str, constraint: str) -> None:  # type: ignore[no-untyped-def]
    # botocore checks minimums itself; the server must refuse the rest (and these).
    client = _unvalidated(ecr)
    code, message = error_of(
        lambda: client.put_repository_catalog_data(repositoryName=repository, catalogData=catalog)
    )
    assert code == "InvalidParameterException"
    assert message.startswith(f"Invalid parameter at '{member}' failed to satisfy constraint:")
    assert constraint in message
    assert ecr.get_repository_catalog_data(repositoryName=repository)["catalogData"] == {
        "marketplaceCertified": False
    }


def _unvalidated(ecr: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ecr-public",
        endpoint_url=ecr.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDBERTHTEST",
        aws_secret_access_key="x",
        config=Config(parameter_validation=False),
    )


def test_catalog_of_missing_repository(ecr) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: ecr.get_repository_catalog_data(repositoryName="no/such"),
        lambda: ecr.put_repository_catalog_data(repositoryName="no/such", catalogData={}),
    ):
        assert error_of(call)[0] == "RepositoryNotFoundException"


def test_registry_display_name(server) -> None:  # type: ignore[no-untyped-def]
    ecr = server.ecr(access_key="555566667777")  # an account of its own
    assert ecr.get_registry_catalog_data()["registryCatalogData"] == {}
    put = ecr.put_registry_catalog_data(displayName="Berth Test")["registryCatalogData"]
    assert put == {"displayName": "Berth Test"}
    assert ecr.get_registry_catalog_data()["registryCatalogData"] == put
    code, message = error_of(
        lambda: _unvalidated(ecr).put_registry_catalog_data(displayName="n" * 101)
    )
    assert code == "InvalidParameterException" and "'displayName'" in message
    # _unvalidated signs as the default account; check this account is unchanged.
    assert ecr.get_registry_catalog_data()["registryCatalogData"] == put
    assert ecr.put_registry_catalog_data(displayName="")["registryCatalogData"] == {}


def test_create_repository_with_catalog_data_and_tags(server, ecr) -> None:  # type: ignore[no-untyped-def]
    name = f"test/{uuid.uuid4().hex[:12]}"
    made = ecr.create_repository(
        repositoryName=name,
        catalogData={**FULL, "logoImageBlob": png(100, 60)},
        tags=[{"Key": "team", "Value": "infra"}, {"Key": "empty", "Value": ""}],
    )
    assert {k: made["catalogData"][k] for k in FULL} == FULL
    assert made["catalogData"]["logoUrl"].startswith(server.url + "/logo/")
    assert (
        ecr.get_repository_catalog_data(repositoryName=name)["catalogData"] == made["catalogData"]
    )
    tags = ecr.list_tags_for_resource(resourceArn=made["repository"]["repositoryArn"])["tags"]
    assert tags == [{"Key": "team", "Value": "infra"}, {"Key": "empty", "Value": ""}]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"tags": [{"Key": "aws:owner", "Value": "x"}]}, "InvalidTagParameterException"),
        ({"tags": [{"Key": f"k{i}", "Value": ""} for i in range(51)]}, "TooManyTagsException"),
        ({"catalogData": {"logoImageBlob": b"not a png"}}, "InvalidParameterException"),
    ],
    ids=["aws-key", "51-tags", "bad-logo"],
)
def test_create_repository_is_atomic(ecr, extra: dict, code: str) -> None:  # type: ignore[no-untyped-def]
    name = f"test/{uuid.uuid4().hex[:12]}"
    assert error_of(lambda: ecr.create_repository(repositoryName=name, **extra))[0] == code
    missing = error_of(lambda: ecr.describe_repositories(repositoryNames=[name]))
    assert missing[0] == "RepositoryNotFoundException"


# --- repository policies -------------------------------------------------------------------------

# Odd spacing and key order on purpose: it must come back byte for byte.
POLICY = (
    '{ "Version":"2012-10-17",\n  "Statement":[{"Sid":"push", "Effect":"Allow",'
    '"Principal":{"AWS":["arn:aws:iam::210987654321:root"]},'
    '"Action":["ecr-public:PutImage","ecr-public:InitiateLayerUpload"]}]}'
)


def test_policy_round_trip_is_verbatim(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    expected = {"registryId": server.account_id, "repositoryName": repository, "policyText": POLICY}
    set_ = ecr.set_repository_policy(repositoryName=repository, policyText=POLICY)
    assert {k: set_[k] for k in expected} == expected
    got = ecr.get_repository_policy(repositoryName=repository)
    assert {k: got[k] for k in expected} == expected
    deleted = ecr.delete_repository_policy(repositoryName=repository)
    assert {k: deleted[k] for k in expected} == expected
    for call in (ecr.get_repository_policy, ecr.delete_repository_policy):
        code, message = error_of(lambda c=call: c(repositoryName=repository))  # type: ignore[misc]
        assert code == "RepositoryPolicyNotFoundException"
        assert message == (
            f"Repository policy does not exist for the repository with name '{repository}' "
            f"in the registry with id '{server.account_id}'"
        )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"Version":"2012-10-17"}',
        '{"Version":"2020-01-01","Statement":[]}',
        '{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"ecr-public:*"}]}',
        '{"Statement":[{"Effect":"Allow","Action":"ecr-public:*"}]}',
        '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"ecr-public:*"}]}',
        '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}',
        '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"}],"Extra":1}',
    ],
)
def test_invalid_policy_is_refused_and_changes_nothing(ecr, repository, text: str) -> None:  # type: ignore[no-untyped-def]
    ecr.set_repository_policy(repositoryName=repository, policyText=POLICY)
    code, message = error_of(
        lambda: ecr.set_repository_policy(repositoryName=repository, policyText=text)
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
        "'Invalid repository policy provided'",
    )
    assert ecr.get_repository_policy(repositoryName=repository)["policyText"] == POLICY


def test_policy_over_10240_characters(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    text = POLICY[:-1] + ',"Id":"' + "x" * 10240 + '"}'
    code, message = error_of(
        lambda: _unvalidated(ecr).set_repository_policy(repositoryName=repository, policyText=text)
    )
    assert code == "InvalidParameterException"
    assert message == (
        "Invalid parameter at 'policyText' failed to satisfy constraint: "
        "'Member must have length less than or equal to 10240'"
    )
    assert error_of(lambda: ecr.get_repository_policy(repositoryName=repository))[0] == (
        "RepositoryPolicyNotFoundException"
    )


LOCK_OUT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "ecr-public:SetRepositoryPolicy"}
        ],
    }
)


def test_policy_that_locks_the_setter_out_needs_force(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    code, message = error_of(
        lambda: ecr.set_repository_policy(repositoryName=repository, policyText=LOCK_OUT)
    )
    assert code == "InvalidParameterException"
    assert message.startswith("Invalid parameter at 'PolicyText' failed to satisfy constraint:")
    assert "force" in message
    assert error_of(lambda: ecr.get_repository_policy(repositoryName=repository))[0] == (
        "RepositoryPolicyNotFoundException"
    )
    forced = ecr.set_repository_policy(repositoryName=repository, policyText=LOCK_OUT, force=True)
    assert forced["policyText"] == LOCK_OUT
    assert ecr.get_repository_policy(repositoryName=repository)["policyText"] == LOCK_OUT


def test_policy_of_missing_repository(ecr) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: ecr.set_repository_policy(repositoryName="no/such", policyText=POLICY),
        lambda: ecr.get_repository_policy(repositoryName="no/such"),
        lambda: ecr.delete_repository_policy(repositoryName="no/such"),
    ):
        assert error_of(call)[0] == "RepositoryNotFoundException"


def test_policy_goes_with_its_repository(ecr) -> None:  # type: ignore[no-untyped-def]
    name = f"test/{uuid.uuid4().hex[:12]}"
    ecr.create_repository(repositoryName=name)
    ecr.set_repository_policy(repositoryName=name, policyText=POLICY)
    ecr.tag_resource(
        resourceArn=ecr.describe_repositories(repositoryNames=[name])["repositories"][0][
            "repositoryArn"
        ],
        tags=[{"Key": "k", "Value": "v"}],
    )
    ecr.delete_repository(repositoryName=name)
    made = ecr.create_repository(repositoryName=name)["repository"]
    assert error_of(lambda: ecr.get_repository_policy(repositoryName=name))[0] == (
        "RepositoryPolicyNotFoundException"
    )
    assert ecr.list_tags_for_resource(resourceArn=made["repositoryArn"])["tags"] == []


# --- resource tags -------------------------------------------------------------------------------


def test_tag_list_untag_by_arn(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    resource = arn(server, repository)
    assert ecr.tag_resource(resourceArn=resource, tags=[{"Key": "a", "Value": "1"}]) is not None
    ecr.tag_resource(
        resourceArn=resource, tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}]
    )
    assert ecr.list_tags_for_resource(resourceArn=resource)["tags"] == [
        {"Key": "a", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    ecr.untag_resource(resourceArn=resource, tagKeys=["a", "never-set"])
    assert ecr.list_tags_for_resource(resourceArn=resource)["tags"] == [{"Key": "b", "Value": "2"}]


def test_fifty_tags_is_the_limit(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    resource = arn(server, repository)
    fifty = [{"Key": f"k{i:02}", "Value": "v"} for i in range(50)]
    ecr.tag_resource(resourceArn=resource, tags=fifty)
    ecr.tag_resource(resourceArn=resource, tags=[{"Key": "k00", "Value": "overwritten"}])
    code, _ = error_of(
        lambda: ecr.tag_resource(resourceArn=resource, tags=[{"Key": "k50", "Value": "v"}])
    )
    assert code == "TooManyTagsException"
    tags = ecr.list_tags_for_resource(resourceArn=resource)["tags"]
    assert len(tags) == 50 and tags[0] == {"Key": "k00", "Value": "overwritten"}


@pytest.mark.parametrize("key", ["aws:owner", "AWS:Owner"])
def test_reserved_aws_keys(server, ecr, repository, key: str) -> None:  # type: ignore[no-untyped-def]
    resource = arn(server, repository)
    ecr.tag_resource(resourceArn=resource, tags=[{"Key": "keep", "Value": "1"}])
    code, _ = error_of(
        lambda: ecr.tag_resource(
            resourceArn=resource, tags=[{"Key": "new", "Value": ""}, {"Key": key, "Value": "x"}]
        )
    )
    assert code == "InvalidTagParameterException"
    assert error_of(lambda: ecr.untag_resource(resourceArn=resource, tagKeys=[key]))[0] == (
        "InvalidTagParameterException"
    )
    assert ecr.list_tags_for_resource(resourceArn=resource)["tags"] == [
        {"Key": "keep", "Value": "1"}
    ]


@pytest.mark.parametrize(
    ("tags", "member", "constraint"),
    [
        ([{"Key": "k" * 129, "Value": ""}], "tags.1.member.Key", "less than or equal to 128"),
        ([{"Key": "k", "Value": "v" * 257}], "tags.1.member.Value", "less than or equal to 256"),
        ([{"Key": f"k{i}", "Value": ""} for i in range(201)], "tags", "less than or equal to 200"),
    ],
)
def test_tag_model_limits(
    server, ecr, repository, tags: list, member: str, constraint: str
) -> None:  # type: ignore[no-untyped-def]
    resource = arn(server, repository)
    code, message = error_of(
        lambda: _unvalidated(ecr).tag_resource(resourceArn=resource, tags=tags)
    )
    assert code == "InvalidParameterException"
    assert message.startswith(f"Invalid parameter at '{member}'") and constraint in message
    assert ecr.list_tags_for_resource(resourceArn=resource)["tags"] == []


@pytest.mark.parametrize(
    ("resource", "code"),
    [
        ("not-an-arn", "InvalidParameterException"),
        ("arn:aws:ecr:us-east-1:123456789012:repository/x", "InvalidParameterException"),
        ("arn:aws:ecr-public::123456789012:repository/no/such", "RepositoryNotFoundException"),
    ],
)
def test_tags_of_bad_or_missing_resource(ecr, resource: str, code: str) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: ecr.list_tags_for_resource(resourceArn=resource),
        lambda: ecr.tag_resource(resourceArn=resource, tags=[{"Key": "k", "Value": "v"}]),
        lambda: ecr.untag_resource(resourceArn=resource, tagKeys=["k"]),
    ):
        assert error_of(call)[0] == code


def test_another_account_cannot_tag(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    resource = arn(server, repository)
    other = server.ecr(access_key="210987654321")
    code, _ = error_of(
        lambda: other.tag_resource(resourceArn=resource, tags=[{"Key": "k", "Value": "v"}])
    )
    assert code in ("AccessDeniedException", "RepositoryNotFoundException")
    assert ecr.list_tags_for_resource(resourceArn=resource)["tags"] == []


# --- the aws CLI ---------------------------------------------------------------------------------


def test_cli_catalog_policy_and_tags(server, repository) -> None:  # type: ignore[no-untyped-def]
    put = aws(
        server,
        "put-repository-catalog-data",
        "--repository-name",
        repository,
        "--catalog-data",
        json.dumps({"description": "from the CLI", "architectures": ["ARM"]}),
    )
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["catalogData"]["description"] == "from the CLI"

    bad = aws(
        server, "set-repository-policy", "--repository-name", repository, "--policy-text", "{"
    )
    assert bad.returncode == 255
    assert (
        "An error occurred (InvalidParameterException) when calling the SetRepositoryPolicy "
        "operation: Invalid parameter at 'PolicyText' failed to satisfy constraint: "
        "'Invalid repository policy provided'"
    ) in bad.stderr
    missing = aws(server, "get-repository-policy", "--repository-name", repository)
    assert missing.returncode == 255
    assert "(RepositoryPolicyNotFoundException)" in missing.stderr

    resource = arn(server, repository)
    tagged = aws(server, "tag-resource", "--resource-arn", resource, "--tags", "Key=team,Value=a")
    assert tagged.returncode == 0, tagged.stderr
    listed = aws(server, "list-tags-for-resource", "--resource-arn", resource)
    assert json.loads(listed.stdout)["tags"] == [{"Key": "team", "Value": "a"}]
    reserved = aws(
        server, "tag-resource", "--resource-arn", resource, "--tags", "Key=aws:x,Value=a"
    )
    assert reserved.returncode == 255 and "(InvalidTagParameterException)" in reserved.stderr
