"""The oras Python client (oras-py) against berth: log in, push an artifact of two files
(whole-blob and chunked uploads), pull it back, list and delete tags, push an OCI 1.1
artifact with a top-level artifactType and a referrer; and the same artifacts seen
through the ECR Public API.

Observed oras-py 0.2.43 behaviour worth knowing:
  * `login()` only writes `auths` into the Docker config file it is given (or
    ~/.docker/config.json): it never contacts the registry, so it "succeeds" with any
    password. HOME points at a temp dir here so no real config is read or written.
  * With the default `token` auth backend a push fails against any registry that answers
    a token lacking push scope with 401 `insufficient_scope` (as the Docker token spec
    says and berth does): oras-py first HEADs the blob, caches the pull-scoped token it
    got for that, and on the POST's 401 retries with the same cached token (it asks for a
    new one only after a 403). Pushes therefore use the `basic` backend (HTTP Basic
    `AWS:<password>` on every request, which berth accepts); pulls use the `token`
    backend with the same login, so both auth paths are exercised.
  * Its `do_request` retries failures after sleeping 3 + 3**n seconds; the sleeps are
    skipped here so that a failing test fails fast.
"""

from __future__ import annotations

import json
import math
import os
import types
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

# oras.provider first: importing oras.decorator or oras.oci before it is a circular import.
import oras.provider as oras_provider

# isort: split
import oras.decorator
import oras.oci
import pytest
import requests

from conftest import Server
from support.registry import Session, sha256_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
TITLE = "org.opencontainers.image.title"
CONFIG_TYPE = "application/vnd.example.berth.config.v1+json"
DATA_TYPE = "application/vnd.example.berth.data.v1"
DEFAULT_LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
CHUNK = 8192
ACCEPT = {"Accept": OCI_MANIFEST}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("ORAS_USER", "ORAS_PASS", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(oras.decorator, "time", types.SimpleNamespace(sleep=lambda _s: None))


class Recorder:
    """(method, path, status) of every HTTP exchange an oras-py client makes.

    The `basic` backend sends each request once without credentials, takes the 401 and
    resends it with Basic auth; `answered()` leaves those 401s out.
    """

    def __init__(self, registry: Any) -> None:
        self.calls: list[tuple[str, str, int]] = []
        registry.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        self.calls.append(
            (str(request.method), urlparse(str(request.url)).path, response.status_code)
        )

    def answered(self, start: int = 0) -> list[tuple[str, str, int]]:
        return [call for call in self.calls[start:] if call[2] != 401]

    def count(self, method: str, path_part: str = "") -> int:
        return sum(1 for m, p, _ in self.answered() if m == method and path_part in p)


def login(server: Server, tmp_path: Path, password: str | None = None) -> tuple[Any, Path]:
    """A `basic`-backend client logged in as AWS, and the Docker config it wrote."""
    config = tmp_path / "docker-config.json"
    registry = oras_provider.Registry(hostname=server.host, insecure=True, auth_backend="basic")
    answer = registry.login(
        username="AWS",
        password=password or server.password(),
        hostname=server.host,
        config_path=str(config),
    )
    assert answer == {"Status": "Login Succeeded"}, answer
    auths = json.loads(config.read_text())["auths"]
    assert list(auths) == [server.host]
    return registry, config


def puller(server: Server) -> Any:
    """A `token`-backend client (oras-py's default), as used for pulls."""
    return oras_provider.Registry(hostname=server.host, insecure=True)


def write_files(directory: Path) -> dict[str, bytes]:
    directory.mkdir(parents=True)
    files = {
        "readme.txt": f"berth oras test {uuid.uuid4()}\n".encode(),
        "data.bin": os.urandom(40_000),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return files


def target(server: Server, repository: str, tag: str) -> str:
    return f"{server.host}/{server.alias}/{repository}:{tag}"


def describe(ecr: Any, repository: str) -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = ecr.describe_images(repositoryName=repository)["imageDetails"]
    return details


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_push_pull_round_trip(
    server: Server, repository: str, ecr: Any, tmp_path: Path, chunked: bool
) -> None:
    files = write_files(tmp_path / "src")
    registry, config = login(server, tmp_path)
    calls = Recorder(registry)
    ref = target(server, repository, "v1")
    annotations = {"org.example.purpose": "oras round trip", "org.example.id": str(uuid.uuid4())}
    pushed = registry.push(
        ref,
        config_path=str(config),
        files=[str(tmp_path / "src/readme.txt"), f"{tmp_path / 'src/data.bin'}:{DATA_TYPE}"],
        disable_path_validation=True,
        manifest_annotations=annotations,
        manifest_config=f"{tmp_path / 'no-config-file'}:{CONFIG_TYPE}",
        do_chunked=chunked,
        chunk_size=CHUNK,
        quiet=True,
    )
    assert pushed.status_code == 201, pushed.text
    digest = pushed.headers["Docker-Content-Digest"]

    # How the blobs went up: PATCHes of CHUNK bytes, or one PUT with the whole blob.
    patches = sum(math.ceil(len(data) / CHUNK) for data in files.values())
    assert calls.count("PATCH", "/blobs/uploads/") == (patches if chunked else 0), calls.calls
    assert not [c for c in calls.calls if c[2] >= 500], calls.calls

    # The manifest oras-py built, as berth stores it.
    got = Session(server, repository).get("manifests/v1", headers=ACCEPT)
    assert got.status_code == 200
    assert sha256_digest(got.content) == digest
    manifest = got.json()
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["annotations"] == annotations
    assert manifest["config"] == {
        "mediaType": CONFIG_TYPE,
        "size": 2,
        "digest": sha256_digest(b"{}"),
    }
    layers = {layer["annotations"][TITLE]: layer for layer in manifest["layers"]}
    assert layers["readme.txt"]["mediaType"] == DEFAULT_LAYER_TYPE
    assert layers["data.bin"]["mediaType"] == DATA_TYPE
    for name, data in files.items():
        assert layers[name]["digest"] == sha256_digest(data)
        assert layers[name]["size"] == len(data)

    out = tmp_path / "pulled"
    pulled = puller(server).pull(ref, config_path=str(config), outdir=str(out))
    assert sorted(Path(p).name for p in pulled) == sorted(files)
    for name, data in files.items():
        assert (out / name).read_bytes() == data

    assert puller(server).get_tags(f"{server.host}/{server.alias}/{repository}") == ["v1"]

    (detail,) = describe(ecr, repository)
    assert detail["imageDigest"] == digest
    assert detail["imageTags"] == ["v1"]
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    assert detail["artifactMediaType"] == CONFIG_TYPE


POLICY = "application/vnd.example.policy.v1"
POLICY_LAYER = "application/vnd.example.policy.rego.v1"
SIGNATURE_CONFIG = "application/vnd.example.signature.config.v1+json"


def test_artifact_type_and_referrer(
    server: Server, repository: str, ecr: Any, tmp_path: Path
) -> None:
    """oras-py's push() has no artifactType argument; its lower-level upload_blob and
    upload_manifest carry an OCI 1.1 manifest with one and the empty config. push()
    does take a `subject`, which makes the second artifact a referrer of the first."""
    registry, config = login(server, tmp_path)
    ref = target(server, repository, "policy")
    container = registry.get_container(ref)
    registry.auth.load_configs(container, configs=[str(config)])

    empty = tmp_path / "empty.json"
    empty.write_bytes(b"{}")
    rego = tmp_path / "policy.rego"
    rego.write_bytes(f"package berth\n# {uuid.uuid4()}\nallow := true\n".encode())
    conf = {"mediaType": OCI_EMPTY, "digest": sha256_digest(b"{}"), "size": 2}
    assert registry.upload_blob(str(empty), container, conf).status_code in (200, 201)
    layer = oras.oci.NewLayer(str(rego), media_type=POLICY_LAYER)
    layer["annotations"] = {TITLE: "policy.rego"}
    assert registry.upload_blob(str(rego), container, layer).status_code == 201

    manifest = oras.oci.NewManifest()
    manifest["artifactType"] = POLICY
    manifest["config"] = conf
    manifest["layers"] = [layer]
    manifest["annotations"] = {"org.example.kind": "policy"}
    put = registry.upload_manifest(manifest, container)
    assert put.status_code == 201, put.text
    digest = put.headers["Docker-Content-Digest"]

    (detail,) = describe(ecr, repository)
    assert detail["imageDigest"] == digest
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    assert detail["artifactMediaType"] == POLICY

    out = tmp_path / "pulled"
    puller(server).pull(ref, config_path=str(config), outdir=str(out))
    assert (out / "policy.rego").read_bytes() == rego.read_bytes()

    # A signature that refers to the policy.
    reader = Session(server, repository)
    served = reader.get(f"manifests/{digest}", headers=ACCEPT)
    assert served.status_code == 200
    signature = tmp_path / "policy.sig"
    signature.write_bytes(os.urandom(64))
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=digest, size=len(served.content))
    signed = registry.push(
        target(server, repository, "policy-sig"),
        config_path=str(config),
        files=[str(signature)],
        disable_path_validation=True,
        manifest_annotations={"org.example.signer": "oras-py"},
        manifest_config=f"{tmp_path / 'no-config-file'}:{SIGNATURE_CONFIG}",
        subject=subject,
        quiet=True,
    )
    assert signed.status_code == 201, signed.text
    assert signed.headers.get("OCI-Subject") == digest
    referrers = reader.get(f"referrers/{digest}")
    assert referrers.status_code == 200
    assert referrers.json()["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": signed.headers["Docker-Content-Digest"],
            "size": len(reader.get("manifests/policy-sig", headers=ACCEPT).content),
            "artifactType": SIGNATURE_CONFIG,
            "annotations": {"org.example.signer": "oras-py"},
        }
    ]


def test_tags_list_and_delete(server: Server, repository: str, ecr: Any, tmp_path: Path) -> None:
    write_files(tmp_path / "src")
    registry, config = login(server, tmp_path)
    calls = Recorder(registry)
    tags = ["latest", "1.10", "1.0"]
    digests = set()
    for i, tag in enumerate(tags):
        before = len(calls.calls)
        pushed = registry.push(
            target(server, repository, tag),
            config_path=str(config),
            files=[str(tmp_path / "src/readme.txt")],
            disable_path_validation=True,
            quiet=True,
        )
        assert pushed.status_code == 201, pushed.text
        digests.add(pushed.headers["Docker-Content-Digest"])
        uploads = [c for c in calls.answered(before) if c[0] == "POST"]
        # The first push uploads the file and the config; later ones find them by HEAD.
        assert len(uploads) == (2 if i == 0 else 0), calls.calls[before:]
    assert len(digests) == 1, "the same files make the same manifest"

    repo = f"{server.host}/{server.alias}/{repository}"
    anonymous = puller(server)
    assert anonymous.get_tags(repo) == sorted(tags)
    assert anonymous.get_tags(repo, N=2) == ["1.0", "1.10"]
    (detail,) = describe(ecr, repository)
    assert sorted(detail["imageTags"]) == sorted(tags)

    # oras-py deletes a tag by resolving it to a digest and deleting the manifest,
    # which takes every tag on it.
    assert registry.delete_tag(repo, "latest") is True
    assert anonymous.get_tags(repo) == []
    assert describe(ecr, repository) == []
    assert registry.delete_tag(repo, "latest") is False


def test_wrong_password_cannot_push(
    server: Server, repository: str, ecr: Any, tmp_path: Path
) -> None:
    write_files(tmp_path / "src")
    registry, config = login(server, tmp_path, password="not-the-password")
    with pytest.raises(ValueError, match="session url"):
        registry.push(
            target(server, repository, "v1"),
            config_path=str(config),
            files=[str(tmp_path / "src/readme.txt")],
            disable_path_validation=True,
            quiet=True,
        )
    assert Session(server, repository).get("tags/list").json()["tags"] == []
    assert describe(ecr, repository) == []
