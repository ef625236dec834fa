"""The filesystem blob store on its own: what the integration suite cannot time."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from berth.store.blobs.filesystem import FilesystemBlobStore


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_commit_of_a_vanished_upload_publishes_nothing(tmp_path: Path) -> None:
    """An upload aborted (its repository deleted) while a PUT finishes it: the commit
    fails rather than publish an empty file stretched to the size under the digest."""
    store = FilesystemBlobStore(tmp_path)
    data = b"bytes that go away"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert await store.append("u1", 0, _chunks(data)) == len(data)
    await store.abort("u1")
    with pytest.raises(FileNotFoundError):
        await store.commit("u1", digest, len(data))
    assert await store.size(digest) is None


async def test_zero_byte_blob_needs_no_upload_file(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    empty = "sha256:" + hashlib.sha256(b"").hexdigest()
    await store.commit("never-written", empty, 0)
    assert await store.size(empty) == 0
