"""The real buildah (Debian's 1.28) against berth: build an image from scratch, push it in
OCI and Docker schema 2 form, pull it back and read the file out of it; log in with
`buildah login`; and an anonymous push is refused.

Every call uses its own storage (`--root`/`--runroot` in a temp dir, the vfs driver, so
no overlay mounts or fuse are needed), an accept-anything signature policy, an empty
registries.conf and an isolated HOME; the blob-info cache buildah shares with skopeo is
cleared before each call, as support.skopeo does.
buildah needs root here (rootless vfs would need user namespaces); the tests skip
without buildah on PATH or without root. scripts/test.sh installs it with apt-get.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import Server
from support import images, skopeo
from support.registry import Session, sha256_digest

BUILDAH = shutil.which("buildah")
if BUILDAH is None:
    pytest.skip(
        "buildah is not on PATH (scripts/test.sh installs it: apt-get install buildah)",
        allow_module_level=True,
    )
if os.geteuid() != 0:
    pytest.skip("buildah with the vfs driver needs root here", allow_module_level=True)

MANIFEST_TYPES = {"oci": images.OCI_MANIFEST, "docker": images.DOCKER_MANIFEST}
ACCEPT = {"Accept": ", ".join(MANIFEST_TYPES.values())}


@dataclass
class Buildah:
    base: Path

    @property
    def policy(self) -> str:
        return str(self.base / "policy.json")

    def env(self) -> dict[str, str]:
        home = self.base / "home"
        env = dict(os.environ)
        for name in ("REGISTRY_AUTH_FILE", "BUILDAH_FORMAT", "STORAGE_DRIVER", "STORAGE_OPTS"):
            env.pop(name, None)
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_RUNTIME_DIR=str(self.base / "run"),
            CONTAINERS_REGISTRIES_CONF=str(self.base / "registries.conf"),
            CONTAINERS_STORAGE_CONF=str(self.base / "storage.conf"),
        )
        return env

    def run(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            str(BUILDAH),
            "--root",
            str(self.base / "root"),
            "--runroot",
            str(self.base / "runroot"),
            "--storage-driver",
            "vfs",
            *args,
        ]
        # buildah and skopeo share containers/image's blob-info cache (as root, under
        # /var/lib/containers/cache); start from an empty one like support.skopeo does.
        skopeo.clear_blob_info_cache()
        proc = subprocess.run(
            cmd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            shown = " ".join("***" if a.startswith("AWS:") else a for a in cmd)
            raise AssertionError(
                f"buildah exited {proc.returncode}: {shown}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        return proc


@pytest.fixture
def buildah(tmp_path: Path) -> Buildah:
    base = tmp_path / "buildah"
    for sub in ("home", "run", "root", "runroot"):
        (base / sub).mkdir(parents=True)
    (base / "run").chmod(0o700)
    (base / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    (base / "registries.conf").write_text("")
    (base / "storage.conf").write_text('[storage]\ndriver = "vfs"\n')
    return Buildah(base)


def build(buildah: Buildah, tmp_path: Path, name: str, fmt: str) -> tuple[str, bytes, str]:
    """`from scratch`, copy one file, label it, commit; returns (local ref, file, label)."""
    content = f"hello from buildah {uuid.uuid4()}\n".encode()
    (tmp_path / "hello.txt").write_bytes(content)
    label = uuid.uuid4().hex
    container = buildah.run("from", "scratch").stdout.strip()
    buildah.run("copy", container, str(tmp_path / "hello.txt"), "/hello.txt")
    buildah.run("config", "--label", f"org.berth.test={label}", container)
    local = f"localhost/berth-test/{name}:v1"
    buildah.run("commit", "--quiet", "--rm", "--format", fmt, container, local)
    return local, content, label


def remote(server: Server, repository: str, tag: str = "v1") -> str:
    return f"{server.host}/{server.alias}/{repository}:{tag}"


def check_pushed(
    server: Server, ecr: Any, repository: str, digest: str, fmt: str
) -> dict[str, Any]:
    got = Session(server, repository).get("manifests/v1", headers=ACCEPT)
    assert got.status_code == 200, got.text
    assert sha256_digest(got.content) == digest
    assert got.headers["Docker-Content-Digest"] == digest
    assert got.headers["Content-Type"] == MANIFEST_TYPES[fmt]
    (detail,) = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert detail["imageDigest"] == digest
    assert detail["imageTags"] == ["v1"]
    assert detail["imageManifestMediaType"] == MANIFEST_TYPES[fmt]
    manifest: dict[str, Any] = got.json()
    return manifest


@pytest.mark.parametrize("fmt", ["oci", "docker"])
def test_build_push_pull(
    server: Server, repository: str, ecr: Any, buildah: Buildah, tmp_path: Path, fmt: str
) -> None:
    local, content, label = build(buildah, tmp_path, fmt, fmt)
    digestfile = tmp_path / "digest"
    buildah.run(
        "push",
        "--signature-policy",
        buildah.policy,
        "--tls-verify=false",
        "--creds",
        server.creds(),
        "--format",
        "oci" if fmt == "oci" else "v2s2",
        "--digestfile",
        str(digestfile),
        local,
        f"docker://{remote(server, repository)}",
    )
    digest = digestfile.read_text().strip()
    manifest = check_pushed(server, ecr, repository, digest, fmt)
    assert len(manifest["layers"]) == 1

    # Forget the local image, pull it back and read the file out of it.
    buildah.run("rmi", "--force", local)
    assert local not in buildah.run("images", "--format", "{{.Name}}:{{.Tag}}").stdout
    ref = remote(server, repository)
    buildah.run(
        "pull",
        "--signature-policy",
        buildah.policy,
        "--tls-verify=false",
        "--quiet",
        f"docker://{ref}",
    )
    info = json.loads(buildah.run("inspect", "--type", "image", ref).stdout)
    assert info["FromImageDigest"] == digest
    labels = (info.get("OCIv1") or {}).get("config", {}).get("Labels") or {}
    assert labels.get("org.berth.test") == label
    container = buildah.run("from", "--pull=never", ref).stdout.strip()
    mountpoint = buildah.run("mount", container).stdout.strip()
    try:
        assert (Path(mountpoint) / "hello.txt").read_bytes() == content
    finally:
        buildah.run("umount", container)
        buildah.run("rm", container)
    buildah.run("rmi", "--force", ref)


def test_login_then_push(
    server: Server, repository: str, ecr: Any, buildah: Buildah, tmp_path: Path
) -> None:
    authfile = tmp_path / "auth.json"
    buildah.run(
        "login",
        "--tls-verify=false",
        "--authfile",
        str(authfile),
        "--username",
        "AWS",
        "--password-stdin",
        server.host,
        input=server.password(),
    )
    assert server.host in json.loads(authfile.read_text())["auths"]
    local, _, _ = build(buildah, tmp_path, "login", "oci")
    digestfile = tmp_path / "digest"
    buildah.run(
        "push",
        "--signature-policy",
        buildah.policy,
        "--tls-verify=false",
        "--authfile",
        str(authfile),
        "--digestfile",
        str(digestfile),
        local,
        f"docker://{remote(server, repository)}",
    )
    check_pushed(server, ecr, repository, digestfile.read_text().strip(), "oci")


def test_login_with_wrong_password_fails(server: Server, buildah: Buildah, tmp_path: Path) -> None:
    authfile = tmp_path / "auth.json"
    proc = buildah.run(
        "login",
        "--tls-verify=false",
        "--authfile",
        str(authfile),
        "--username",
        "AWS",
        "--password-stdin",
        server.host,
        input="not-the-password",
        check=False,
    )
    assert proc.returncode != 0, proc.stdout
    assert not authfile.exists() or server.host not in authfile.read_text()


def test_anonymous_push_is_refused(
    server: Server, repository: str, ecr: Any, buildah: Buildah, tmp_path: Path
) -> None:
    local, _, _ = build(buildah, tmp_path, "anonymous", "oci")
    empty_auth = tmp_path / "empty-auth.json"
    empty_auth.write_text('{"auths": {}}')
    proc = buildah.run(
        "push",
        "--signature-policy",
        buildah.policy,
        "--tls-verify=false",
        "--retry",
        "0",
        "--authfile",
        str(empty_auth),
        local,
        f"docker://{remote(server, repository)}",
        check=False,
    )
    assert proc.returncode != 0, proc.stdout
    assert "unauthorized" in proc.stderr.lower() or "denied" in proc.stderr.lower(), proc.stderr
    assert Session(server, repository).get("tags/list").json()["tags"] == []
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []
