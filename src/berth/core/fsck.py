"""Consistency check between the metadata store and the blob store."""

from __future__ import annotations

from dataclasses import dataclass

from .service import Core

BATCH = 1000


@dataclass(frozen=True)
class Problem:
    kind: str  # missing-bytes | size-mismatch | orphan-bytes
    digest: str
    detail: str


async def check(core: Core) -> tuple[int, list[Problem]]:
    """(blobs checked, problems found)."""
    problems: list[Problem] = []
    known: dict[str, int] = {}
    after = None
    while True:
        async with core.meta.read() as tx:
            page = await tx.all_blobs(after, BATCH)
        if not page:
            break
        after = page[-1][0]
        for digest, size in page:
            known[digest] = size
            stored = await core.blobs.size(digest)
            if stored is None:
                problems.append(Problem("missing-bytes", digest, f"metadata says {size} bytes"))
            elif stored != size:
                problems.append(
                    Problem("size-mismatch", digest, f"metadata {size} bytes, store {stored}")
                )
    async for digest, size in core.blobs.list_blobs():
        if digest not in known:
            problems.append(Problem("orphan-bytes", digest, f"{size} bytes with no metadata"))
    return len(known), problems
