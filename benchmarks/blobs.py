"""Blob throughput: berth against CNCF distribution, side by side in one run.

    python benchmarks/blobs.py                 # 1 GiB blob, median of 3
    python benchmarks/blobs.py --size 64       # a quick check with a 64 MiB blob
    python benchmarks/blobs.py --quick         # everything reduced, under a minute
    python benchmarks/blobs.py --workers 2     # berth with two worker processes
    python benchmarks/blobs.py --store postgres-s3 --size 256
                                               # both on moto's S3 (berth also on PostgreSQL)

Measures, for each target after a pretouch:
- push: POST, one streamed PATCH of the file, PUT ?digest (MiB/s, median of runs);
- chunked push: PATCHes of 16 MiB with Content-Range, then PUT ?digest;
- pull: GET, discarding while counting;
- the server's CPU seconds per GiB pushed (utime+stime of its process tree);
- 100 concurrent pushes (POST + PUT) and then 100 concurrent pulls of distinct
  1 MiB blobs with aiohttp: wall time and blobs/s.

Every push sends new content (the file plus a run-specific 16-byte suffix), so
no run hits an already stored blob.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import common
from common import GiB, MiB


def _suffix(kind: str, run: int, target: str) -> bytes:
    return hashlib.sha256(f"{kind}/{run}/{target}/{time.time_ns()}".encode()).digest()[:16]


OTHER_LOAD: list[float] = []  # share of the machine other processes used in each timed run


def _timed_transfer(server: common.Server, action) -> common.Meter:  # type: ignore[no-untyped-def]
    """Quiet machine, sync, pretouch, then time `action` (wall and server CPU)."""
    os.sync()
    common.wait_quiet()
    common.pretouch()
    with common.Meter(server) as meter:
        action()
    OTHER_LOAD.append(meter.other)
    return meter


async def _concurrent(
    server: common.Server, repo: str, count: int, size: int
) -> tuple[common.Meter, common.Meter]:
    """Push then pull `count` distinct blobs of `size` bytes, all at once."""
    client = server.client(repo)
    blobs = []
    for _ in range(count):
        data = os.urandom(size)
        blobs.append((data, "sha256:" + hashlib.sha256(data).hexdigest()))
    connector = aiohttp.TCPConnector(limit=count)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(
        connector=connector, headers=client.auth_headers, timeout=timeout
    ) as session:

        async def push(data: bytes, digest: str) -> None:
            async with session.post(client.v2("blobs/uploads/")) as reply:
                if reply.status != 202:
                    raise RuntimeError(f"POST {reply.status}: {await reply.text()}")
                location = reply.headers["Location"]
            url = location if location.startswith("http") else client.url + location
            sep = "&" if "?" in url else "?"
            async with session.put(
                f"{url}{sep}digest={digest}",
                data=data,
                headers={"Content-Type": "application/octet-stream"},
            ) as reply:
                if reply.status != 201:
                    raise RuntimeError(f"PUT {reply.status}: {await reply.text()}")

        async def pull(digest: str) -> int:
            total = 0
            async with session.get(client.v2(f"blobs/{digest}")) as reply:
                if reply.status != 200:
                    raise RuntimeError(f"GET {reply.status}")
                async for chunk in reply.content.iter_chunked(256 * 1024):
                    total += len(chunk)
            return total

        await asyncio.to_thread(_prepare)
        with common.Meter(server) as pushed:
            await asyncio.gather(*(push(d, g) for d, g in blobs))
        await asyncio.to_thread(_prepare)
        with common.Meter(server) as pulled:
            sizes = await asyncio.gather(*(pull(g) for _d, g in blobs))
        assert sizes == [size] * count, "short pull"
    OTHER_LOAD.extend((pushed.other, pulled.other))
    return pushed, pulled


def _prepare() -> None:
    os.sync()
    common.wait_quiet()
    common.pretouch(min(common.PRETOUCH, 1 * GiB))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="blob size in MiB [1024]")
    parser.add_argument("--runs", type=int, default=3, help="runs per measure; median [3]")
    parser.add_argument("--chunk", type=int, default=16, help="chunked push: MiB per PATCH [16]")
    parser.add_argument("--count", type=int, default=100, help="concurrent blobs [100]")
    parser.add_argument("--small", type=int, default=1024, help="concurrent blob KiB [1024]")
    parser.add_argument("--workers", type=int, default=1, help="berth worker processes [1]")
    parser.add_argument("--tmp", type=Path, default=None, help="folder for files and data")
    parser.add_argument("--quick", action="store_true", help="64 MiB, 1 run, 50 small blobs")
    parser.add_argument("--store", choices=common.STORES, default="sqlite-fs", help="[sqlite-fs]")
    args = parser.parse_args()
    if args.quick:
        args.size, args.runs, args.count = min(args.size, 64), 1, min(args.count, 50)
        common.QUIET_WAIT, common.PRETOUCH = 3, 1 * GiB
    common.tools(common.DISTRIBUTION_BIN)
    size = args.size * MiB
    tmp = args.tmp or Path(tempfile.gettempdir())
    common.check_disk(tmp, size * (2 * args.runs + 1) * 2 + 2 * GiB)

    source = Path(tempfile.mkstemp(prefix="blob-", suffix=".bin", dir=tmp)[1])
    servers: list[common.Server] = []
    backing: common.Backing | None = None
    res: dict[str, dict[str, list[float]]] = {}

    def note(run: int, server: common.Server, what: str, meter: common.Meter) -> None:
        print(
            f"  run {run + 1} {server.name:<12} {what:<34} {meter.seconds:7.2f} s "
            f"server {meter.cpu[server.name]:6.2f} CPU-s, other load {meter.other:4.0%}",
            file=sys.stderr,
        )

    try:
        print(f"writing {args.size} MiB of random bytes to {source} ...", file=sys.stderr)
        hasher = common.random_file(source, size)
        if args.store == "postgres-s3":
            backing = common.Backing(tmp)
        servers = [
            common.start("berth", args.workers, tmp, backing),
            common.start("distribution", tmp=tmp, backing=backing),
        ]
        clients = {s.name: s.client("bench/blobs") for s in servers}
        for s in servers:
            res[s.name] = {}
        last_digest: dict[str, str] = {}

        def add(name: str, key: str, value: float) -> None:
            res[name].setdefault(key, []).append(value)

        for run in range(args.runs):
            # Alternate the order so neither target always goes first.
            order = servers if run % 2 == 0 else servers[::-1]
            for kind in ("push", "chunked"):
                for server in order:
                    client = clients[server.name]
                    suffix = _suffix(kind, run, server.name)
                    digest = common.digest_with(hasher, suffix)
                    body = common.FileBody(source, suffix=suffix)
                    if kind == "push":
                        action = functools.partial(client.push_stream, body, digest)
                    else:
                        action = functools.partial(
                            client.push_chunked, body, digest, args.chunk * MiB
                        )
                    meter = _timed_transfer(server, action)
                    add(server.name, kind, len(body) / MiB / meter.seconds)
                    add(server.name, kind + "_cpu", meter.cpu[server.name] / (len(body) / GiB))
                    last_digest[server.name] = digest
                    note(run, server, f"{kind} {len(body) / MiB:.0f} MiB", meter)
            for server in order:
                got: list[int] = []
                pull = functools.partial(clients[server.name].pull, last_digest[server.name])
                meter = _timed_transfer(server, lambda: got.append(pull()))  # noqa: B023
                add(server.name, "pull", got[0] / MiB / meter.seconds)
                add(server.name, "pull_cpu", meter.cpu[server.name] / (got[0] / GiB))
                note(run, server, f"pull {got[0] / MiB:.0f} MiB", meter)

        small = args.small * 1024
        for run in range(args.runs):
            order = servers if run % 2 == 0 else servers[::-1]
            for server in order:
                pushed, pulled = asyncio.run(
                    _concurrent(server, f"bench/many-{run}", args.count, small)
                )
                for key, meter in (("cpush", pushed), ("cpull", pulled)):
                    add(server.name, key, args.count / meter.seconds)
                    add(server.name, key + "_cpu", meter.cpu[server.name] * 1000 / args.count)
                    note(run, server, f"{args.count} concurrent {key[1:]}s", meter)
    finally:
        for server in servers:
            server.stop()
        if backing is not None:
            backing.stop()
        source.unlink(missing_ok=True)

    small_label = f"{args.small} KiB" if args.small != 1024 else "1 MiB"
    common.report(
        f"blobs: median of {args.runs}, berth workers={args.workers}, store {args.store}",
        res,
        [
            ("push", f"push {args.size} MiB, one PATCH (MiB/s)"),
            ("chunked", f"push {args.size} MiB, {args.chunk} MiB PATCHes (MiB/s)"),
            ("pull", f"pull {args.size} MiB (MiB/s)"),
            ("push_cpu", "  server CPU-s per GiB, one-PATCH push"),
            ("chunked_cpu", "  server CPU-s per GiB, chunked push"),
            ("pull_cpu", "  server CPU-s per GiB, pull"),
            ("cpush", f"{args.count} concurrent pushes of {small_label} (blobs/s)"),
            ("cpull", f"{args.count} concurrent pulls of {small_label} (blobs/s)"),
            ("cpush_cpu", "  server CPU-ms per blob, concurrent push"),
            ("cpull_cpu", "  server CPU-ms per blob, concurrent pull"),
        ],
        OTHER_LOAD,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
