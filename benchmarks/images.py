"""Whole-image push and pull with skopeo: berth against CNCF distribution, side by side.

    python benchmarks/images.py                  # a 1 GiB image (4 layers), median of 3
    python benchmarks/images.py --quick          # a 64 MiB image, 1 run
    python benchmarks/images.py --store postgres-s3 --size 256

For each run and target, builds an OCI layout of `--layers` layers of fresh random
bytes (so no run finds a blob already stored) plus a config and an OCI manifest,
then times `skopeo copy oci:DIR docker://target/...` (push) and `skopeo copy
docker://target/... oci:OUT` (pull) after a pretouch, with skopeo's blob-info
cache cleared first (it would otherwise mount or skip blobs it has seen).
skopeo's own work (hashing, writing the pulled layout) is in both figures alike;
the ratio and the server's CPU seconds per GiB show the registries' share.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import common
from common import GiB, MiB

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
# As root, skopeo (containers/image) keeps what it learnt of blobs here; newer ones use .sqlite.
BLOB_INFO_CACHES = (
    Path("/var/lib/containers/cache"),
    Path.home() / ".local/share/containers/cache",
)


def _blobs(layout: Path) -> Path:
    folder = layout / "blobs" / "sha256"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (_blobs(layout) / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def build_layout(layout: Path, size: int, layers: int) -> int:
    """An OCI layout with `layers` random layers adding up to `size` bytes; its total size."""
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descriptors = []
    for n in range(layers):
        part = layout / f"layer-{n}.bin"
        digest = common.random_file(part, size // layers).hexdigest()
        part.rename(_blobs(layout) / digest)
        descriptors.append(
            {"mediaType": common.OCI_LAYER, "digest": "sha256:" + digest, "size": size // layers}
        )
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
        }
    ).encode()
    config_digest, config_size = _write_blob(layout, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": common.OCI_MANIFEST,
            "config": {
                "mediaType": common.OCI_CONFIG,
                "digest": config_digest,
                "size": config_size,
            },
            "layers": descriptors,
        }
    ).encode()
    manifest_digest, manifest_size = _write_blob(layout, manifest)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": common.OCI_MANIFEST,
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    return sum(d["size"] for d in descriptors) + config_size + manifest_size


class Skopeo:
    """skopeo with its own HOME and an empty auth file, so nothing of the user's is read."""

    def __init__(self, workdir: Path) -> None:
        common.tools("skopeo")
        self.home = workdir / "skopeo-home"
        self.home.mkdir()
        self.authfile = workdir / "auth.json"
        self.authfile.write_text('{"auths": {}}')

    def copy(self, source: str, destination: str, creds: str | None, push: bool) -> None:
        for folder in BLOB_INFO_CACHES:
            for cache in folder.glob("blob-info-cache-v1.*"):
                cache.unlink()
        side = "--dest" if push else "--src"
        command = ["skopeo", "copy", "--insecure-policy", "--authfile", str(self.authfile)]
        command += [f"{side}-tls-verify=false"]
        command += [f"{side}-creds", creds] if creds else [f"{side}-no-creds"]
        env = {**os.environ, "HOME": str(self.home), "XDG_RUNTIME_DIR": str(self.home)}
        subprocess.run(
            [*command, source, destination],
            check=True,
            capture_output=True,
            env=env,
            timeout=1800,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="image size in MiB [1024]")
    parser.add_argument("--layers", type=int, default=4, help="layers per image [4]")
    parser.add_argument("--runs", type=int, default=3, help="runs; median [3]")
    parser.add_argument("--workers", type=int, default=1, help="berth worker processes [1]")
    parser.add_argument("--store", choices=common.STORES, default="sqlite-fs", help="[sqlite-fs]")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for files and data")
    parser.add_argument("--quick", action="store_true", help="64 MiB, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.size, args.runs = min(args.size, 64), 1
        common.QUIET_WAIT, common.PRETOUCH = 3, 1 * GiB
    common.tools("skopeo", common.DISTRIBUTION_BIN)
    tmp = args.tmp or Path(tempfile.gettempdir())
    common.check_disk(tmp, args.size * MiB * 6 + 2 * GiB)
    workdir = Path(tempfile.mkdtemp(prefix="images-bench-", dir=tmp))
    skopeo = Skopeo(workdir)
    servers: list[common.Server] = []
    backing: common.Backing | None = None
    res: dict[str, dict[str, list[float]]] = {}
    other: list[float] = []
    try:
        if args.store == "postgres-s3":
            backing = common.Backing(tmp)
        servers = [
            common.start("berth", args.workers, tmp, backing),
            common.start("distribution", tmp=tmp, backing=backing),
        ]
        for run in range(args.runs):
            order = servers if run % 2 == 0 else servers[::-1]
            for server in order:
                repo = f"bench/image-{run}"
                server.create_repository(repo)
                host = server.url.removeprefix("http://")
                reference = f"docker://{host}/{server.prefix}{repo}:v1"
                creds = f"AWS:{server.password}" if server.password else None
                layout = workdir / f"{server.name}-{run}"
                pulled = workdir / f"{server.name}-{run}-pulled"
                total = build_layout(layout, args.size * MiB, args.layers)
                for kind, source, destination in (
                    ("push", f"oci:{layout}:v1", reference),
                    ("pull", reference, f"oci:{pulled}:v1"),
                ):
                    os.sync()
                    common.wait_quiet()
                    common.pretouch()
                    with common.Meter(server) as meter:
                        skopeo.copy(source, destination, creds, push=kind == "push")
                    other.append(meter.other)
                    cpu = meter.cpu[server.name]
                    res.setdefault(server.name, {}).setdefault(kind, []).append(
                        total / MiB / meter.seconds
                    )
                    res[server.name].setdefault(kind + "_cpu", []).append(cpu / (total / GiB))
                    print(
                        f"  run {run + 1} {server.name:<12} skopeo {kind} {total / MiB:6.0f} MiB "
                        f"{meter.seconds:7.2f} s server {cpu:6.2f} CPU-s, "
                        f"other load {meter.other:4.0%}",
                        file=sys.stderr,
                    )
                shutil.rmtree(layout)
                shutil.rmtree(pulled)
    finally:
        for server in servers:
            server.stop()
        if backing is not None:
            backing.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    common.report(
        f"images: median of {args.runs}, berth workers={args.workers}, store {args.store}",
        res,
        [
            ("push", f"skopeo push, {args.size} MiB in {args.layers} layers (MiB/s)"),
            ("pull", f"skopeo pull, {args.size} MiB in {args.layers} layers (MiB/s)"),
            ("push_cpu", "  server CPU-s per GiB, push"),
            ("pull_cpu", "  server CPU-s per GiB, pull"),
        ],
        other,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
