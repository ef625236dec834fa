"""Blob uploads, shared by the API's layer parts and /v2's POST/PATCH/PUT.

Bytes are hashed as they arrive, in the process that receives them. The hash
object is cached per upload; a process without it (a restart, another
worker) re-hashes the stored bytes once and goes on. Hash state is never
serialised.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from . import blobs, digests
from .errors import (
    BlobAlreadyExists,
    DigestMismatch,
    LimitExceeded,
    RepositoryNotFound,
    UploadEmpty,
    UploadNotFound,
    UploadPartTooSmall,
    UploadRangeInvalid,
)
from .model import Repository, Upload
from .service import Core, now

# How long a request's claim on an upload lasts unless renewed (a third of it): what a
# crashed writer costs the request that resumes its upload elsewhere, at most.
LEASE = 15.0
CLAIM_POLL = 0.2  # seconds between looks at an upload another process is writing

_locks: dict[str, asyncio.Lock] = {}


def _lock(upload_id: str) -> asyncio.Lock:
    # One request at a time per upload in this process; the size check in
    # save_upload keeps other processes honest.
    return _locks.setdefault(upload_id, asyncio.Lock())


def forget(core: Core, upload_id: str) -> None:
    """Drop this process's cache for an upload that is gone (purged or deleted)."""
    core.hashers.pop(upload_id, None)
    lock = _locks.get(upload_id)
    if lock is not None and not lock.locked():
        del _locks[upload_id]


async def start_upload(
    core: Core,
    repository: Repository,
    algorithm: str = digests.DEFAULT_ALGORITHM,
    writer: str | None = None,
) -> Upload:
    """A new upload session; with `writer`, already claimed by that request (a
    monolithic POST writes its bytes at once: no other request knows the id yet)."""
    digests.hasher(algorithm)  # refuses an unsupported algorithm up front
    stamp = now()
    upload = Upload(
        id=str(uuid.uuid4()),
        repository_id=repository.id,
        algorithm=algorithm,
        size=0,
        parts=0,
        last_part_size=0,
        smallest_inner_part=None,
        created_at=stamp,
        updated_at=stamp,
    )
    async with core.meta.write(repository) as tx:
        await tx.add_upload(upload, writer, stamp + LEASE if writer else None)
    core.hashers[upload.id] = (0, digests.hasher(algorithm))
    return upload


async def push_whole(
    core: Core, repository: Repository, algorithm: str, digest: str, chunks: AsyncIterable[bytes]
) -> str:
    """A blob in one request (a monolithic POST): an upload claimed by this request
    from its creation (no other knows its id), completed, or gone if it fails."""
    writer = str(uuid.uuid4())
    upload = await start_upload(core, repository, algorithm, writer)
    try:
        found, _size = await complete(core, repository, upload.id, [digest], chunks, writer=writer)
    except BaseException:
        with contextlib.suppress(UploadNotFound):  # gone already: the first error tells why
            await cancel(core, repository, upload.id)
        raise
    return found


async def get_upload(core: Core, repository: Repository, upload_id: str) -> Upload:
    upload = await core.meta.find_upload(upload_id)
    if upload is None or upload.repository_id != repository.id:
        raise UploadNotFound(upload_id)
    return upload


async def _hasher_at(core: Core, upload: Upload, algorithm: str) -> Any:
    """A hash object that has seen exactly the upload's stored bytes."""
    cached = core.hashers.get(upload.id)
    if algorithm == upload.algorithm and cached is not None and cached[0] == upload.size:
        return cached[1]
    hasher = digests.hasher(algorithm)
    seen = 0
    async for chunk in core.blobs.read_upload(upload.id):
        take = chunk[: upload.size - seen]
        hasher.update(take)
        seen += len(take)
        if seen >= upload.size:
            break
    if algorithm == upload.algorithm:
        core.hashers[upload.id] = (upload.size, hasher)
    return hasher


async def _hashing(chunks: AsyncIterable[bytes], hasher: Any) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        hasher.update(chunk)
        yield chunk


async def _receive(core: Core, upload: Upload, chunks: AsyncIterable[bytes]) -> int | None:
    """Store and hash bytes after the upload's, updating `upload` in memory only.

    Returns the size the upload had before, for `_record`, or None if no byte came.
    """
    hasher = await _hasher_at(core, upload, upload.algorithm)
    core.hashers.pop(upload.id, None)  # until the new bytes are recorded
    new_size = await core.blobs.append(upload.id, upload.size, _hashing(chunks, hasher))
    # Held by this process's lock on the upload; dropped again if recording fails.
    core.hashers[upload.id] = (new_size, hasher)
    written = new_size - upload.size
    if written == 0:
        return None
    previous = upload.size
    if upload.parts:
        inner = upload.last_part_size
        upload.smallest_inner_part = (
            inner if upload.smallest_inner_part is None else min(upload.smallest_inner_part, inner)
        )
    upload.parts += 1
    upload.last_part_size = written
    upload.size = new_size
    upload.updated_at = now()
    return previous


async def _record(
    core: Core, tx: Any, upload: Upload, previous: int, writer: str, keep: bool = False
) -> None:
    if not await tx.save_upload(upload, previous, writer, keep):
        core.hashers.pop(upload.id, None)
        raise UploadRangeInvalid(upload.id, previous, previous)


@asynccontextmanager
async def _writing(core: Core, upload: Upload, writer: str | None = None) -> AsyncIterator[str]:
    """Be the upload's one writer, across every process, while the block runs: claim
    it (or take over `writer`'s claim) and renew the claim until the block ends. The
    block gives it up by saving progress (or deleting the upload); a block that fails
    gives it up here; a crash lets it run out."""
    if writer is None:
        writer = await _claim(core, upload)

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE / 3)
            async with core.meta.write(durable=False) as tx:
                await tx.renew_upload(upload.id, writer, now() + LEASE)

    renewing = asyncio.create_task(renew())
    try:
        yield writer
    except BaseException:
        await _release(core, upload.id, writer)
        raise
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing


async def _claim(core: Core, upload: Upload) -> str:
    """Claim the upload where it stands. Another process's request writing it now is
    waited for (a crashed one's claim runs out within LEASE); an upload that moved
    meanwhile is out of order for this request."""
    writer = str(uuid.uuid4())
    give_up = asyncio.get_running_loop().time() + LEASE + 2
    while True:
        stamp = now()
        # No hold on the repository: deleting it deletes the upload, and then no claim.
        async with core.meta.write(durable=False) as tx:
            if await tx.claim_upload(upload.id, upload.size, writer, stamp, stamp + LEASE):
                return writer
        current = await core.meta.find_upload(upload.id)
        if current is None:
            raise UploadNotFound(upload.id)
        if current.size != upload.size or asyncio.get_running_loop().time() > give_up:
            raise UploadRangeInvalid(upload.id, current.size, upload.size)
        await asyncio.sleep(CLAIM_POLL)


async def _release(core: Core, upload_id: str, writer: str) -> None:
    async with core.meta.write(durable=False) as tx:
        await tx.release_upload(upload_id, writer)


def _check_offset(upload: Upload, first_byte: int | None) -> None:
    if first_byte is not None and first_byte != upload.size:
        raise UploadRangeInvalid(upload.id, upload.size, first_byte)


async def append(
    core: Core,
    repository: Repository,
    upload_id: str,
    chunks: AsyncIterable[bytes],
    first_byte: int | None = None,
    max_parts: int | None = None,
) -> Upload:
    """Add bytes to an upload; `first_byte`, when given, must be where it
    stands, and `max_parts` caps how many parts the upload may have."""
    async with _lock(upload_id):
        upload = await get_upload(core, repository, upload_id)
        if max_parts is not None and upload.parts >= max_parts:
            raise LimitExceeded("layer parts per upload", max_parts)
        _check_offset(upload, first_byte)
        async with _writing(core, upload) as writer:
            previous = await _receive(core, upload, chunks)
            if previous is None:
                await _release(core, upload.id, writer)
                return upload
            async with core.meta.write(repository) as tx:
                await _record(core, tx, upload, previous, writer)
        return upload


async def complete(
    core: Core,
    repository: Repository,
    upload_id: str,
    candidates: list[str],
    final_chunks: AsyncIterable[bytes] | None = None,
    *,
    first_byte: int | None = None,
    require_parts: bool = False,
    min_part_size: int | None = None,
    refuse_existing: bool = False,
    writer: str | None = None,
) -> tuple[str, int]:
    """Verify the upload against the claimed digest(s) and publish the blob.

    Returns (digest, size). The blob is visible only after its bytes are
    durable under that digest. `writer`: the claim start_upload made for it.
    """
    async with _lock(upload_id):
        upload = await get_upload(core, repository, upload_id)
        _check_offset(upload, first_byte)
        # Claimed to the end: no other request may add bytes while they are published.
        async with _writing(core, upload, writer) as writer:
            published = await _publish(
                core,
                repository,
                upload,
                writer,
                candidates,
                final_chunks,
                require_parts,
                min_part_size,
                refuse_existing,
            )
    _locks.pop(upload_id, None)
    return published


async def _publish(
    core: Core,
    repository: Repository,
    upload: Upload,
    writer: str,
    candidates: list[str],
    final_chunks: AsyncIterable[bytes] | None,
    require_parts: bool,
    min_part_size: int | None,
    refuse_existing: bool,
) -> tuple[str, int]:
    upload_id = upload.id
    previous = None
    try:
        if final_chunks is not None:
            previous = await _receive(core, upload, final_chunks)
        matched = await _verify(
            core, repository, upload, candidates, require_parts, min_part_size, refuse_existing
        )
    except BaseException:
        if previous is not None:
            # A refused final chunk changes nothing: the upload stands where it
            # stood, so the same PUT can be retried (the next append truncates).
            core.hashers.pop(upload.id, None)
        raise
    async with core.meta.write(repository) as tx:
        if previous is not None:  # in the blob's transaction: one commit fewer
            await _record(core, tx, upload, previous, writer, keep=True)
        # A fresh row under its lock: garbage collection, which re-checks a
        # blob's age under the same lock, leaves these bytes alone for the
        # grace period, so they can go in place outside the transaction (on
        # SQLite a transaction locks every writer out; a commit may fsync or
        # complete an S3 multipart upload). Unlinked, the row is seen by no one.
        await tx.add_blob(matched, upload.size, now())
        await tx.lock_blob(matched)
        await tx.touch_blob(matched, now())
    try:
        await core.blobs.commit(upload_id, matched, upload.size)
    except Exception:
        await _gone_while_finishing(core, repository, upload_id, matched)
        raise
    collected = False
    async with core.meta.write(repository) as tx:
        if await tx.lock_blob(matched) is None:
            # Collected between the two transactions, bytes first: only a grace
            # period of 0 allows it. The upload is spent; the client pushes again.
            collected = True
        else:
            await tx.link_blob(repository.id, matched, now())
        await tx.delete_upload(upload_id)
    core.hashers.pop(upload_id, None)
    if collected:
        raise UploadNotFound(upload_id)
    return matched, upload.size


async def _gone_while_finishing(
    core: Core, repository: Repository, upload_id: str, digest: str
) -> None:
    """The store could not publish the bytes. If the upload went meanwhile (its
    repository deleted, or it was cancelled or purged), say so in the caller's terms
    and leave no row that promises bytes nobody stored; a store failure stays one."""
    async with core.meta.write() as tx:
        if (
            await tx.lock_blob(digest) is not None
            and not await tx.blob_linked_anywhere(digest)
            and await core.blobs.size(digest) is None
        ):
            await tx.delete_blob(digest)
    core.hashers.pop(upload_id, None)
    if await core.meta.find_repository(repository.account_id, repository.name) is None:
        raise RepositoryNotFound(repository.account_id, repository.name)
    if await core.meta.find_upload(upload_id) is None:
        raise UploadNotFound(upload_id)


async def _verify(
    core: Core,
    repository: Repository,
    upload: Upload,
    candidates: list[str],
    require_parts: bool,
    min_part_size: int | None,
    refuse_existing: bool,
) -> str:
    """The candidate digest the upload's bytes have, after the checks of `complete`."""
    if require_parts and upload.parts == 0:
        raise UploadEmpty(upload.id)
    if (
        min_part_size is not None
        and upload.smallest_inner_part is not None
        and upload.smallest_inner_part < min_part_size
    ):
        raise UploadPartTooSmall(upload.id, min_part_size)
    actual: dict[str, str] = {}
    matched = None
    for candidate in candidates:
        algorithm = digests.algorithm_of(candidate)
        if algorithm not in actual:
            hasher = await _hasher_at(core, upload, algorithm)
            actual[algorithm] = f"{algorithm}:{hasher.copy().hexdigest()}"
        if actual[algorithm] == candidate:
            matched = candidate
            break
    if matched is None:
        computed = next(iter(actual.values()), "")
        raise DigestMismatch(candidates[0] if candidates else "", computed)
    if refuse_existing:
        async with core.meta.read() as tx:
            linked = await tx.get_linked_blobs(repository.id, [matched])
        # The client will reuse the linked blob: hold it as a HEAD would, and
        # link it again below if garbage collection got there first.
        if linked and not await blobs.keep_for_push(core, repository, [matched]):
            raise BlobAlreadyExists(matched)
    return matched


async def cancel(core: Core, repository: Repository, upload_id: str) -> None:
    async with _lock(upload_id):
        await get_upload(core, repository, upload_id)
        async with core.meta.write(repository) as tx:
            await tx.delete_upload(upload_id)
        await core.blobs.abort(upload_id)
        core.hashers.pop(upload_id, None)
    _locks.pop(upload_id, None)
