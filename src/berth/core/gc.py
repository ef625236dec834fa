"""Garbage collection: free what nothing references, never what a push is using.

A link (a blob pushed or mounted into a repository) goes once it is older
than the grace period and no manifest of that repository references it; a
blob goes once no repository links it and it is older than the grace
period. Every deletion re-checks its condition under the row lock that
uploads, mounts and manifest pushes take too, so GC and a push that reuses
a blob never interleave; and a push that finds a blob present restarts its
link's grace period (blobs.keep_for_push), so the blob outlives the push.
Manifests are images and are only ever deleted on request (BatchDeleteImage,
DELETE on /v2, DeleteRepository).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import uploads
from .service import Core, now

BATCH = 500


@dataclass
class Report:
    uploads_purged: int = 0
    links_removed: int = 0
    blobs_deleted: int = 0
    bytes_freed: int = 0


Progress = Callable[[str, int], None]


def _nothing(_stage: str, _count: int) -> None:
    return None


async def collect(
    core: Core,
    *,
    grace: float,
    upload_max_age: float,
    dry_run: bool = False,
    progress: Progress = _nothing,
) -> Report:
    report = Report()
    start = now()
    if dry_run:
        return await _survey(core, start - grace, start - upload_max_age)

    while True:
        async with core.meta.read() as tx:
            stale = await tx.stale_uploads(start - upload_max_age, BATCH)
        if not stale:
            break
        for upload_id in stale:
            async with core.meta.write() as tx:
                if not await tx.delete_upload(upload_id):
                    continue
            await core.blobs.abort(upload_id)
            uploads.forget(core, upload_id)
            report.uploads_purged += 1
            progress("uploads", 1)

    cutoff = start - grace
    seen: set[tuple[int, str]] = set()
    while True:
        async with core.meta.read() as tx:
            links = [link for link in await tx.stale_links(cutoff, BATCH) if link not in seen]
        if not links:
            break
        for repository_id, digest in links:
            seen.add((repository_id, digest))
            async with core.meta.write() as tx:
                linked_at = await tx.lock_link(repository_id, digest)
                if linked_at is None or linked_at >= cutoff:
                    continue
                if await tx.link_referenced(repository_id, digest):
                    continue
                await tx.unlink_blob(repository_id, digest)
            report.links_removed += 1
            progress("links", 1)

    done: set[str] = set()
    while True:
        async with core.meta.read() as tx:
            candidates = [c for c in await tx.unlinked_blobs(cutoff, BATCH) if c[0] not in done]
        if not candidates:
            break
        for digest, size in candidates:
            done.add(digest)
            async with core.meta.write() as tx:
                created_at = await tx.lock_blob(digest)
                if created_at is None or created_at >= cutoff:
                    continue
                if await tx.blob_linked_anywhere(digest):
                    continue
                # Bytes first, then the row: a crash in between leaves a row
                # without bytes for fsck to report, never bytes a row lost.
                await core.blobs.delete(digest)
                await tx.delete_blob(digest)
            report.blobs_deleted += 1
            report.bytes_freed += size
            progress("blobs", 1)
    return report


async def _survey(core: Core, cutoff: float, upload_cutoff: float) -> Report:
    """What a collection would free now, changing nothing."""
    report = Report()
    async with core.meta.read() as tx:
        report.uploads_purged = len(await tx.stale_uploads(upload_cutoff, 10**9))
        links = await tx.stale_links(cutoff, 10**9)
        report.links_removed = len(links)
        going: dict[str, int] = {}
        for _repository_id, digest in links:
            going[digest] = going.get(digest, 0) + 1
        freed = {d: s for d, s in await tx.unlinked_blobs(cutoff, 10**9)}
        for digest, count in going.items():
            if await tx.count_links(digest) == count:
                size = await tx.get_blob_size(digest)
                blob_time = await tx.blob_created_at(digest)
                if size is not None and blob_time is not None and blob_time < cutoff:
                    freed[digest] = size
    report.blobs_deleted = len(freed)
    report.bytes_freed = sum(freed.values())
    return report
