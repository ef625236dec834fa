"""Server memory while moving one big blob: is berth's RSS flat?

    python benchmarks/memory.py               # a 4 GiB blob
    python benchmarks/memory.py --quick       # a 256 MiB blob
    python benchmarks/memory.py --size 8      # 8 GiB

Writes a blob file first (in 16 MiB pieces, never held whole), then for each
target (berth, then CNCF distribution for reference) starts a fresh server,
takes its baseline RSS after a small warm-up push and pull, and pushes the
file (POST, one streamed PATCH, PUT ?digest) and pulls it back (GET, discarded
while counted), sampling the RSS of the server's process tree every 0.2 s.
Reports baseline, peak and peak - baseline for the push and the pull; the
target is flat memory (peak - baseline well under 100 MiB). The blob file and
the servers' data are removed afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import common
from common import GiB, MiB


def _blob_file(path: Path, size: int) -> str:
    """Write `size` bytes: a 16 MiB random block repeated, each copy stamped with its
    index so no two pieces are alike; return the sha256 digest."""
    piece = 16 * MiB
    block = bytearray(os.urandom(piece))
    hasher = hashlib.sha256()
    with path.open("wb") as f:
        index = 0
        written = 0
        while written < size:
            block[:16] = index.to_bytes(16, "big")
            data = memoryview(block)[: min(piece, size - written)]
            hasher.update(data)
            f.write(data)
            written += len(data)
            index += 1
    return "sha256:" + hasher.hexdigest()


def _baseline(pid: int, seconds: float = 2.0) -> int:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(common.tree_rss_bytes(pid))
        time.sleep(0.1)
    return int(common.median([float(s) for s in samples]))


def measure(target: str, path: Path, digest: str, workers: int, interval: float) -> dict:  # type: ignore[type-arg]
    server = common.start(target, workers, path.parent)
    try:
        client = server.client("bench/memory")
        # Warm up every code path once so imports and pools are in the baseline.
        small = os.urandom(4 * MiB)
        warm = client.push_bytes(small)
        client.pull(warm)
        common.pretouch()
        base = _baseline(server.pid)
        with common.RssSampler(server.pid, interval) as pushing:
            start = time.perf_counter()
            client.push_stream(common.FileBody(path), digest)
            push_seconds = time.perf_counter() - start
        common.pretouch()
        with common.RssSampler(server.pid, interval) as pulling:
            start = time.perf_counter()
            got = client.pull(digest)
            pull_seconds = time.perf_counter() - start
        size = path.stat().st_size
        if got != size:
            raise RuntimeError(f"pulled {got} bytes of {size}")
        after = _baseline(server.pid, 1.0)
    finally:
        server.stop()
    return {
        "name": server.name,
        "base": base,
        "push_peak": pushing.peak,
        "pull_peak": pulling.peak,
        "after": after,
        "push_mibs": size / MiB / push_seconds,
        "pull_mibs": size / MiB / pull_seconds,
        "samples": len(pushing.samples) + len(pulling.samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=float, default=4, help="blob size in GiB [4]")
    parser.add_argument("--workers", type=int, default=1, help="berth worker processes [1]")
    parser.add_argument("--interval", type=float, default=0.2, help="RSS sampling period [0.2]")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the file and data")
    parser.add_argument("--berth-only", action="store_true", help="skip distribution")
    parser.add_argument("--quick", action="store_true", help="a 256 MiB blob")
    args = parser.parse_args()
    if args.quick:
        args.size = min(args.size, 0.25)
        common.PRETOUCH = 1 * GiB
    size = int(args.size * GiB)
    tmp = args.tmp or Path(tempfile.gettempdir())
    common.check_disk(tmp, 2 * size + 2 * GiB)
    targets = ["berth"] if args.berth_only else ["berth", "distribution"]
    if not args.berth_only:
        common.tools(common.DISTRIBUTION_BIN)

    path = Path(tempfile.mkstemp(prefix="memory-", suffix=".bin", dir=tmp)[1])
    results = []
    try:
        print(f"writing {size / GiB:g} GiB to {path} ...", file=sys.stderr)
        digest = _blob_file(path, size)
        for target in targets:
            results.append(measure(target, path, digest, args.workers, args.interval))
            r = results[-1]
            print(
                f"  {r['name']}: push {r['push_mibs']:,.0f} MiB/s, pull {r['pull_mibs']:,.0f} "
                f"MiB/s, {r['samples']} RSS samples",
                file=sys.stderr,
            )
    finally:
        path.unlink(missing_ok=True)

    rows: list[list[object]] = []
    for label, key in (
        ("baseline RSS (MiB)", "base"),
        ("peak RSS during push (MiB)", "push_peak"),
        ("peak RSS during pull (MiB)", "pull_peak"),
        ("push peak - baseline (MiB)", "push_rise"),
        ("pull peak - baseline (MiB)", "pull_rise"),
        ("RSS after (MiB)", "after"),
        ("push (MiB/s)", "push_mibs"),
        ("pull (MiB/s)", "pull_mibs"),
    ):
        row: list[object] = [label]
        for r in results:
            if key.endswith("_rise"):
                value = (r[key.replace("rise", "peak")] - r["base"]) / MiB
            elif key.endswith("mibs"):
                value = r[key]
            else:
                value = r[key] / MiB
            row.append(float(value))
        if len(results) == 2:
            row.append(common.ratio(float(row[1]), float(row[2])))  # type: ignore[arg-type]
        rows.append(row)
    names = [r["name"] for r in results]
    headers = ["measure", *names] + ([f"{names[0]}/{names[1]}"] if len(names) == 2 else [])
    print(
        f"\nmemory: {size / GiB:g} GiB blob, RSS of the server's process tree every "
        f"{args.interval} s, berth workers={args.workers}, {time.strftime('%Y-%m-%d')}"
    )
    print(common.table(headers, rows))
    rise = max(results[0]["push_peak"], results[0]["pull_peak"]) - results[0]["base"]
    verdict = "flat" if rise < 100 * MiB else "NOT flat"
    print(f"berth: peak - baseline {rise / MiB:.1f} MiB: {verdict} (target < 100 MiB)")
    return 0 if rise < 100 * MiB else 1


if __name__ == "__main__":
    sys.exit(main())
