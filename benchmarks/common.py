"""Shared pieces of the benchmarks: servers, pretouch, a small registry client, /proc readings.

Everything listens on 127.0.0.1 only. Every server started here is stopped by
`Server.stop()` (used in try/finally by the scripts), which ends the process
group it was started in.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import mmap
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import requests

MiB = 1024 * 1024
GiB = 1024 * MiB
HOST = "127.0.0.1"
DISTRIBUTION_BIN = "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
STREAM_CHUNK = 1 * MiB

_DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
{storage}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {host}:{port}
health:
  storagedriver:
    enabled: false
"""
_DISTRIBUTION_FS = """\
  filesystem:
    rootdirectory: {root}"""
# Blobs stream through distribution as through berth (no redirect to the store).
_DISTRIBUTION_S3 = """\
  s3:
    accesskey: bench
    secretkey: bench
    region: us-east-1
    regionendpoint: {endpoint}
    bucket: {bucket}
    rootdirectory: /{prefix}
    secure: false
    v4auth: true
  redirect:
    disable: true"""

STORES = ("sqlite-fs", "postgres-s3")
POSTGRES_ADMIN = os.environ.get("BERTH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


class Backing:
    """What a `postgres-s3` run stores in: moto's S3 server (one bucket, a prefix per
    target) and a fresh PostgreSQL database per berth. Both targets use the same S3
    server, so the ratio compares the registries, not the stores."""

    bucket = "bench"

    def __init__(self, tmp: Path | None = None) -> None:
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.workdir = Path(tempfile.mkdtemp(prefix="moto-bench-", dir=tmp))
        self.databases: list[str] = []
        with (self.workdir / "moto.log").open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.put(f"{self.endpoint}/{self.bucket}", timeout=5).raise_for_status()
                break
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.2)

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
        }

    def database(self) -> str:
        name = f"berth_bench_{os.urandom(6).hex()}"
        _psql(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"

    def stop(self) -> None:
        for name in self.databases:
            _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _psql(statement: str) -> None:
    subprocess.run(["psql", "-q", POSTGRES_ADMIN, "-c", statement], check=True, timeout=60)


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A registry process we started, with what a client needs to reach it."""

    name: str
    url: str
    prefix: str  # path part before the repository name on /v2 ("berth/" or "")
    process: subprocess.Popen[bytes]
    workdir: Path
    password: str | None = None  # berth's AWS:<password>
    log: Path | None = None
    repos: set[str] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.process.pid

    def create_repository(self, repo: str) -> None:
        if repo in self.repos:
            return
        if self.name.startswith("berth"):
            _ecr(self.url).create_repository(repositoryName=repo)
        self.repos.add(repo)

    def client(self, repo: str, actions: str = "pull,push") -> Registry:
        self.create_repository(repo)
        client = Registry(self.url, self.prefix + repo, self.password)
        client.login(actions)
        return client

    def cpu(self) -> float:
        return tree_cpu_seconds(self.pid)

    def rss(self) -> int:
        return tree_rss_bytes(self.pid)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 10 s, and remove the data."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Workers of the group that outlived the leader.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_ready(server: Server, expect: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}")
        try:
            status = requests.get(f"{server.url}/v2/", timeout=2).status_code
            if status == expect:
                return
            last = status
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready after {timeout} s: {last}")


def berth_env() -> dict[str, str]:
    """The environment berth runs in: `BERTH_SRC=DIR` puts DIR (a `src` folder, e.g. from
    `git archive HEAD src | tar -x -C /tmp/snap`) before the installed berth, to measure
    a fixed commit while the work tree changes."""
    env = dict(os.environ)
    source = os.environ.get("BERTH_SRC")
    if source:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (source, env.get("PYTHONPATH"))))
    return env


def berth_version() -> str:
    """Which berth is measured: BERTH_SRC, or the installed work tree's commit."""
    source = os.environ.get("BERTH_SRC")
    if source:
        return f"berth from {source}"
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = "?"
    return f"berth {commit}"


def start_berth(
    workers: int = 1, tmp: Path | None = None, backing: Backing | None = None
) -> Server:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="berth-bench-", dir=tmp))
    log = workdir / "server.log"
    env = berth_env()
    stores: tuple[str, ...] = ()
    if backing is not None:
        env.update(backing.env)
        prefix = f"berth-{port}"
        stores = ("--metadata", backing.database(), "--blobs", f"s3://{backing.bucket}/{prefix}")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "berth", "serve"),
                *("--host", HOST, "--port", str(port), "--data", str(workdir / "data")),
                *("--workers", str(workers), "--log-level", "warning"),
                *stores,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    name = "berth" if workers == 1 else f"berth-w{workers}"
    server = Server(name, f"http://{HOST}:{port}", "berth/", process, workdir, log=log)
    try:
        _wait_ready(server, 401)
        if workers > 1:
            # SO_REUSEPORT: wait until every worker is up and has bound the port.
            deadline = time.monotonic() + 30
            while len(tree_pids(server.pid)) < workers + 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)
        server.password = berth_password(server.url)
    except BaseException:
        server.stop()
        raise
    return server


def start_distribution(tmp: Path | None = None, backing: Backing | None = None) -> Server:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="distribution-bench-", dir=tmp))
    config = workdir / "config.yml"
    if backing is None:
        storage = _DISTRIBUTION_FS.format(root=workdir / "data")
    else:
        storage = _DISTRIBUTION_S3.format(
            endpoint=backing.endpoint, bucket=backing.bucket, prefix=f"distribution-{port}"
        )
    config.write_text(_DISTRIBUTION_CONFIG.format(storage=storage, host=HOST, port=port))
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [DISTRIBUTION_BIN, "serve", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Its AWS SDK panics on an AWS_CA_BUNDLE with its custom transport; S3 here is HTTP.
            env={k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"},
        )
    server = Server("distribution", f"http://{HOST}:{port}", "", process, workdir, log=log)
    try:
        _wait_ready(server, 200)
    except BaseException:
        server.stop()
        raise
    return server


def start(
    target: str, workers: int = 1, tmp: Path | None = None, backing: Backing | None = None
) -> Server:
    if target == "berth":
        return start_berth(workers, tmp, backing)
    if target == "distribution":
        return start_distribution(tmp, backing)
    raise ValueError(target)


def _ecr(url: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "ecr-public",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def berth_password(url: str) -> str:
    token = _ecr(url).get_authorization_token()["authorizationData"]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    assert user == "AWS", user
    return password


# ---------------------------------------------------------------- memory and the machine


PRETOUCH = 3 * GiB  # bytes pretouch() writes by default; the scripts lower it for --quick


def pretouch(size: int | None = None) -> None:
    """Write to `size` bytes of fresh anonymous memory and free it.

    The VM hands free memory back to its host and the first touch of such a
    page is slow; doing this before every timed transfer, for every target
    alike, keeps the order of runs from deciding the result.
    """
    size = PRETOUCH if size is None else size
    block = b"\xa5" * (64 * MiB)
    area = mmap.mmap(-1, size)
    try:
        for offset in range(0, size, len(block)):
            area[offset : offset + len(block)] = block[: size - offset]
    finally:
        area.close()


def cpu_busy_fraction(interval: float = 1.0) -> float:
    """Fraction of all cores busy over `interval` (from /proc/stat)."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values), idle

    total0, idle0 = read()
    time.sleep(interval)
    total1, idle1 = read()
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


QUIET_WAIT = 60.0  # seconds wait_quiet may wait; the scripts lower it for --quick


def wait_quiet(threshold: float = 0.15, max_wait: float | None = None) -> float:
    """Wait (bounded) until the machine is mostly idle; return the last busy fraction.

    Other work on the VM (test suites of other sessions) steals the 2 cores;
    the figures are only comparable when it is quiet.
    """
    deadline = time.monotonic() + (QUIET_WAIT if max_wait is None else max_wait)
    busy = cpu_busy_fraction(0.5)
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy_fraction(0.5)
    if busy > threshold:
        print(f"  (warning: machine {busy:.0%} busy with other work)", file=sys.stderr)
    return busy


def _busy_ticks() -> int:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4]


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Meter:
    """Times a block: wall seconds, CPU seconds of each server's process tree, and the
    share of the machine that other processes (not the servers, not this script and
    its waited-for children) used meanwhile, as a check on the figure."""

    def __init__(self, *servers: Server) -> None:
        self.servers = servers
        self.seconds = 0.0
        self.cpu: dict[str, float] = {}
        self.other = 0.0

    def __enter__(self) -> Meter:
        self._cpu0 = {s.name: s.cpu() for s in self.servers}
        self._own0 = _own_cpu()
        self._busy0 = _busy_ticks()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        busy = (_busy_ticks() - self._busy0) / CLOCK_TICKS
        own = _own_cpu() - self._own0
        self.cpu = {s.name: s.cpu() - self._cpu0[s.name] for s in self.servers}
        other = busy - own - sum(self.cpu.values())
        self.other = max(other, 0.0) / (max(self.seconds, 1e-9) * (os.cpu_count() or 1))


# ---------------------------------------------------------------- /proc readings


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree_pids(pid: int) -> list[int]:
    children = _children_map()
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children.get(current, []))
    return pids


def tree_cpu_seconds(pid: int) -> float:
    """utime+stime of a process and all its living descendants."""
    ticks = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def tree_rss_bytes(pid: int) -> int:
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_SIZE
        except OSError:
            continue
    return total


class RssSampler:
    """Samples the RSS of a process tree every `interval` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._pids = tree_pids(pid)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            total = 0
            for p in self._pids:
                try:
                    with open(f"/proc/{p}/statm") as f:
                        total += int(f.read().split()[1]) * PAGE_SIZE
                except OSError:
                    continue
            self.samples.append((time.monotonic() - start, total))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max(rss for _t, rss in self.samples)


# ---------------------------------------------------------------- blob files


def random_file(path: Path, size: int):  # type: ignore[no-untyped-def]
    """Write `size` random bytes to `path` in 16 MiB pieces; return its sha256 hasher."""
    hasher = hashlib.sha256()
    piece = 16 * MiB
    with path.open("wb") as f:
        written = 0
        while written < size:
            data = os.urandom(min(piece, size - written))
            hasher.update(data)
            f.write(data)
            written += len(data)
    return hasher


def digest_with(hasher, suffix: bytes = b"") -> str:  # type: ignore[no-untyped-def]
    """The digest of what `hasher` has seen followed by `suffix`."""
    copy = hasher.copy()
    copy.update(suffix)
    return "sha256:" + copy.hexdigest()


def file_hasher(path: Path):  # type: ignore[no-untyped-def]
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(16 * MiB):
            hasher.update(chunk)
    return hasher


class FileBody:
    """A request body streamed from `path[start:end]` plus `suffix`, in 1 MiB writes.

    requests takes the length from __len__ (so it sends Content-Length, not
    chunked encoding) and iterates; one buffer is reused, nothing is held.
    """

    def __init__(self, path: Path, start: int = 0, end: int | None = None, suffix: bytes = b""):
        self.path = path
        self.start = start
        self.end = path.stat().st_size if end is None else end
        self.suffix = suffix

    def __len__(self) -> int:
        return self.end - self.start + len(self.suffix)

    def __iter__(self) -> Iterator[memoryview | bytes]:
        buffer = bytearray(STREAM_CHUNK)
        view = memoryview(buffer)
        with self.path.open("rb", buffering=0) as f:
            f.seek(self.start)
            remaining = self.end - self.start
            while remaining > 0:
                n = f.readinto(view[: min(STREAM_CHUNK, remaining)])
                if not n:
                    raise EOFError(f"{self.path} ended early")
                remaining -= n
                yield view[:n]
        if self.suffix:
            yield self.suffix


# ---------------------------------------------------------------- registry client

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class Registry:
    """A tiny /v2 client for one repository: token flow when challenged, else none."""

    def __init__(self, url: str, name: str, password: str | None = None) -> None:
        self.url = url
        self.name = name
        self.password = password
        self.session = requests.Session()
        self.token: str | None = None

    def login(self, actions: str = "pull,push") -> None:
        reply = self.session.get(f"{self.url}/v2/", timeout=10)
        if reply.status_code == 200:
            return
        challenge = reply.headers.get("WWW-Authenticate", "")
        if reply.status_code != 401 or not challenge.lower().startswith("bearer"):
            raise RuntimeError(f"unexpected /v2/ reply {reply.status_code} {challenge!r}")
        params = dict(_CHALLENGE.findall(challenge))
        auth = ("AWS", self.password) if self.password else None
        token = self.session.get(
            params["realm"],
            params={
                "service": params.get("service", ""),
                "scope": f"repository:{self.name}:{actions}",
            },
            auth=auth,
            timeout=10,
        )
        token.raise_for_status()
        self.token = token.json()["token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def v2(self, path: str) -> str:
        return f"{self.url}/v2/{self.name}/{path}"

    @staticmethod
    def _check(reply: requests.Response, *expected: int) -> requests.Response:
        if reply.status_code not in expected:
            raise RuntimeError(
                f"{reply.request.method} {reply.url} -> {reply.status_code}: {reply.text[:300]}"
            )
        return reply

    def _location(self, reply: requests.Response) -> str:
        return urljoin(self.url, reply.headers["Location"])

    def start_upload(self) -> str:
        reply = self._check(self.session.post(self.v2("blobs/uploads/"), timeout=30), 202)
        return self._location(reply)

    def patch(self, location: str, body: object, content_range: str | None = None) -> str:
        headers = {"Content-Type": "application/octet-stream"}
        if content_range:
            headers["Content-Range"] = content_range
        reply = self.session.patch(location, data=body, headers=headers, timeout=600)
        return self._location(self._check(reply, 202))

    def finish(self, location: str, digest: str, body: object = b"") -> None:
        sep = "&" if "?" in location else "?"
        reply = self.session.put(
            f"{location}{sep}digest={digest}",
            data=body,
            headers={"Content-Type": "application/octet-stream"},
            timeout=600,
        )
        self._check(reply, 201)

    def push_stream(self, body: FileBody, digest: str) -> None:
        """POST, one streamed PATCH of the whole body, PUT ?digest."""
        location = self.patch(self.start_upload(), body)
        self.finish(location, digest)

    def push_chunked(self, body: FileBody, digest: str, chunk: int = 16 * MiB) -> None:
        """POST, PATCH `chunk`-sized pieces with Content-Range, PUT ?digest."""
        location = self.start_upload()
        file_end = body.end
        offset = body.start
        sent = 0
        while offset < file_end:
            end = min(offset + chunk, file_end)
            suffix = body.suffix if end == file_end else b""
            piece = FileBody(body.path, offset, end, suffix)
            location = self.patch(location, piece, f"{sent}-{sent + len(piece) - 1}")
            sent += len(piece)
            offset = end
        self.finish(location, digest)

    def push_bytes(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.finish(self.start_upload(), digest, data)
        return digest

    def pull(self, digest: str) -> int:
        """GET a blob, discarding it while counting the bytes."""
        buffer = bytearray(STREAM_CHUNK)
        view = memoryview(buffer)
        with self.session.get(self.v2(f"blobs/{digest}"), stream=True, timeout=600) as reply:
            self._check(reply, 200)
            raw = reply.raw._fp  # http.client.HTTPResponse: readinto without extra copies
            total = 0
            while n := raw.readinto(view):
                total += n
        return total

    def put_manifest(self, reference: str, body: bytes, media_type: str = OCI_MANIFEST) -> str:
        reply = self.session.put(
            self.v2(f"manifests/{reference}"),
            data=body,
            headers={"Content-Type": media_type},
            timeout=30,
        )
        self._check(reply, 201)
        return reply.headers.get("Docker-Content-Digest", "")


def push_small_image(client: Registry, tag: str = "v1", layer_size: int = 1024) -> str:
    """Push config + one layer + an OCI manifest; return the manifest's bytes' digest."""
    import json

    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    layer = os.urandom(layer_size)
    config_digest = client.push_bytes(config)
    layer_digest = client.push_bytes(layer)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
        }
    ).encode()
    client.put_manifest(tag, manifest)
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


# ---------------------------------------------------------------- reporting


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def report(
    title: str,
    results: dict[str, dict[str, list[float]]],
    measures: list[tuple[str, str]],
    other_load: list[float],
) -> None:
    """Print the medians of two targets' results side by side with their ratio."""
    b, d = results
    med = {n: {k: median(v) for k, v in results[n].items()} for n in (b, d)}
    rows: list[list[object]] = [
        [label, med[b][key], med[d][key], ratio(med[b][key], med[d][key])]
        for key, label in measures
    ]
    print(
        f"\n{title}, {time.strftime('%Y-%m-%d')}; other load during timed runs: "
        f"median {median(other_load):.0%}, max {max(other_load):.0%}"
    )
    print(table(["measure", b, d, f"{b}/{d}"], rows))


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def check_disk(path: Path, need: int) -> None:
    free = shutil.disk_usage(path).free
    if free < need:
        raise SystemExit(f"need {need / GiB:.1f} GiB free in {path}, have {free / GiB:.1f} GiB")


# The Debian package that ships each tool the benchmarks drive.
PACKAGES = {
    DISTRIBUTION_BIN: "docker-registry",
    "wrk": "wrk",
    "ab": "apache2-utils",
    "skopeo": "skopeo",
}


def tools(*names: str) -> None:
    """Install the Debian packages of the tools that are missing (as root, or with sudo)."""
    missing = [n for n in names if shutil.which(n) is None and not Path(n).exists()]
    if not missing:
        return
    packages = sorted({PACKAGES[n] for n in missing})
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing {', '.join(packages)} ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *packages], check=True, env=env)
