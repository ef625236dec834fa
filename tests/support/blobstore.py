"""What a berth deployment's blob store holds, read straight from the store (a folder
or the S3 bucket), not through berth; and the `berth` admin commands on that storage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3

from .stores import Store


def _s3(store: Store):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=store.env["AWS_ENDPOINT_URL_S3"],
        region_name=store.env["AWS_REGION"],
        aws_access_key_id=store.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=store.env["AWS_SECRET_ACCESS_KEY"],
    )


def _s3_place(store: Store) -> tuple[str, str]:
    url = store.args[store.args.index("--blobs") + 1]
    bucket, _, prefix = url[len("s3://") :].partition("/")
    return bucket, f"{prefix}/blobs/" if prefix else "blobs/"


def _key(digest: str) -> str:
    algorithm, encoded = digest.split(":", 1)
    return f"{algorithm}/{encoded[:2]}/{encoded}"


def stored(store: Store, data: Path) -> dict[str, int]:
    """digest -> size of every blob whose bytes are in the store."""
    if "--blobs" not in store.args:
        root = data / "blobs"
        return {
            f"{p.parent.parent.name}:{p.name}": p.stat().st_size
            for p in root.glob("*/*/*")
            if p.is_file()
        }
    bucket, root = _s3_place(store)
    found: dict[str, int] = {}
    for page in _s3(store).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
        for item in page.get("Contents", []):
            algorithm, _two, encoded = item["Key"][len(root) :].split("/")
            found[f"{algorithm}:{encoded}"] = int(item["Size"])
    return found


def put_bytes(store: Store, data: Path, digest: str, payload: bytes) -> None:
    """Write bytes at a blob's place behind berth's back (to make fsck cases)."""
    if "--blobs" not in store.args:
        path = data / "blobs" / _key(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        return
    bucket, root = _s3_place(store)
    _s3(store).put_object(Bucket=bucket, Key=root + _key(digest), Body=payload)


def remove_bytes(store: Store, data: Path, digest: str) -> None:
    if "--blobs" not in store.args:
        (data / "blobs" / _key(digest)).unlink()
        return
    bucket, root = _s3_place(store)
    _s3(store).delete_object(Bucket=bucket, Key=root + _key(digest))


def berth(store: Store, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `berth <args>` on the deployment's storage; never raises on exit codes."""
    command, *rest = args
    storage = ("--data", str(data), *(a for a in store.args))
    return subprocess.run(
        [sys.executable, "-m", "berth", *command.split(), *storage, *rest],
        capture_output=True,
        text=True,
        env={**os.environ, **store.env},
        timeout=120,
    )
