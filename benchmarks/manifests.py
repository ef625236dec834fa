"""Manifest GET/HEAD rate: berth (1 and 2 workers) against CNCF distribution.

    python benchmarks/manifests.py            # wrk 10 s, ab 20,000 requests
    python benchmarks/manifests.py --quick    # wrk 3 s, ab 5,000 requests

Pushes one small image (config + 1 layer + OCI manifest) to each target, then
loads `GET /v2/<name>/manifests/v1` with `wrk -t2 -c64 -d10s` and with
`ab -k -c 64 -n 20000`, and `HEAD` with `ab -k -i -c 64 -n 20000` (wrk cannot
time HEAD replies that carry a Content-Length). berth gets
`Authorization: Bearer <pull token>` on every request. Reports requests/s,
the server's CPU time per request (utime+stime of its process tree) and the
ratios to distribution.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

import common
from common import GiB

ACCEPT = common.OCI_MANIFEST


def _wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> tuple[float, int]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    done = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    return rate, done


def _ab(
    url: str, headers: dict[str, str], requests: int, connections: int, head: bool
) -> tuple[float, int]:
    command = ["ab", "-q", "-k", "-c", str(connections), "-n", str(requests)]
    if head:
        command.append("-i")
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=600, check=True
    ).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if failed or non2xx:
        raise RuntimeError(f"ab saw errors:\n{out}")
    done = int(re.search(r"Complete requests:\s+(\d+)", out)[1])  # type: ignore[index]
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", out)[1])  # type: ignore[index]
    return rate, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration [10]")
    parser.add_argument("--requests", type=int, default=20000, help="ab requests [20000]")
    parser.add_argument("--connections", type=int, default=64, help="connections [64]")
    parser.add_argument("--workers", default="1,2", help="berth worker counts to run [1,2]")
    parser.add_argument("--quick", action="store_true", help="wrk 3 s, ab 5,000 requests")
    parser.add_argument("--store", choices=common.STORES, default="sqlite-fs", help="[sqlite-fs]")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.requests = 3, 5000
        common.QUIET_WAIT, common.PRETOUCH = 3, 1 * GiB
    common.tools("wrk", "ab", common.DISTRIBUTION_BIN)

    servers: list[common.Server] = []
    backing: common.Backing | None = None
    rows: dict[str, dict[str, float]] = {}
    other: list[float] = []
    try:
        if args.store == "postgres-s3":
            backing = common.Backing()
        for workers in (int(w) for w in args.workers.split(",")):
            servers.append(common.start("berth", workers, backing=backing))
        servers.append(common.start("distribution", backing=backing))
        targets = []
        for server in servers:
            client = server.client("bench/manifests")
            common.push_small_image(client, "v1")
            puller = server.client("bench/manifests", "pull")
            headers = {"Accept": ACCEPT, **puller.auth_headers}
            targets.append((server, puller.v2("manifests/v1"), headers))
            # The routes work and answer what we expect before anything is timed.
            reply = puller.session.get(puller.v2("manifests/v1"), headers={"Accept": ACCEPT})
            puller._check(reply, 200)
            reply = puller.session.head(puller.v2("manifests/v1"), headers={"Accept": ACCEPT})
            puller._check(reply, 200)

        tests = (
            ("GET wrk", lambda u, h: _wrk(u, h, args.seconds, args.connections)),
            ("GET ab -k", lambda u, h: _ab(u, h, args.requests, args.connections, False)),
            ("HEAD ab -k -i", lambda u, h: _ab(u, h, args.requests, args.connections, True)),
        )
        for n, (label, test) in enumerate(tests):
            order = targets if n % 2 == 0 else targets[::-1]
            for server, url, headers in order:
                os.sync()
                common.wait_quiet()
                common.pretouch(min(common.PRETOUCH, 1 * GiB))
                with common.Meter(server) as meter:
                    rate, done = test(url, headers)
                other.append(meter.other)
                cpu_us = meter.cpu[server.name] / done * 1e6
                rows.setdefault(server.name, {})[label] = rate
                rows[server.name][label + " cpu"] = cpu_us
                print(
                    f"  {server.name:<12} {label:<14} {rate:9,.0f} req/s  "
                    f"server {cpu_us:6.0f} CPU-us/req  other load {meter.other:4.0%}",
                    file=sys.stderr,
                )
    finally:
        for server in servers:
            server.stop()
        if backing is not None:
            backing.stop()

    names = [s.name for s in servers]
    dist = names[-1]
    table: list[list[object]] = []
    for label, _test in tests:
        for key, unit in ((label, "req/s"), (label + " cpu", "server CPU-us/req")):
            row: list[object] = [f"{key.removesuffix(' cpu')} ({unit})"]
            row += [rows[n][key] for n in names]
            row += [common.ratio(rows[n][key], rows[dist][key]) for n in names[:-1]]
            table.append(row)
    print(
        f"\nmanifests: store {args.store}, {args.connections} connections, wrk {args.seconds} s, "
        f"ab {args.requests} requests, {time.strftime('%Y-%m-%d')}; other load during runs: "
        f"median {common.median(other):.0%}, max {max(other):.0%}"
    )
    headers = ["measure", *names, *(f"{n}/dist" for n in names[:-1])]
    print(common.table(headers, table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
