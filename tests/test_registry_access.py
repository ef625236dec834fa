"""Tokens and access on /v2 (issue 4, point 2): scope binding, expiry, anonymous
pull-only, and one decision for another account's pushes on both faces: refused
unless the repository policy allows them, an explicit Deny always winning."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import Server, start_server
from support import ecr as api
from support import images
from support.registry import Session, bearer, error_codes, parse_challenge, token

OWNER = "123456789012"


def granted(value: str) -> list[dict[str, Any]]:
    """The access a token carries (read without its key, as a client may)."""
    claims = jwt.decode(value, options={"verify_signature": False})
    return list(claims["access"])


def actions_granted(server: Server, repository: str, creds: str | None) -> list[str]:
    (entry,) = granted(token(server, repository, "pull,push,delete", creds))
    assert entry["name"] == f"{server.alias}/{repository}"
    return list(entry["actions"])


def denied_code(err: ClientError) -> str:
    return api.error_code(err)


# --- scope binding, tampering, expiry -------------------------------------------------------


def test_token_carries_only_the_scope_asked_for(server: Server, repository: str) -> None:
    creds = server.creds()
    value = token(server, repository, "pull", creds)
    assert granted(value) == [
        {"type": "repository", "name": f"{server.alias}/{repository}", "actions": ["pull"]}
    ]
    started = requests.post(f"{server.v2(repository)}/blobs/uploads/", headers=bearer(value))
    assert started.status_code == 401, started.text
    assert "UNAUTHORIZED" in error_codes(started)
    _, params = parse_challenge(started.headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == f"repository:{server.alias}/{repository}:pull,push"


def test_push_token_does_not_delete(server: Server, repository: str) -> None:
    creds = server.creds()
    image = images.oci_image(seed=8101, n_layers=1)
    assert Session(server, repository, creds).push_image(image, "v1").status_code == 201
    value = token(server, repository, "pull,push", creds)
    gone = requests.delete(
        f"{server.v2(repository)}/manifests/{image.digest}", headers=bearer(value), timeout=10
    )
    assert gone.status_code == 401, gone.text
    assert parse_challenge(gone.headers["WWW-Authenticate"])[1]["error"] == "insufficient_scope"
    deleter = token(server, repository, "delete", creds)
    gone = requests.delete(
        f"{server.v2(repository)}/manifests/{image.digest}", headers=bearer(deleter), timeout=10
    )
    assert gone.status_code == 202, gone.text


def test_tampered_token_is_refused(server: Server, repository: str) -> None:
    value = token(server, repository, "pull", server.creds())
    header, _payload, signature = value.split(".")
    claims = jwt.decode(value, options={"verify_signature": False})
    claims["access"][0]["actions"] = ["pull", "push"]
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    forged = f"{header}.{forged_payload}.{signature}"
    started = requests.post(f"{server.v2(repository)}/blobs/uploads/", headers=bearer(forged))
    assert started.status_code == 401, started.text
    assert parse_challenge(started.headers["WWW-Authenticate"])[1]["error"] == "invalid_token"
    self_signed = jwt.encode(
        claims, "a guessed key, long enough for HS256 anyway", algorithm="HS256"
    )
    started = requests.post(f"{server.v2(repository)}/blobs/uploads/", headers=bearer(self_signed))
    assert started.status_code == 401, started.text


def test_anonymous_token_is_pull_only_for_every_action(server: Server, repository: str) -> None:
    assert actions_granted(server, repository, None) == ["pull"]
    # Pull is granted on any name, even one with no repository behind it.
    missing = f"test/{uuid.uuid4().hex[:12]}"
    assert actions_granted(server, missing, None) == ["pull"]


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory, new_store: Any) -> Iterator[Server]:
    """A server whose bearer tokens live 2 s."""
    srv = start_server(
        tmp_path_factory.mktemp("ttl") / "data", None, "--token-ttl", "2", store=new_store()
    )
    yield srv
    srv.stop()


def test_token_expires(short_lived: Server) -> None:
    repository = f"test/{uuid.uuid4().hex[:12]}"
    short_lived.ecr().create_repository(repositoryName=repository)
    answer = requests.get(
        f"{short_lived.url}/token",
        params={"scope": f"repository:{short_lived.alias}/{repository}:pull,push"},
        auth=("AWS", short_lived.password()),
        timeout=10,
    ).json()
    assert answer["expires_in"] == 2
    url = f"{short_lived.v2(repository)}/blobs/uploads/"
    assert requests.post(url, headers=bearer(answer["token"]), timeout=10).status_code == 202
    time.sleep(3.1)
    late = requests.post(url, headers=bearer(answer["token"]), timeout=10)
    assert late.status_code == 401, late.text
    assert parse_challenge(late.headers["WWW-Authenticate"])[1]["error"] == "invalid_token"
    # The login password outlives its tokens: a fresh token works again.
    again = Session(short_lived, repository, short_lived.creds())
    assert again.start_upload().status_code == 202


# --- another account: the repository policy decides, on /v2 and the API alike --------------


class Stranger:
    """Another account, with its own login password, acting on the owner's repository."""

    def __init__(self, server: Server, repository: str) -> None:
        self.key = api.new_account_key()
        self.ecr = server.ecr(access_key=self.key)
        self.server = server
        self.repository = repository
        self.creds = f"AWS:{_password(self.ecr)}"

    def session(self) -> Session:
        return Session(self.server, self.repository, self.creds)

    def put_image(self, image: images.Image, tag: str) -> Any:
        return self.ecr.put_image(
            registryId=OWNER,
            repositoryName=self.repository,
            imageManifest=image.manifest.decode(),
            imageManifestMediaType=image.media_type,
            imageTag=tag,
        )

    def initiate_layer_upload(self) -> Any:
        return self.ecr.initiate_layer_upload(registryId=OWNER, repositoryName=self.repository)


def _password(client: Any) -> str:
    encoded = client.get_authorization_token()["authorizationData"]["authorizationToken"]
    return base64.b64decode(encoded).decode().split(":")[1]


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


PUSH_ACTIONS = [
    "ecr-public:BatchCheckLayerAvailability",
    "ecr-public:InitiateLayerUpload",
    "ecr-public:UploadLayerPart",
    "ecr-public:CompleteLayerUpload",
    "ecr-public:PutImage",
]


def allow(account: str, actions: list[str] | str) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": account}, "Action": actions}


def deny(account: str, actions: list[str] | str) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": {"AWS": account}, "Action": actions}


def assert_refused_everywhere(stranger: Stranger, image: images.Image) -> None:
    """No push for the stranger: not in its token, not with Basic, not through the API."""
    server, repository = stranger.server, stranger.repository
    assert "push" not in actions_granted(server, repository, stranger.creds)
    started = requests.post(
        f"{server.v2(repository)}/blobs/uploads/",
        auth=tuple(stranger.creds.split(":", 1)),  # type: ignore[arg-type]
        timeout=10,
    )
    assert started.status_code == 403, started.text
    assert "DENIED" in error_codes(started)
    put = stranger.session().push_manifest(image.manifest, image.media_type, "theirs")
    assert put.status_code in (401, 403), put.text
    with pytest.raises(ClientError) as info:
        stranger.put_image(image, "theirs")
    assert denied_code(info.value) == "AccessDeniedException"
    owner_view = Session(server, repository)
    assert owner_view.head(
        "manifests/theirs", headers={"Accept": image.media_type}
    ).status_code == (404)


@pytest.fixture
def pushed(server: Server, repository: str) -> images.Image:
    """An image whose blobs (and manifest, as `v1`) the owner pushed."""
    image = images.oci_image(seed=int(uuid.uuid4().int % 10**6), n_layers=1)
    assert Session(server, repository, server.creds()).push_image(image, "v1").status_code == 201
    return image


def test_other_account_is_refused_without_a_policy(
    server: Server, repository: str, pushed: images.Image
) -> None:
    stranger = Stranger(server, repository)
    assert_refused_everywhere(stranger, pushed)
    with pytest.raises(ClientError) as info:
        stranger.initiate_layer_upload()
    assert denied_code(info.value) == "AccessDeniedException"
    # Pulling stays open to it, as to anyone.
    got = stranger.session().get("manifests/v1", headers={"Accept": pushed.media_type})
    assert got.status_code == 200 and got.content == pushed.manifest


def test_policy_allowing_push_lets_the_other_account_push(
    server: Server, ecr: Any, repository: str, pushed: images.Image
) -> None:
    stranger = Stranger(server, repository)
    ecr.set_repository_policy(
        repositoryName=repository, policyText=policy(allow(stranger.key, PUSH_ACTIONS))
    )
    assert actions_granted(server, repository, stranger.creds) == ["pull", "push"]
    session = stranger.session()
    blob = images.make_layer(8201)
    assert session.push_blob(blob).status_code == 201
    put = session.push_manifest(pushed.manifest, pushed.media_type, "from-stranger")
    assert put.status_code == 201, put.text
    assert stranger.put_image(pushed, "via-api")["image"]["imageId"]["imageDigest"] == (
        pushed.digest
    )
    assert stranger.initiate_layer_upload()["uploadId"]
    # Push does not bring delete along.
    gone = session.delete("manifests/from-stranger")
    assert gone.status_code in (401, 403), gone.text
    tags = Session(server, repository).tags().json()["tags"]
    assert tags == ["from-stranger", "v1", "via-api"]


def test_policy_allowing_only_some_push_actions_is_not_push(
    server: Server, ecr: Any, repository: str, pushed: images.Image
) -> None:
    stranger = Stranger(server, repository)
    ecr.set_repository_policy(
        repositoryName=repository,
        policyText=policy(allow(stranger.key, "ecr-public:InitiateLayerUpload")),
    )
    assert actions_granted(server, repository, stranger.creds) == ["pull"]
    assert stranger.initiate_layer_upload()["uploadId"]  # the API allows that one action
    with pytest.raises(ClientError) as info:
        stranger.put_image(pushed, "theirs")
    assert denied_code(info.value) == "AccessDeniedException"


def test_explicit_deny_wins_over_allow(
    server: Server, ecr: Any, repository: str, pushed: images.Image
) -> None:
    stranger = Stranger(server, repository)
    ecr.set_repository_policy(
        repositoryName=repository,
        policyText=policy(allow("*", "ecr-public:*"), deny(stranger.key, "ecr-public:PutImage")),
    )
    assert_refused_everywhere(stranger, pushed)
    # The Deny names one action; the others stay allowed on the API.
    assert stranger.initiate_layer_upload()["uploadId"]
    # Anyone else the Allow names may push.
    other = Stranger(server, repository)
    assert actions_granted(server, repository, other.creds) == ["pull", "push", "delete"]
    assert other.put_image(pushed, "other")["image"]["imageId"]["imageDigest"] == pushed.digest


def test_explicit_deny_binds_the_owner_too(
    server: Server, ecr: Any, repository: str, pushed: images.Image
) -> None:
    ecr.set_repository_policy(
        repositoryName=repository, policyText=policy(deny(OWNER, "ecr-public:PutImage"))
    )
    creds = server.creds()
    assert actions_granted(server, repository, creds) == ["pull", "delete"]
    put = Session(server, repository, creds).push_manifest(
        pushed.manifest, pushed.media_type, "denied"
    )
    assert put.status_code in (401, 403), put.text
    with pytest.raises(ClientError) as info:
        api.put_manifest(
            ecr, repository, pushed.manifest, tag="denied", media_type=pushed.media_type
        )
    assert denied_code(info.value) == "AccessDeniedException"
    ecr.delete_repository_policy(repositoryName=repository)
    assert actions_granted(server, repository, creds) == ["pull", "push", "delete"]


def test_policy_allowing_delete_lets_the_other_account_delete(
    server: Server, ecr: Any, repository: str, pushed: images.Image
) -> None:
    stranger = Stranger(server, repository)
    assert stranger.session().delete("manifests/v1").status_code in (401, 403)
    ecr.set_repository_policy(
        repositoryName=repository,
        policyText=policy(allow(stranger.key, "ecr-public:BatchDeleteImage")),
    )
    assert actions_granted(server, repository, stranger.creds) == ["pull", "delete"]
    session = Session(server, repository, stranger.creds, actions="pull,delete")
    gone = session.delete("manifests/v1")
    assert gone.status_code == 202, gone.text
    assert Session(server, repository).tags().json()["tags"] == []


# --- the OAuth2 form of /token (containerd, helm, oras-go) ----------------------------------


def _post_token(server: Server, repository: str, form: dict[str, str]) -> requests.Response:
    return requests.post(
        f"{server.url}/token",
        data={
            "service": server.host,
            "scope": f"repository:{server.alias}/{repository}:pull,push",
            "client_id": "berth-tests",
            **form,
        },
        timeout=10,
    )


def test_oauth2_password_and_refresh_token_grants(server: Server, repository: str) -> None:
    password = server.password()
    answer = _post_token(
        server,
        repository,
        {
            "grant_type": "password",
            "username": "AWS",
            "password": password,
            "access_type": "offline",
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert granted(body["access_token"])[0]["actions"] == ["pull", "push"]
    assert body["refresh_token"]
    refreshed = _post_token(
        server, repository, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    value = refreshed.json()["access_token"]
    assert granted(value)[0]["actions"] == ["pull", "push"]
    started = requests.post(f"{server.v2(repository)}/blobs/uploads/", headers=bearer(value))
    assert started.status_code == 202, started.text


def test_oauth2_wrong_password_and_anonymous_form(server: Server, repository: str) -> None:
    wrong = _post_token(
        server, repository, {"grant_type": "password", "username": "AWS", "password": "nope"}
    )
    assert wrong.status_code == 401, wrong.text
    assert "UNAUTHORIZED" in error_codes(wrong)
    anonymous = _post_token(server, repository, {})
    assert anonymous.status_code == 200, anonymous.text
    assert granted(anonymous.json()["access_token"])[0]["actions"] == ["pull"]
    assert "refresh_token" not in anonymous.json()
