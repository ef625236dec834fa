"""Blob backends: content-addressed bytes behind one small interface."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    """Where blob bytes live. Upload bytes stay private to their upload until
    `commit` makes them visible, whole and durable, under their digest."""

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]) -> int:
        """Write `chunks` into the upload from `offset` on (dropping anything
        stored past it); return the upload's new size."""
        ...

    def read_upload(self, upload_id: str) -> AsyncIterator[bytes]:
        """The bytes received so far, to re-hash an upload this process did not see."""
        ...

    async def commit(self, upload_id: str, digest: str, size: int) -> None:
        """Make the first `size` bytes of the upload the blob `digest` (anything
        a broken request left past them is dropped); durable once this returns."""
        ...

    async def abort(self, upload_id: str) -> None: ...

    async def size(self, digest: str) -> int | None: ...

    def local_path(self, digest: str) -> Path | None:
        """A file the server may sendfile() from, when the backend has one."""
        ...

    def read(self, digest: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of a blob."""
        ...

    async def delete(self, digest: str) -> None: ...

    async def presigned_url(self, digest: str, expires_in: int) -> str | None:
        """A short-lived URL clients may fetch the blob from directly (Range
        included), or None when the backend has no such thing."""
        ...

    def list_blobs(self) -> AsyncIterator[tuple[str, int]]:
        """Every stored blob as (digest, size), for fsck and orphan sweeps."""
        ...


def open_blobs(url: str) -> BlobStore:
    """Open the store named by a URL: file:///path or s3://bucket/prefix (S3
    credentials, region and endpoint come from the usual AWS configuration)."""
    if url.startswith("file://"):
        from .filesystem import FilesystemBlobStore

        return FilesystemBlobStore(Path(url[len("file://") :]))
    if url.startswith("s3://"):
        from .s3 import S3BlobStore

        return S3BlobStore.from_url(url)
    raise ValueError(f"unsupported blob store URL {url!r}: use file:///path or s3://bucket/prefix")
