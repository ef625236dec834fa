"""CreateRepository, DescribeRepositories, DeleteRepository over the ECR Public API.

boto3 for most checks, the real aws CLI for a representative subset.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import aws
from support import ecr as api
from support import images
from support.registry import error_codes

DEFAULT_ACCOUNT = "123456789012"
REPOSITORY_KEYS = {"repositoryArn", "registryId", "repositoryName", "repositoryUri", "createdAt"}

# C8: one naming rule (the service model's) for every face.
INVALID_NAMES = ["MyRepo", "/lead", "trail/", "a//b", "a--b", "a" * 206]
VALID_NAMES = ["team/app", "a/b/c/d/e/f/g/h", "ab/" * 68 + "c"]


def unique(prefix: str = "repos") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def expect_error(code: str, call, *args, **kwargs) -> ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    assert api.error_code(info.value) == code, info.value.response
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return info.value


def assert_repository(repo: dict, server, name: str, account: str, alias: str) -> None:  # type: ignore[no-untyped-def]
    assert set(repo) == REPOSITORY_KEYS
    assert repo["repositoryName"] == name
    assert repo["registryId"] == account
    assert repo["repositoryArn"] == f"arn:aws:ecr-public::{account}:repository/{name}"
    assert repo["repositoryUri"] == f"{server.host}/{alias}/{name}"
    assert isinstance(repo["createdAt"], datetime)
    assert abs(datetime.now(UTC) - repo["createdAt"]) < timedelta(minutes=2)


def all_repositories(client) -> list[dict]:  # type: ignore[no-untyped-def]
    pages = client.get_paginator("describe_repositories").paginate()
    return [repo for page in pages for repo in page["repositories"]]


# --- CreateRepository ----------------------------------------------------------------------------


def test_create_repository_response_shape(server, ecr) -> None:  # type: ignore[no-untyped-def]
    name = unique()
    answer = ecr.create_repository(repositoryName=name)
    assert answer["catalogData"] == {}
    assert_repository(answer["repository"], server, name, DEFAULT_ACCOUNT, "berth")


def test_create_repository_twice_is_already_exists(ecr) -> None:  # type: ignore[no-untyped-def]
    name = unique()
    first = ecr.create_repository(repositoryName=name)["repository"]
    err = expect_error(
        "RepositoryAlreadyExistsException", ecr.create_repository, repositoryName=name
    )
    assert name in err.response["Error"]["Message"]
    # The original is untouched.
    (again,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert again["createdAt"] == first["createdAt"]


def test_created_repository_is_listed_and_described(server, ecr) -> None:  # type: ignore[no-untyped-def]
    name = unique()
    created = ecr.create_repository(repositoryName=name)["repository"]
    (described,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert described == created
    assert name in {r["repositoryName"] for r in all_repositories(ecr)}


# --- DescribeRepositories ------------------------------------------------------------------------


def test_describe_repositories_by_names(server, ecr) -> None:  # type: ignore[no-untyped-def]
    names = [unique(), unique()]
    for name in names:
        ecr.create_repository(repositoryName=name)
    found = ecr.describe_repositories(repositoryNames=names)["repositories"]
    assert sorted(r["repositoryName"] for r in found) == sorted(names)
    for repo in found:
        assert_repository(repo, server, repo["repositoryName"], DEFAULT_ACCOUNT, "berth")
    assert "nextToken" not in ecr.describe_repositories(repositoryNames=names)


def test_describe_repositories_missing_name_fails_whole_call(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    missing = unique("missing")
    err = expect_error(
        "RepositoryNotFoundException",
        ecr.describe_repositories,
        repositoryNames=[repository, missing],
    )
    assert missing in err.response["Error"]["Message"]
    assert "repositories" not in err.response


def test_describe_repositories_pagination_visits_each_once(server) -> None:  # type: ignore[no-untyped-def]
    client = server.ecr(access_key=api.new_account_key())
    names = sorted(f"pages/repo-{i}" for i in range(7))
    for name in names:
        client.create_repository(repositoryName=name)
    pages = list(
        client.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 2})
    )
    sizes = [len(page["repositories"]) for page in pages]
    assert sizes == [2, 2, 2, 1]
    assert all("nextToken" in page for page in pages[:-1])
    assert "nextToken" not in pages[-1]
    seen = [r["repositoryName"] for page in pages for r in page["repositories"]]
    assert sorted(seen) == names  # every repository exactly once


def test_pagination_survives_deletes_and_creates_between_pages(server) -> None:  # type: ignore[no-untyped-def]
    client = server.ecr(access_key=api.new_account_key())
    names = [f"churn/r{i}" for i in range(6)]
    for name in names:
        client.create_repository(repositoryName=name)
    first = client.describe_repositories(maxResults=2)
    seen = [r["repositoryName"] for r in first["repositories"]]
    # Delete the last repository of the page just read and one not yet read.
    client.delete_repository(repositoryName=seen[-1])
    unseen = next(n for n in names if n not in seen)
    client.delete_repository(repositoryName=unseen)
    token = first["nextToken"]
    while token:
        page = client.describe_repositories(maxResults=2, nextToken=token)
        seen += [r["repositoryName"] for r in page["repositories"]]
        token = page.get("nextToken")
    assert len(seen) == len(set(seen))  # nothing twice
    assert unseen not in seen
    assert sorted(seen) == sorted(n for n in names if n != unseen)


def test_describe_repositories_without_max_results_lists_all(server) -> None:  # type: ignore[no-untyped-def]
    key = api.new_account_key()
    client = server.ecr(access_key=key)
    names = sorted(f"solo/r{i}" for i in range(3))
    for name in names:
        client.create_repository(repositoryName=name)
    answer = client.describe_repositories()
    assert "nextToken" not in answer
    assert sorted(r["repositoryName"] for r in answer["repositories"]) == names
    assert {r["registryId"] for r in answer["repositories"]} == {key}


@pytest.mark.parametrize("token", ["garbage", "eyJub3QiOiJ5b3VycyJ9", "A" * 80])
def test_describe_repositories_forged_next_token(server, token: str) -> None:  # type: ignore[no-untyped-def]
    client = server.ecr(access_key=api.new_account_key())
    client.create_repository(repositoryName="forged/one")
    expect_error("InvalidParameterException", client.describe_repositories, nextToken=token)


def test_describe_repositories_tampered_or_foreign_next_token(server) -> None:  # type: ignore[no-untyped-def]
    client = server.ecr(access_key=api.new_account_key())
    for i in range(3):
        client.create_repository(repositoryName=f"tamper/r{i}")
    token = client.describe_repositories(maxResults=1)["nextToken"]
    # The genuine token works...
    assert len(client.describe_repositories(maxResults=1, nextToken=token)["repositories"]) == 1
    # ...a token with any one character altered does not...
    for at in (0, len(token) // 2, len(token) - 3):
        flipped = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
        expect_error(
            "InvalidParameterException",
            client.describe_repositories,
            maxResults=1,
            nextToken=flipped,
        )
    # ...and neither does it in another account's listing.
    other = server.ecr(access_key=api.new_account_key())
    other.create_repository(repositoryName="tamper/other")
    expect_error(
        "InvalidParameterException", other.describe_repositories, maxResults=1, nextToken=token
    )


def test_describe_repositories_names_with_max_results(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    expect_error(
        "InvalidParameterException",
        ecr.describe_repositories,
        repositoryNames=[repository],
        maxResults=2,
    )


def test_accounts_do_not_see_each_others_repositories(server, ecr) -> None:  # type: ignore[no-untyped-def]
    key = api.new_account_key()
    other = server.ecr(access_key=key)
    name = unique("mine")
    other.create_repository(repositoryName=name)
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[name])
    assert name not in {r["repositoryName"] for r in all_repositories(ecr)}
    # The same name is free in the default account.
    ecr.create_repository(repositoryName=name)


# --- DeleteRepository ----------------------------------------------------------------------------


def test_delete_repository_returns_it_and_removes_it(server, ecr) -> None:  # type: ignore[no-untyped-def]
    name = unique()
    created = ecr.create_repository(repositoryName=name)["repository"]
    deleted = ecr.delete_repository(repositoryName=name)["repository"]
    assert deleted == created
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[name])
    expect_error("RepositoryNotFoundException", ecr.delete_repository, repositoryName=name)
    # The name can be used again.
    ecr.create_repository(repositoryName=name)


def test_delete_repository_of_another_account_is_refused(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    stranger = server.ecr(access_key=api.new_account_key())
    with pytest.raises(ClientError) as info:
        stranger.delete_repository(
            repositoryName=repository, registryId=DEFAULT_ACCOUNT, force=True
        )
    assert api.error_code(info.value) in {"AccessDeniedException", "RepositoryNotFoundException"}
    (still,) = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    assert still["repositoryName"] == repository


def test_delete_missing_repository(ecr) -> None:  # type: ignore[no-untyped-def]
    expect_error("RepositoryNotFoundException", ecr.delete_repository, repositoryName=unique())


def test_delete_repository_with_image_needs_force(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = images.oci_image(101, n_layers=1, layer_size=1024)
    api.push_image_via_api(ecr, repository, image, tag="v1")
    expect_error("RepositoryNotEmptyException", ecr.delete_repository, repositoryName=repository)
    # Still there, image and all.
    details = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert [d["imageDigest"] for d in details] == [image.digest]

    deleted = ecr.delete_repository(repositoryName=repository, force=True)["repository"]
    assert deleted["repositoryName"] == repository
    expect_error(
        "RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repository]
    )
    # Its images went with it: not over /v2, and not in a new repository of the same name.
    response = requests.get(
        f"{server.v2(repository)}/manifests/{image.digest}",
        headers=api.pull_headers(server, repository),
        timeout=10,
    )
    assert response.status_code == 404
    ecr.create_repository(repositoryName=repository)
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []
    assert ecr.describe_image_tags(repositoryName=repository)["imageTagDetails"] == []
    # Nor do its layers linger in the new repository of the same name.
    check = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[b.digest for b in image.blobs]
    )
    assert check["layers"] == []
    assert {f["failureCode"] for f in check["failures"]} == {"MissingLayerDigest"}


def test_force_delete_repository_with_index(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    children = [images.oci_image(104 + i, n_layers=1, layer_size=256) for i in range(2)]
    api.push_image_via_api(ecr, repository, images.oci_index(children), tag="multi")
    expect_error("RepositoryNotEmptyException", ecr.delete_repository, repositoryName=repository)
    deleted = ecr.delete_repository(repositoryName=repository, force=True)["repository"]
    assert deleted["repositoryName"] == repository
    expect_error(
        "RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repository]
    )


def test_delete_repository_with_untagged_image_needs_force(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    image = images.oci_image(102, n_layers=1, layer_size=1024)
    api.push_image_via_api(ecr, repository, image, tag=None)
    expect_error("RepositoryNotEmptyException", ecr.delete_repository, repositoryName=repository)
    ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageDigest": image.digest}])
    assert ecr.delete_repository(repositoryName=repository)["repository"]["repositoryName"] == (
        repository
    )


def test_empty_repository_deletes_without_force(ecr, repository) -> None:  # type: ignore[no-untyped-def]
    # Uploaded layers alone do not make a repository "not empty": only images do.
    api.upload_blob(ecr, repository, b"just a layer")
    assert ecr.delete_repository(repositoryName=repository)["repository"]["repositoryName"] == (
        repository
    )


# --- C8: names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", INVALID_NAMES, ids=["upper", "lead", "trail", "dslash", "ddash", "206"]
)
def test_invalid_repository_names_are_refused(server, name: str) -> None:  # type: ignore[no-untyped-def]
    client = server.ecr(access_key=api.new_account_key())
    err = expect_error("InvalidParameterException", client.create_repository, repositoryName=name)
    assert "repositoryName" in err.response["Error"]["Message"]
    assert all_repositories(client) == []  # nothing was created
    # The other operations apply the same rule.
    expect_error("InvalidParameterException", client.describe_repositories, repositoryNames=[name])
    expect_error("InvalidParameterException", client.delete_repository, repositoryName=name)
    expect_error("InvalidParameterException", client.describe_images, repositoryName=name)


@pytest.mark.parametrize("name", VALID_NAMES, ids=["team-app", "deep", "205"])
def test_valid_repository_names_are_created(server, name: str) -> None:  # type: ignore[no-untyped-def]
    key = api.new_account_key()
    client = server.ecr(access_key=key)
    assert len(name) <= 205
    created = client.create_repository(repositoryName=name)["repository"]
    alias = client.describe_registries()["registries"][0]["aliases"][0]["name"]
    assert_repository(created, server, name, key, alias)
    assert [r["repositoryName"] for r in all_repositories(client)] == [name]


def test_name_of_205_characters_is_the_limit() -> None:
    assert len(VALID_NAMES[2]) == 205
    assert len(INVALID_NAMES[5]) == 206


# --- the aws CLI ---------------------------------------------------------------------------------


def test_cli_create_describe_delete(server) -> None:  # type: ignore[no-untyped-def]
    name = unique("cli")
    created = aws(server, "create-repository", "--repository-name", name)
    assert created.returncode == 0, created.stderr
    repo = json.loads(created.stdout)["repository"]
    assert repo["repositoryUri"] == f"{server.host}/berth/{name}"
    assert repo["repositoryArn"] == f"arn:aws:ecr-public::{DEFAULT_ACCOUNT}:repository/{name}"
    assert json.loads(created.stdout)["catalogData"] == {}

    again = aws(server, "create-repository", "--repository-name", name)
    assert again.returncode in (254, 255)
    assert "RepositoryAlreadyExistsException" in again.stderr

    described = aws(server, "describe-repositories", "--repository-names", name)
    assert described.returncode == 0, described.stderr
    (found,) = json.loads(described.stdout)["repositories"]
    assert found["repositoryName"] == name
    assert found["repositoryUri"] == repo["repositoryUri"]

    deleted = aws(server, "delete-repository", "--repository-name", name)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout)["repository"]["repositoryName"] == name

    gone = aws(server, "describe-repositories", "--repository-names", name)
    assert gone.returncode in (254, 255)
    assert "RepositoryNotFoundException" in gone.stderr
    assert gone.stdout == ""


def test_cli_invalid_name(server) -> None:  # type: ignore[no-untyped-def]
    result = aws(server, "create-repository", "--repository-name", "MyRepo")
    assert result.returncode in (254, 255)
    assert "InvalidParameterException" in result.stderr


def test_cli_delete_not_empty_then_force(server, ecr, repository) -> None:  # type: ignore[no-untyped-def]
    api.push_image_via_api(ecr, repository, images.docker_image(103, n_layers=1, layer_size=512))
    refused = aws(server, "delete-repository", "--repository-name", repository)
    assert refused.returncode in (254, 255)
    assert "RepositoryNotEmptyException" in refused.stderr
    forced = aws(server, "delete-repository", "--repository-name", repository, "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["repository"]["repositoryName"] == repository


def test_delete_repository_during_pushes_leaves_nothing_behind(server, ecr) -> None:  # type: ignore[no-untyped-def]
    """Pushes racing a DeleteRepository either land before it (and go with the repository)
    or fail as NAME_UNKNOWN; none writes rows after it, so no later repository (SQLite
    may give it the deleted one's id) inherits an image, and nothing answers 5xx."""
    from concurrent.futures import ThreadPoolExecutor

    password = server.password()
    config = images.Blob(images.OCI_CONFIG, b"{}")
    manifest = images.dump_json(
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [],
        }
    )
    for round_ in range(6):
        name = unique("race")
        base = f"{server.url}/v2/{server.alias}/{name}"
        ecr.create_repository(repositoryName=name)
        blob_url = f"{base}/blobs/uploads/?digest={config.digest}"
        assert requests.post(blob_url, data=config.data, auth=("AWS", password)).status_code == 201

        def act(i: int, base: str = base, name: str = name, blob_url: str = blob_url) -> int:
            if i == 8:
                server.ecr().delete_repository(repositoryName=name, force=True)
                return 200
            if i % 3 == 0:
                reply = requests.post(blob_url, data=config.data, auth=("AWS", password))
            else:
                reply = requests.put(
                    f"{base}/manifests/t{i}",
                    data=manifest,
                    auth=("AWS", password),
                    headers={"Content-Type": images.OCI_MANIFEST},
                )
            if reply.status_code == 404:  # the repository, or its upload, went first
                assert {"NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"} & set(error_codes(reply)), reply.text
            return reply.status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(act, range(16)))
        assert all(status in (200, 201, 404) for status in statuses), (round_, statuses)
        for fresh in (unique("after"), name):
            ecr.create_repository(repositoryName=fresh)
            assert ecr.describe_images(repositoryName=fresh)["imageDetails"] == []
            tags = requests.get(
                f"{server.url}/v2/{server.alias}/{fresh}/tags/list", auth=("AWS", password)
            )
            assert tags.json()["tags"] == [], (round_, fresh, tags.text)
            ecr.delete_repository(repositoryName=fresh)
