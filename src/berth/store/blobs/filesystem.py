"""Blobs in a folder: `blobs/<algorithm>/<2 hex>/<hex>`, uploads in `uploads/`.

A blob appears only by an atomic rename of a fully written, fsynced upload
file, so a crash leaves either nothing or the whole blob.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

READ_CHUNK = 1024 * 1024


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.uploads = root / "uploads"
        self.blobs = root / "blobs"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)

    def _blob_path(self, digest: str) -> Path:
        algorithm, encoded = digest.split(":", 1)
        return self.blobs / algorithm / encoded[:2] / encoded

    def _upload_path(self, upload_id: str) -> Path:
        return self.uploads / upload_id

    async def append(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes]) -> int:
        path = self._upload_path(upload_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            # Drop bytes a broken earlier request left past the recorded size.
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, os.SEEK_SET)
            size = offset
            async for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                size += len(chunk)
            # Durable before anyone is told the bytes arrived; the commit's own
            # fsync then has nothing left to flush.
            await asyncio.to_thread(os.fsync, fd)
            return size
        finally:
            os.close(fd)

    async def read_upload(self, upload_id: str) -> AsyncIterator[bytes]:
        path = self._upload_path(upload_id)
        if not path.exists():
            return
        with path.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
                yield chunk

    async def commit(self, upload_id: str, digest: str, size: int) -> None:
        source = self._upload_path(upload_id)
        target = self._blob_path(digest)
        if not source.exists():
            if size:  # the upload went (cancelled, purged): nothing to publish
                raise FileNotFoundError(source)
            source.touch()  # a zero-byte blob never had a chunk written
        await asyncio.to_thread(_durable_rename, source, target, size)

    async def abort(self, upload_id: str) -> None:
        self._upload_path(upload_id).unlink(missing_ok=True)

    async def size(self, digest: str) -> int | None:
        try:
            return self._blob_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def local_path(self, digest: str) -> Path | None:
        return self._blob_path(digest)

    async def read(
        self, digest: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        with self._blob_path(digest).open("rb") as f:
            f.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                want = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await asyncio.to_thread(f.read, want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def delete(self, digest: str) -> None:
        self._blob_path(digest).unlink(missing_ok=True)

    async def presigned_url(self, digest: str, expires_in: int) -> str | None:
        return None  # bytes on local disk go out through sendfile instead

    async def list_blobs(self) -> AsyncIterator[tuple[str, int]]:
        for algorithm in sorted(p for p in self.blobs.iterdir() if p.is_dir()):
            for path in sorted(algorithm.glob("*/*")):
                yield f"{algorithm.name}:{path.name}", path.stat().st_size


def _durable_rename(source: Path, target: Path, size: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(source, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
    if target.exists():
        # Same digest, same bytes: the stored copy wins and this one goes.
        source.unlink()
        return
    os.replace(source, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
