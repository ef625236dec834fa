"""The S3 blob store against moto's S3 server, through the real aiobotocore client."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
import requests

from berth.store.blobs import open_blobs
from berth.store.blobs.s3 import MIB, S3BlobStore

BUCKET = "berth-blobs"

# moto's ThreadedMotoServer runs in a child process rather than a thread here, so
# that tracemalloc in the memory test sees only this process (the store), not
# moto keeping every uploaded byte in memory.
_MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
sys.stdin.read()  # until the test process closes our stdin (or dies)
server.stop()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-c", _MOTO, str(port)], stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        with pytest.MonkeyPatch.context() as mp:
            # The store finds all of this the way it would on AWS or MinIO.
            for name, value in {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_S3": url,
                "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true",
            }.items():
                mp.setenv(name, value)
            for name in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
                mp.delenv(name, raising=False)
            boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
            yield url
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3(endpoint: str) -> Any:
    """A plain boto3 client, to look at what the store left in the bucket."""
    return boto3.client("s3", endpoint_url=endpoint)


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(endpoint: str, prefix: str) -> AsyncIterator[S3BlobStore]:
    opened = S3BlobStore.from_url(f"s3://{BUCKET}/{prefix}")
    yield opened
    await opened.close()


def keys(s3: Any, prefix: str) -> list[str]:
    found: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        found += [item["Key"] for item in page.get("Contents", [])]
    return found


def upload_names(s3: Any, prefix: str, upload_id: str) -> list[str]:
    base = f"{prefix}/uploads/{upload_id}/"
    return [key[len(base) :] for key in keys(s3, base)]


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_parts_and_tail_across_appends_then_commit(
    store: S3BlobStore, s3: Any, prefix: str
) -> None:
    data = payload(17 * MIB, seed=1)
    upload = str(uuid.uuid4())
    cuts = [0, 6 * MIB + 123, 12 * MIB + 7, len(data)]
    for start, end in itertools.pairwise(cuts):
        size = await store.append(upload, start, chunks_of(data[start:end], 300 * 1024))
        assert size == end
    # 17 MiB with 8 MiB parts: two parts and a 1 MiB tail.
    assert upload_names(s3, prefix, upload) == ["part-000001", "part-000002", "tail"]
    assert await collect(store.read_upload(upload)) == data

    digest = sha256(data)
    await store.commit(upload, digest, len(data))
    assert await store.size(digest) == len(data)
    assert await collect(store.read(digest)) == data
    for start, end in [
        (0, 10),
        (5 * MIB - 3, 9 * MIB + 7),
        (len(data) - 100, None),
        (8 * MIB, 8 * MIB),
        (len(data), None),
    ]:
        assert await collect(store.read(digest, start, end)) == data[start:end]
    assert keys(s3, f"{prefix}/uploads/") == []
    hexdigest = digest.split(":")[1]
    assert keys(s3, f"{prefix}/blobs/") == [f"{prefix}/blobs/sha256/{hexdigest[:2]}/{hexdigest}"]
    assert [entry async for entry in store.list_blobs()] == [(digest, len(data))]


async def test_read_chunks_are_bounded(store: S3BlobStore) -> None:
    data = payload(3 * MIB + 5, seed=2)
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(data, MIB))
    await store.commit(upload, sha256(data), len(data))
    sizes = [len(chunk) async for chunk in store.read(sha256(data))]
    assert sum(sizes) == len(data)
    assert max(sizes) <= MIB


@pytest.mark.parametrize(
    "offset",
    [0, 3 * MIB, 8 * MIB, 9 * MIB, 10 * MIB],
    ids=["to-empty", "inside-part", "part-boundary", "inside-tail", "no-truncation"],
)
async def test_append_at_a_smaller_offset_drops_extra_bytes(
    store: S3BlobStore, s3: Any, prefix: str, offset: int
) -> None:
    first = payload(10 * MIB, seed=3)  # a part and a 2 MiB tail
    upload = str(uuid.uuid4())
    assert await store.append(upload, 0, chunks_of(first, 256 * 1024)) == len(first)
    more = payload(MIB + 11, seed=4)
    assert await store.append(upload, offset, chunks_of(more, 100_000)) == offset + len(more)
    expected = first[:offset] + more
    assert await collect(store.read_upload(upload)) == expected
    names = upload_names(s3, prefix, upload)
    assert names == ["part-000001"] * (offset >= 8 * MIB) + ["tail"]
    await store.commit(upload, sha256(expected), len(expected))
    assert await collect(store.read(sha256(expected))) == expected


async def test_empty_append_at_a_smaller_offset_truncates(
    store: S3BlobStore, s3: Any, prefix: str
) -> None:
    data = payload(9 * MIB, seed=5)
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(data, MIB))
    assert await store.append(upload, 4 * MIB, chunks_of(b"", 1)) == 4 * MIB
    assert upload_names(s3, prefix, upload) == ["tail"]
    assert await collect(store.read_upload(upload)) == data[: 4 * MIB]


async def test_broken_body_leaves_the_upload_at_its_offset(
    store: S3BlobStore, s3: Any, prefix: str
) -> None:
    data = payload(3 * MIB, seed=6)
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(data, MIB))

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(9):  # past a part boundary, so a new part was already stored
            yield b"x" * MIB
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.append(upload, len(data), broken())
    assert upload_names(s3, prefix, upload) == ["tail"]
    assert await collect(store.read_upload(upload)) == data
    await store.commit(upload, sha256(data), len(data))
    assert await store.size(sha256(data)) == len(data)


async def test_zero_byte_blob(store: S3BlobStore, s3: Any, prefix: str) -> None:
    empty = sha256(b"")
    upload = str(uuid.uuid4())
    assert await store.append(upload, 0, chunks_of(b"", 1)) == 0
    assert await collect(store.read_upload(upload)) == b""
    await store.commit(upload, empty, 0)
    assert await store.size(empty) == 0
    assert await collect(store.read(empty)) == b""
    assert await collect(store.read(empty, 0, 0)) == b""
    # And a commit of an upload that never saw an append.
    await store.delete(empty)
    await store.commit(str(uuid.uuid4()), empty, 0)
    assert await store.size(empty) == 0
    assert keys(s3, f"{prefix}/uploads/") == []


async def test_small_blob(store: S3BlobStore, s3: Any, prefix: str) -> None:
    data = payload(MIB + 1, seed=7)
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(data, 64 * 1024))
    assert upload_names(s3, prefix, upload) == ["tail"]
    await store.commit(upload, sha256(data), len(data))
    assert await collect(store.read(sha256(data))) == data
    assert await collect(store.read(sha256(data), 10, 20)) == data[10:20]
    assert keys(s3, f"{prefix}/uploads/") == []


@pytest.mark.parametrize("part_size", [8 * MIB, 5 * MIB], ids=["as-tail", "as-one-part"])
async def test_exactly_five_mib(endpoint: str, s3: Any, prefix: str, part_size: int) -> None:
    store = S3BlobStore.from_url(f"s3://{BUCKET}/{prefix}", part_size=part_size)
    try:
        data = payload(5 * MIB, seed=8)
        upload = str(uuid.uuid4())
        await store.append(upload, 0, chunks_of(data, 333_333))
        expected = ["tail"] if part_size > 5 * MIB else ["part-000001"]
        assert upload_names(s3, prefix, upload) == expected
        await store.commit(upload, sha256(data), len(data))
        assert await store.size(sha256(data)) == len(data)
        assert await collect(store.read(sha256(data))) == data
        assert keys(s3, f"{prefix}/uploads/") == []
    finally:
        await store.close()


async def test_commit_of_an_existing_digest_keeps_the_stored_blob(
    store: S3BlobStore, s3: Any, prefix: str
) -> None:
    data = payload(6 * MIB, seed=9)
    digest = sha256(data)
    hexdigest = digest.split(":")[1]
    # A marker in the blob's place shows whether commit writes over it.
    key = f"{prefix}/blobs/sha256/{hexdigest[:2]}/{hexdigest}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"already here")
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(data, MIB))
    await store.commit(upload, digest, len(data))
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"already here"
    assert keys(s3, f"{prefix}/uploads/") == []


async def test_failed_commit_leaves_no_blob_and_no_multipart_upload(
    store: S3BlobStore, s3: Any, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = payload(17 * MIB, seed=13)
    digest = sha256(data)
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(data, MIB))
    client = await store._s3()
    real_copy = client.upload_part_copy

    async def failing_copy(**kwargs: Any) -> Any:
        if kwargs["PartNumber"] == 2:
            raise ConnectionResetError("S3 went away mid-commit")
        return await real_copy(**kwargs)

    monkeypatch.setattr(client, "upload_part_copy", failing_copy)
    with pytest.raises(ConnectionResetError):
        await store.commit(upload, digest, len(data))
    assert await store.size(digest) is None
    assert s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", []) == []
    # The upload is intact, so the commit can be tried again.
    monkeypatch.setattr(client, "upload_part_copy", real_copy)
    assert await collect(store.read_upload(upload)) == data
    await store.commit(upload, digest, len(data))
    assert await collect(store.read(digest)) == data


async def test_abort(store: S3BlobStore, s3: Any, prefix: str) -> None:
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(payload(9 * MIB, seed=10), MIB))
    assert upload_names(s3, prefix, upload) == ["part-000001", "tail"]
    await store.abort(upload)
    assert keys(s3, f"{prefix}/") == []
    assert await collect(store.read_upload(upload)) == b""
    await store.abort(upload)  # nothing there: still fine


async def test_another_replica_continues_the_upload(endpoint: str, prefix: str) -> None:
    data = payload(20 * MIB + 17, seed=11)
    upload = str(uuid.uuid4())
    url = f"s3://{BUCKET}/{prefix}"
    first = S3BlobStore.from_url(url)
    try:
        assert await first.append(upload, 0, chunks_of(data[: 11 * MIB], 300 * 1024)) == 11 * MIB
    finally:
        await first.close()
    # Nothing but the bucket is shared: a new instance, as on another replica.
    second = S3BlobStore.from_url(url, part_size=6 * MIB)
    try:
        assert await collect(second.read_upload(upload)) == data[: 11 * MIB]
        assert await second.append(upload, 11 * MIB, chunks_of(data[11 * MIB :], 1000)) == len(data)
        assert await collect(second.read_upload(upload)) == data
        await second.commit(upload, sha256(data), len(data))
    finally:
        await second.close()
    third = S3BlobStore.from_url(url)
    try:
        assert await collect(third.read(sha256(data))) == data
    finally:
        await third.close()


async def test_replica_with_smaller_parts_cuts_a_larger_part(
    store: S3BlobStore, s3: Any, prefix: str
) -> None:
    first = payload(10 * MIB, seed=14)
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(first, MIB))  # an 8 MiB part and a 2 MiB tail
    other = S3BlobStore.from_url(f"s3://{BUCKET}/{prefix}", part_size=5 * MIB)
    try:
        more = payload(MIB, seed=15)
        # The cut at 7 MiB leaves a 7 MiB seed, over this replica's 5 MiB parts.
        assert await other.append(upload, 7 * MIB, chunks_of(more, 100_000)) == 8 * MIB
        assert upload_names(s3, prefix, upload) == ["part-000001", "tail"]
        expected = first[: 7 * MIB] + more
        assert await collect(other.read_upload(upload)) == expected
        await other.commit(upload, sha256(expected), len(expected))
        assert await collect(other.read(sha256(expected))) == expected
    finally:
        await other.close()


async def test_missing_blob_and_delete(store: S3BlobStore) -> None:
    missing = sha256(b"never stored")
    assert await store.size(missing) is None
    with pytest.raises(FileNotFoundError):
        await collect(store.read(missing))
    await store.delete(missing)  # deleting what is not there is fine

    data = b"hello"
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(data, 2))
    await store.commit(upload, sha256(data), len(data))
    assert store.local_path(sha256(data)) is None
    await store.delete(sha256(data))
    assert await store.size(sha256(data)) is None


async def test_presigned_url(store: S3BlobStore) -> None:
    data = payload(2 * MIB + 3, seed=12)
    digest = sha256(data)
    upload = str(uuid.uuid4())
    await store.append(upload, 0, chunks_of(data, MIB))
    await store.commit(upload, digest, len(data))

    url = await store.presigned_url(digest, expires_in=300)
    assert "X-Amz-Signature=" in url
    whole = await asyncio.to_thread(requests.get, url, timeout=30)
    assert whole.status_code == 200
    assert whole.content == data
    # One URL serves every range: the client's own Range header applies.
    ranged = await asyncio.to_thread(
        requests.get, url, headers={"Range": "bytes=100-199"}, timeout=30
    )
    assert ranged.status_code == 206
    assert ranged.content == data[100:200]
    tail = await asyncio.to_thread(requests.get, url, headers={"Range": "bytes=-10"}, timeout=30)
    assert tail.content == data[-10:]


async def test_memory_stays_small_while_appending_64_mib(store: S3BlobStore) -> None:
    total = 64 * MIB
    upload = str(uuid.uuid4())
    hasher = hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        # Made on the fly, so the test itself never holds more than one chunk.
        block = hashlib.sha256(b"seed").digest() * (256 * 1024 // 32)
        for i in range(total // len(block)):
            chunk = i.to_bytes(4, "big") + block[4:]
            hasher.update(chunk)
            yield chunk

    await store.size(sha256(b"warm up"))  # open the client before measuring
    tracemalloc.start()
    try:
        assert await store.append(upload, 0, generated()) == total
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Under one part: no part (nor the whole) is ever held in memory.
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB while appending 64 MiB"

    rehash = hashlib.sha256()
    async for chunk in store.read_upload(upload):
        rehash.update(chunk)
    assert rehash.hexdigest() == hasher.hexdigest()
    await store.commit(upload, "sha256:" + hasher.hexdigest(), total)
    assert await store.size("sha256:" + hasher.hexdigest()) == total


async def test_open_blobs_and_urls(endpoint: str) -> None:
    store = open_blobs(f"s3://{BUCKET}/some/prefix/")
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (BUCKET, "some/prefix")
    assert store.endpoint_url == endpoint  # from AWS_ENDPOINT_URL_S3
    bare = S3BlobStore.from_url(f"s3://{BUCKET}")
    assert bare.prefix == ""
    assert bare._blob_key("sha256:abcdef") == "blobs/sha256/ab/abcdef"
    with pytest.raises(ValueError):
        S3BlobStore.from_url("s3:///prefix")
    with pytest.raises(ValueError):
        S3BlobStore(BUCKET, part_size=4 * MIB)


async def test_bucket_root_store(endpoint: str, s3: Any) -> None:
    store = S3BlobStore.from_url(f"s3://{BUCKET}")
    try:
        data = b"at the root"
        upload = str(uuid.uuid4())
        await store.append(upload, 0, chunks_of(data, 4))
        assert keys(s3, f"uploads/{upload}/") == [f"uploads/{upload}/tail"]
        await store.commit(upload, sha256(data), len(data))
        assert await collect(store.read(sha256(data))) == data
        await store.delete(sha256(data))
    finally:
        await store.close()


def test_construction_opens_nothing() -> None:
    # The client comes on first use, inside the event loop that will use it.
    store = S3BlobStore("bucket", "p", endpoint_url="http://127.0.0.1:1")
    assert store._client is None
    assert store.endpoint_url == "http://127.0.0.1:1"


async def test_commit_of_a_vanished_upload_publishes_nothing(
    store: S3BlobStore, s3: Any, prefix: str
) -> None:
    """An upload aborted (its repository deleted) while a PUT finishes it: the commit
    fails; no object of the wrong size ever appears under the digest."""
    upload = str(uuid.uuid4())
    data = b"bytes that go away"
    await store.append(upload, 0, chunks_of(data, 7))
    await store.abort(upload)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with pytest.raises(FileNotFoundError):
        await store.commit(upload, digest, len(data))
    assert await store.size(digest) is None
