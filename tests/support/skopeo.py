"""Drive skopeo (1.9.x) against a local registry in tests.

Every call:
  * deletes skopeo's blob-info cache first; otherwise skopeo remembers which blobs it has
    seen in which repository and HEADs/mounts them (`POST ...?mount=&from=`) instead of
    uploading, so one test's pushes would change what the next test exercises;
  * runs with an isolated HOME / XDG dirs / DOCKER_CONFIG and an explicit `--authfile`, so
    neither the user's auth config nor their registries.conf overrides are read or written;
  * adds `--insecure-policy` (no dependency on /etc/containers/policy.json) and the
    TLS-verify-off flags the subcommand understands (the registry under test speaks HTTP).

Observed skopeo 1.9.3 behaviour worth knowing:
  * `inspect --raw` writes the manifest bytes exactly, with no trailing newline added.
  * `delete docker://r/x:tag` GETs the manifest, digests the *body* (it ignores the
    Docker-Content-Digest header) and sends `DELETE /v2/x/manifests/<digest>`; it exits 1
    if the GET fails. Deleting by tag therefore deletes the manifest for every tag.
  * With `--tls-verify=false` it first tries HTTPS on the port, then falls back to HTTP, so
    the server sees a garbage (TLS ClientHello) connection before each session.
  * `list-tags` rejects references that carry a tag or digest.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"

# Transports skopeo 1.9.3 knows; used to spot the image-reference positionals of `copy`.
_TRANSPORTS = (
    "docker://",
    "oci:",
    "oci-archive:",
    "dir:",
    "docker-archive:",
    "docker-daemon:",
    "containers-storage:",
    "ostree:",
    "sif:",
    "tarball:",
)

# Subcommands with separate source/destination flag families.
_TWO_SIDED = {"copy", "sync"}
# Subcommands that take a single `--tls-verify` (login/logout included).
_ONE_SIDED_TLS = {"inspect", "list-tags", "delete", "login", "logout", "layers"}
# Subcommands that take `--creds` / `--authfile` for a single registry.
_ONE_SIDED_CREDS = {"inspect", "list-tags", "delete", "layers"}
_AUTHFILE_CMDS = _TWO_SIDED | _ONE_SIDED_CREDS | {"login", "logout"}

_workdir: Path | None = None


def _state_dir() -> Path:
    """Per-process scratch dir holding the fake HOME and both auth files."""
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="berth-skopeo-"))
        atexit.register(shutil.rmtree, _workdir, True)
        (_workdir / "home").mkdir()
        reset_login()
    return _workdir


def login_authfile() -> Path:
    """Auth file written by `login()` and read when `use_login=True`."""
    return _state_dir() / "login-auth.json"


def _empty_authfile() -> Path:
    # Used when use_login=False so stored logins never leak into "anonymous" calls.
    path = _state_dir() / "empty-auth.json"
    path.write_text('{"auths": {}}')
    return path


def reset_login() -> None:
    """Forget every `login()` made so far."""
    (_state_dir() / "login-auth.json").write_text('{"auths": {}}')


def _env() -> dict[str, str]:
    home = _state_dir() / "home"
    env = dict(os.environ)
    env.pop("REGISTRY_AUTH_FILE", None)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        DOCKER_CONFIG=str(home / ".docker"),
    )
    return env


def _blob_info_cache_dirs() -> list[Path]:
    # As root, containers/image (v5.23, in skopeo 1.9.3) keeps its cache in
    # /var/lib/containers/cache/blob-info-cache-v1.boltdb (verified). Rootless it uses
    # $XDG_DATA_HOME or ~/.local/share/containers/cache; newer releases use .sqlite.
    dirs = [Path("/var/lib/containers/cache"), Path.home() / ".local/share/containers/cache"]
    if xdg := os.environ.get("XDG_DATA_HOME"):
        dirs.append(Path(xdg) / "containers/cache")
    if _workdir is not None:
        dirs.append(_workdir / "home/.local/share/containers/cache")
    return dirs


def clear_blob_info_cache() -> None:
    for directory in _blob_info_cache_dirs():
        # Also catches .sqlite-wal/-shm and bolt lock files.
        for path in directory.glob("blob-info-cache-v1*"):
            path.unlink(missing_ok=True)


def _is_ref(arg: str) -> bool:
    return not arg.startswith("-") and arg.startswith(_TRANSPORTS)


def _has_flag(args: Sequence[str], name: str) -> bool:
    return any(a == name or a.startswith(name + "=") for a in args)


def _redact(cmd: Sequence[str]) -> str:
    out: list[str] = []
    hide_next = False
    for arg in cmd:
        if hide_next:
            out.append("***")
            hide_next = False
        elif arg in ("--creds", "--src-creds", "--dest-creds", "--password"):
            out.append(arg)
            hide_next = True
        elif "creds=" in arg or arg.startswith("--password="):
            out.append(arg.split("=", 1)[0] + "=***")
        else:
            out.append(arg)
    return " ".join(out)


def _build_command(
    args: Sequence[str],
    *,
    creds: str | None,
    src_creds: str | None,
    dest_creds: str | None,
    use_login: bool,
) -> list[str]:
    if not args or args[0].startswith("-"):
        raise ValueError("first argument must be the skopeo subcommand, e.g. 'copy'")
    sub, rest = args[0], list(args[1:])
    added: list[str] = []

    if sub in _TWO_SIDED:
        for flag in ("--src-tls-verify", "--dest-tls-verify"):
            if not _has_flag(rest, flag):
                added.append(f"{flag}=false")
        # The last two transport-prefixed positionals are SOURCE and DESTINATION.
        refs = [a for a in rest if _is_ref(a)][-2:]
        if creds is not None and len(refs) == 2:
            if refs[0].startswith("docker://") and src_creds is None:
                src_creds = creds
            if refs[1].startswith("docker://") and dest_creds is None:
                dest_creds = creds
            if not (refs[0].startswith("docker://") or refs[1].startswith("docker://")):
                raise ValueError(f"creds given but neither side is docker://: {refs}")
        if src_creds is not None:
            added += ["--src-creds", src_creds]
        if dest_creds is not None:
            added += ["--dest-creds", dest_creds]
    else:
        if src_creds is not None or dest_creds is not None:
            raise ValueError(f"src_creds/dest_creds only apply to copy/sync, not {sub!r}")
        if sub in _ONE_SIDED_TLS and not _has_flag(rest, "--tls-verify"):
            added.append("--tls-verify=false")
        if creds is not None:
            if sub not in _ONE_SIDED_CREDS:
                raise ValueError(f"skopeo {sub} takes no --creds")
            added += ["--creds", creds]

    if sub in _AUTHFILE_CMDS and not _has_flag(rest, "--authfile"):
        authfile = login_authfile() if use_login or sub in ("login", "logout") else None
        added += ["--authfile", str(authfile or _empty_authfile())]

    return [SKOPEO, "--insecure-policy", sub, *added, *rest]


def _run(
    args: Sequence[str],
    *,
    creds: str | None = None,
    src_creds: str | None = None,
    dest_creds: str | None = None,
    use_login: bool = False,
    check: bool = True,
    timeout: float = 120,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    cmd = _build_command(
        args, creds=creds, src_creds=src_creds, dest_creds=dest_creds, use_login=use_login
    )
    clear_blob_info_cache()
    try:
        proc = subprocess.run(
            cmd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            env=_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"skopeo timed out after {timeout}s: {_redact(cmd)}\n"
            f"--- stdout ---\n{_text(exc.stdout)}\n--- stderr ---\n{_text(exc.stderr)}"
        ) from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"skopeo exited {proc.returncode}: {_redact(cmd)}\n"
            f"--- stdout ---\n{_text(proc.stdout)}\n--- stderr ---\n{_text(proc.stderr)}"
        )
    return proc


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def skopeo(
    *args: str,
    creds: str | None = None,
    check: bool = True,
    timeout: float = 120,
    use_login: bool = False,
    src_creds: str | None = None,
    dest_creds: str | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `skopeo <args>` with the cache cleared, TLS verification off and isolated auth.

    `creds` ("user:pass") goes to `--creds`, or for copy/sync to whichever side(s) are
    docker:// (`src_creds`/`dest_creds` override per side). `use_login=True` reads the
    auth file that `login()` wrote; otherwise an empty one is used (anonymous).
    """
    proc = _run(
        args,
        creds=creds,
        src_creds=src_creds,
        dest_creds=dest_creds,
        use_login=use_login,
        check=check,
        timeout=timeout,
        input=None if input is None else input.encode(),
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, _text(proc.stdout), _text(proc.stderr)
    )


def copy(
    src: str,
    dst: str,
    *,
    creds: str | None = None,
    all: bool = False,
    format: str | None = None,
    use_login: bool = False,
    preserve_digests: bool = False,
    src_creds: str | None = None,
    dest_creds: str | None = None,
    extra: Sequence[str] = (),
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`skopeo copy`. `format` is "oci", "v2s2" or "v2s1"; `preserve_digests` makes skopeo
    fail rather than silently rewrite a manifest (so the pushed digest is the source's)."""
    args = ["copy"]
    if all:
        args.append("--all")
    if format is not None:
        args += ["--format", format]
    if preserve_digests:
        args.append("--preserve-digests")
    args += [*extra, src, dst]
    return skopeo(
        *args,
        creds=creds,
        src_creds=src_creds,
        dest_creds=dest_creds,
        use_login=use_login,
        check=check,
        timeout=timeout,
    )


def inspect_raw(ref: str, creds: str | None = None, *, use_login: bool = False) -> bytes:
    """Exact manifest bytes (skopeo 1.9.3 prints them verbatim, no newline appended)."""
    return _run(["inspect", "--raw", ref], creds=creds, use_login=use_login).stdout


def inspect_config(ref: str, creds: str | None = None, *, use_login: bool = False) -> bytes:
    """Exact config blob bytes (`inspect --raw --config`)."""
    return _run(["inspect", "--raw", "--config", ref], creds=creds, use_login=use_login).stdout


def inspect(ref: str, creds: str | None = None, *, use_login: bool = False) -> dict[str, Any]:
    """skopeo's own summary JSON (Digest, RepoTags, Architecture, Layers, ...)."""
    out = skopeo("inspect", ref, creds=creds, use_login=use_login).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def list_tags(ref: str, creds: str | None = None, *, use_login: bool = False) -> list[str]:
    """Tags of `docker://host/repo` (no tag/digest allowed in `ref`)."""
    out = skopeo("list-tags", ref, creds=creds, use_login=use_login).stdout
    tags: list[str] = json.loads(out)["Tags"] or []
    return tags


def delete(
    ref: str, creds: str | None = None, *, use_login: bool = False, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return skopeo("delete", ref, creds=creds, use_login=use_login, check=check)


def login(
    registry: str, username: str, password: str, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`skopeo login --password-stdin` into the isolated auth file (see `login_authfile()`).

    On success skopeo prints "Login Succeeded!"; on bad credentials it exits 1 and leaves
    the auth file unchanged.
    """
    return skopeo(
        "login", "--username", username, "--password-stdin", registry, input=password, check=check
    )


def logout(registry: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return skopeo("logout", registry, check=check)
