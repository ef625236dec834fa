"""Blobs in S3 or any S3-compatible store (MinIO, Ceph, moto …).

Layout under `s3://bucket/prefix`:

    <prefix>/blobs/<algorithm>/<2 hex>/<hex>       a committed blob
    <prefix>/uploads/<upload id>/part-000001 …     full parts (>= 5 MiB each)
    <prefix>/uploads/<upload id>/tail              the last, unfilled piece

An upload is nothing but its objects: its size and layout come from listing
its prefix (S3 lists strongly consistently), so any replica can continue it
and no handle needs to be kept elsewhere. The parts are sized for S3's
multipart rules (every part but the last >= 5 MiB), so `commit` assembles the
blob server-side with `upload_part_copy`; the blob key appears only when
`complete_multipart_upload` succeeds, whole. Bytes pass through a spool file
on local disk, never through memory beyond one network read buffer.

Crash safety of `append`: every intermediate state keeps the upload's first
`offset` bytes as a prefix of "parts in number order, then the tail", so an
interrupted append leaves at worst extra bytes past the recorded size, which
the next `append` (or the rollback below) drops.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every multipart part but the last
MAX_PART_SIZE = 5 * 1024 * MIB  # S3's maximum part (and CopyObject) size
MAX_PARTS = 10_000  # S3's limit of parts in one multipart upload
DEFAULT_PART_SIZE = 8 * MIB
READ_CHUNK = MIB
MAX_CONNECTIONS = 100  # to the store, per process
COPY_CONCURRENCY = 8  # server-side part copies in flight during a commit
DELETE_BATCH = 1000  # DeleteObjects' limit per request

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class _Piece:
    key: str
    size: int
    number: int | None = None  # part number; None for the tail


@dataclass
class _Layout:
    """An upload's objects as listed: parts in number order, then the tail."""

    parts: list[_Piece] = field(default_factory=list)
    tail: _Piece | None = None
    others: list[str] = field(default_factory=list)  # keys this code never writes

    @property
    def pieces(self) -> list[_Piece]:
        return [*self.parts, *([self.tail] if self.tail else [])]

    @property
    def size(self) -> int:
        return sum(piece.size for piece in self.pieces)

    @property
    def keys(self) -> list[str]:
        return [piece.key for piece in self.pieces] + self.others


class S3BlobStore:
    """The `BlobStore` on S3. One instance belongs to one event loop: its
    client (opened lazily on first use) holds that loop's connections."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        part_size: int = DEFAULT_PART_SIZE,
        spool_dir: str | Path | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 blob store needs a bucket")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self.spool_dir = None if spool_dir is None else str(spool_dir)
        # The standard variables for a custom endpoint (MinIO, moto, a gateway).
        self.endpoint_url = (
            endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or None
        )
        self.region = region
        self._client: Any = None
        self._stack = AsyncExitStack()
        self._opening = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3BlobStore:
        """`s3://bucket/prefix`; credentials, region and endpoint come from the
        usual AWS configuration (environment, config files, instance roles)."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an S3 URL {url!r}: use s3://bucket/prefix")
        return cls(parts.netloc, parts.path, **options)

    # -- client -----------------------------------------------------------

    async def _s3(self) -> Any:
        # Any: botocore generates the client's operations from the service model at run time.
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    session = get_session()
                    region = (
                        self.region
                        or os.environ.get("AWS_REGION")
                        or session.get_config_variable("region")
                        or "us-east-1"  # S3 signs with some region; any works for a custom endpoint
                    )
                    config = AioConfig(
                        signature_version="s3v4",
                        # botocore's default of 10 queued concurrent pulls behind each other.
                        max_pool_connections=MAX_CONNECTIONS,
                        # Blobs are content-addressed and verified as they arrive; botocore's
                        # default CRCs on every part sent and object read cost CPU per byte
                        # (and S3-compatible stores that predate them refuse the headers).
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required",
                        retries={"mode": "standard"},
                        # Custom endpoints (IP addresses, MinIO) rarely have per-bucket DNS names.
                        s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                    )
                    self._client = await self._stack.enter_async_context(
                        session.create_client(
                            "s3", region_name=region, endpoint_url=self.endpoint_url, config=config
                        )
                    )
        return self._client

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
        self._stack = AsyncExitStack()

    # -- keys -------------------------------------------------------------

    def _key(self, *names: str) -> str:
        return "/".join(name for name in (self.prefix, *names) if name)

    def _blob_key(self, digest: str) -> str:
        algorithm, encoded = digest.split(":", 1)
        return self._key("blobs", algorithm, encoded[:2], encoded)

    def _upload_prefix(self, upload_id: str) -> str:
        if not upload_id or "/" in upload_id:
            raise ValueError(f"bad upload id {upload_id!r}")
        return self._key("uploads", upload_id) + "/"

    def _part_key(self, upload_id: str, number: int) -> str:
        return f"{self._upload_prefix(upload_id)}part-{number:06d}"

    def _tail_key(self, upload_id: str) -> str:
        return self._upload_prefix(upload_id) + "tail"

    async def _layout(self, upload_id: str) -> _Layout:
        prefix = self._upload_prefix(upload_id)
        s3 = await self._s3()
        layout = _Layout()
        parts: list[_Piece] = []
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key, size = item["Key"], int(item["Size"])
                name = key[len(prefix) :]
                if name == "tail":
                    layout.tail = _Piece(key, size)
                elif name.startswith("part-") and name[5:].isdigit():
                    parts.append(_Piece(key, size, int(name[5:])))
                else:
                    layout.others.append(key)
        layout.parts = sorted(parts, key=lambda piece: piece.number or 0)
        return layout

    # -- uploads ----------------------------------------------------------

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]) -> int:
        try:
            return await self._append(upload_id, offset, chunks)
        except Exception:
            # A broken request body (or S3 error) may have left bytes past
            # `offset`; put the upload back to exactly `offset` bytes so that a
            # commit right after (a PUT that closes a failed PATCH) is exact.
            with suppress(Exception):
                await self._append(upload_id, offset, _no_chunks())
            raise

    async def _append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]) -> int:
        layout = await self._layout(upload_id)
        if layout.size < offset:
            raise RuntimeError(
                f"upload {upload_id} holds {layout.size} bytes in S3, "
                f"fewer than its recorded {offset}"
            )
        # Parts wholly inside `offset` stay; the next piece (if `offset` falls
        # in it) seeds the spool with its first bytes; the rest lies past
        # `offset` and goes.
        kept = 0
        start = 0
        while kept < len(layout.parts) and start + layout.parts[kept].size <= offset:
            start += layout.parts[kept].size
            kept += 1
        rest = layout.pieces[kept:]
        seed = rest[0] if offset > start else None
        seed_length = offset - start
        beyond = rest[1:] if seed else rest
        s3 = await self._s3()
        await self._delete_keys([piece.key for piece in beyond])

        next_part = kept + 1
        spool: IO[bytes] | None = None
        filled = 0
        size = offset

        async def ship_if_full() -> None:
            # Every time the spool reaches the part size it goes up as the next
            # part. `>=`: a seed cut from a part that a replica with a larger
            # part size wrote may already be over ours; it goes up whole.
            nonlocal spool, filled, next_part
            if spool is not None and filled >= self.part_size:
                self._check_part_count(upload_id, next_part)
                await self._put_file(self._part_key(upload_id, next_part), spool, filled)
                next_part += 1
                spool.close()
                spool = self._new_spool()
                filled = 0

        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                if spool is None:
                    spool = await self._spool_with(seed, seed_length)
                    filled = seed_length
                    await ship_if_full()
                view = memoryview(chunk)
                while view:
                    take = view[: self.part_size - filled]
                    spool.write(take)  # local disk: fast enough to stay on the loop
                    filled += len(take)
                    view = view[len(take) :]
                    await ship_if_full()
                size += len(chunk)

            if spool is None:
                if seed is None or (seed is layout.tail and seed_length == seed.size):
                    return offset  # nothing arrived and nothing to cut: leave it as it is
                spool = await self._spool_with(seed, seed_length)
                filled = seed_length

            # The new tail replaces the old in one PUT; only then do the
            # pieces it supersedes go, so the stored prefix is never lost.
            if filled:
                self._check_part_count(upload_id, next_part)
                await self._put_file(self._tail_key(upload_id), spool, filled)
            elif seed is layout.tail and seed is not None:
                await s3.delete_object(Bucket=self.bucket, Key=seed.key)
            if seed is not None and seed.number is not None and seed.number >= next_part:
                await s3.delete_object(Bucket=self.bucket, Key=seed.key)
            return size
        finally:
            if spool is not None:
                spool.close()

    def _check_part_count(self, upload_id: str, number: int) -> None:
        if number > MAX_PARTS:
            raise ValueError(
                f"upload {upload_id} would need more than {MAX_PARTS} parts of "
                f"{self.part_size} bytes: configure a larger part size"
            )

    def _new_spool(self) -> IO[bytes]:
        # Unnamed: the OS removes it however the process ends.
        return tempfile.TemporaryFile(prefix="berth-s3-", dir=self.spool_dir)

    async def _spool_with(self, seed: _Piece | None, length: int) -> IO[bytes]:
        """A spool file holding the first `length` bytes of `seed`."""
        spool = self._new_spool()
        try:
            if seed is not None and length:
                async for chunk in self._get(seed.key, 0, length):
                    spool.write(chunk)
            return spool
        except BaseException:
            spool.close()
            raise

    async def _put_file(self, key: str, spool: IO[bytes], length: int) -> None:
        spool.flush()
        spool.seek(0)
        s3 = await self._s3()
        # A seekable file body: botocore can hash and re-send it on a retry.
        await s3.put_object(Bucket=self.bucket, Key=key, Body=spool, ContentLength=length)

    async def read_upload(self, upload_id: str) -> AsyncIterator[bytes]:
        layout = await self._layout(upload_id)
        for piece in layout.pieces:
            async for chunk in self._get(piece.key, 0, piece.size):
                yield chunk

    async def commit(self, upload_id: str, digest: str, size: int) -> None:
        s3 = await self._s3()
        key = self._blob_key(digest)
        layout = await self._layout(upload_id)
        if layout.size < size:  # the upload went (cancelled, purged): nothing to publish
            raise FileNotFoundError(f"upload {upload_id} holds {layout.size} of {size} bytes")
        if layout.size > size:
            # Bytes a cancelled request left past the recorded size: cut them.
            await self.append(upload_id, size, _nothing())
            layout = await self._layout(upload_id)
        if await self.size(digest) is None:
            if layout.parts:
                await self._assemble(key, layout.pieces)
            elif layout.tail is not None:
                # A single piece (at most one part size, so < 5 GiB): one
                # server-side copy, which appears whole or not at all.
                await s3.copy_object(
                    Bucket=self.bucket,
                    Key=key,
                    CopySource={"Bucket": self.bucket, "Key": layout.tail.key},
                )
            else:
                await s3.put_object(Bucket=self.bucket, Key=key, Body=b"")
        # else: same digest, same bytes; the stored copy wins.
        await self._delete_keys(layout.keys)

    async def _assemble(self, key: str, pieces: list[_Piece]) -> None:
        """The blob as a multipart upload of server-side copies of the pieces."""
        s3 = await self._s3()
        created = await s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        multipart_id = created["UploadId"]
        gate = asyncio.Semaphore(COPY_CONCURRENCY)

        async def copy(number: int, piece: _Piece) -> dict[str, Any]:
            async with gate:
                result = await s3.upload_part_copy(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=multipart_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": piece.key},
                )
            return {"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]}

        tasks = [asyncio.create_task(copy(n, piece)) for n, piece in enumerate(pieces, 1)]
        try:
            parts = await asyncio.gather(*tasks)
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=multipart_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Abort, or the copied parts linger (and are billed) until a lifecycle rule.
            with suppress(Exception):
                await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=multipart_id)
            raise

    async def abort(self, upload_id: str) -> None:
        await self._delete_keys((await self._layout(upload_id)).keys)

    async def _delete_keys(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        s3 = await self._s3()
        for i in range(0, len(keys), DELETE_BATCH):
            batch = keys[i : i + DELETE_BATCH]
            result = await s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            errors = result.get("Errors") or []
            if errors:
                first = errors[0]
                raise RuntimeError(
                    f"S3 refused to delete {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}"
                )

    # -- blobs ------------------------------------------------------------

    async def size(self, digest: str) -> int | None:
        s3 = await self._s3()
        try:
            head = await s3.head_object(Bucket=self.bucket, Key=self._blob_key(digest))
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                return None
            raise
        return int(head["ContentLength"])

    def local_path(self, digest: str) -> Path | None:
        return None

    async def read(
        self, digest: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._get(self._blob_key(digest), start, end):
                yield chunk
        except ClientError as error:
            if _code(error) in _NOT_FOUND:
                raise FileNotFoundError(digest) from error
            raise

    async def delete(self, digest: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=self._blob_key(digest))

    async def list_blobs(self) -> AsyncIterator[tuple[str, int]]:
        s3 = await self._s3()
        root = self._key("blobs") + "/"
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=root):
            for item in page.get("Contents", []):
                names = item["Key"][len(root) :].split("/")
                # blobs/<algorithm>/<2 hex>/<hex>; anything else is not ours to report.
                if len(names) == 3 and names[2][:2] == names[1]:
                    yield f"{names[0]}:{names[2]}", int(item["Size"])

    async def presigned_url(self, digest: str, expires_in: int) -> str | None:
        """A URL that GETs the blob straight from S3 for `expires_in` seconds
        (SigV4 allows at most 7 days, and no longer than the credentials live).
        The Range header is not signed, so a client redirected here sends its
        own Range and S3 honours it."""
        s3 = await self._s3()
        url: str = await s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._blob_key(digest)},
            ExpiresIn=expires_in,
        )
        return url

    # -- reading ----------------------------------------------------------

    async def _get(self, key: str, start: int, end: int | None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of an object, in chunks of about READ_CHUNK."""
        if end is not None and end <= start:
            return
        s3 = await self._s3()
        extra: dict[str, str] = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=key, **extra)
        except ClientError as error:
            if _code(error) == "InvalidRange":
                return  # starts at or past the end: nothing, as a file read past EOF
            raise
        async with response["Body"] as body:
            pieces: list[bytes] = []
            gathered = 0
            while True:
                # The network hands over what it has; gather about READ_CHUNK
                # so the consumer writes few large pieces (joined once, or as is).
                data = await body.read(READ_CHUNK - gathered)
                if data:
                    pieces.append(data)
                    gathered += len(data)
                if pieces and (not data or gathered >= READ_CHUNK):
                    yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
                    pieces.clear()
                    gathered = 0
                if not data:
                    return


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""
