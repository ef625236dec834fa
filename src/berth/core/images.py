"""Images: manifests in a repository, their tags, and what they reference.

What a push does is decided here once, for PutImage and for a /v2 manifest
PUT alike; the faces only differ in what they report.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import digests, manifests
from .errors import (
    BlobsNotFound,
    DigestMismatch,
    ImageAlreadyExists,
    LimitExceeded,
    ManifestInvalid,
    ManifestNotFound,
    ManifestsNotFound,
)
from .model import Image, Repository, TagRecord
from .names import TAG
from .service import Core, now


@dataclass(frozen=True)
class PushResult:
    image: Image
    manifest: manifests.Manifest
    created: bool  # a new image, not only a new tag on an existing one
    tag_changed: bool


async def put_image(
    core: Core,
    repository: Repository,
    body: bytes,
    *,
    media_type: str | None,
    tag: str | None = None,
    digest: str | None = None,
    infer_media_type: bool = False,
    refuse_duplicate: bool = False,
) -> PushResult:
    """Store a manifest (byte-exact) and point `tag` at it.

    `digest`, when given, must be the digest of the bytes (its algorithm is
    the one used). `refuse_duplicate` is PutImage's rule: the same bytes
    under the same tag again is an error rather than a no-op.
    """
    if digest is not None:
        digests.parse(digest)
    manifest = manifests.parse(body, media_type, infer=infer_media_type)
    if digest is not None:
        actual = digests.of(body, digests.algorithm_of(digest))
        if actual != digest:
            raise DigestMismatch(digest, actual)
        manifest.digest = digest
    async with core.meta.write(repository) as tx:
        existing = await tx.get_image(repository.id, manifest.digest)
        limits = core.settings.limits
        if existing is None:
            if await tx.count_images(repository.id) >= limits.images_per_repository:
                raise LimitExceeded("images per repository", limits.images_per_repository)
            required = [d.digest for d in manifest.required_blobs]
            found = await tx.get_linked_blobs(repository.id, required, hold=True)
            missing = [d for d in dict.fromkeys(required) if d not in found]
            if missing:
                raise BlobsNotFound(missing)
            if manifest.kind != manifests.SCHEMA1:  # schema 1 carries no sizes
                for d in manifest.required_blobs:
                    if found[d.digest].size != d.size:
                        raise ManifestInvalid(
                            f"{d.digest} is {found[d.digest].size} bytes, "
                            f"the manifest says {d.size}"
                        )
            child_digests = [d.digest for d in manifest.children]
            children = await tx.get_images(repository.id, child_digests)
            missing = [d for d in dict.fromkeys(child_digests) if d not in children]
            if missing:
                raise ManifestsNotFound(missing)
            if manifest.kind == manifests.INDEX:
                # ECR: an index's size is that of its largest child, not the sum.
                size = max((c.size for c in children.values()), default=0)
            elif manifest.kind == manifests.SCHEMA1:
                size = sum(found[d].size for d in found)
            else:
                size = manifest.blob_bytes
            references = [
                {
                    "kind": "blob",
                    "digest": d.digest,
                    "media_type": d.media_type,
                    "size": d.size,
                    "platform": None,
                }
                for d in {d.digest: d for d in manifest.blobs}.values()
            ] + [
                {
                    "kind": "manifest",
                    "digest": d.digest,
                    "media_type": d.media_type,
                    "size": d.size,
                    "platform": d.platform,
                }
                for d in {d.digest: d for d in manifest.children}.values()
            ]
            stamp = now()
            manifest_id = await tx.add_image(
                repository.id,
                digest=manifest.digest,
                media_type=manifest.media_type,
                artifact_media_type=manifests.artifact_media_type(manifest),
                artifact_type=manifest.artifact_type,
                config_media_type=manifest.config_media_type,
                subject_digest=manifest.subject.digest if manifest.subject else None,
                annotations=manifest.annotations,
                size=size,
                body=body,
                now=stamp,
                references=references,
            )
            created = manifest_id is not None
            if manifest_id is None:
                # Another replica stored the same bytes a moment ago (PostgreSQL
                # does not serialise writers as SQLite's write lock does).
                raced = await tx.get_image(repository.id, manifest.digest)
                assert raced is not None
                manifest_id = raced.id
            elif manifest.kind == manifests.IMAGE:
                await tx.set_blob_media_types(
                    repository.id, {d.digest: d.media_type for d in manifest.blobs}
                )
            await tx.touch_repository(repository.id, stamp)

        else:
            manifest_id = existing.id
            created = False
        tag_changed = False
        if tag is not None:
            if existing is not None and tag not in existing.tags:
                if len(existing.tags) >= limits.tags_per_image:
                    raise LimitExceeded("tags per image", limits.tags_per_image)
            outcome = await tx.set_tag(repository.id, tag, manifest_id, now())
            if outcome == "unchanged" and refuse_duplicate:
                raise ImageAlreadyExists(manifest.digest, tag)
            tag_changed = outcome != "unchanged"
        elif not created and refuse_duplicate:
            raise ImageAlreadyExists(manifest.digest, "")
        image = await tx.get_image(repository.id, manifest.digest)
    assert image is not None
    return PushResult(image, manifest, created, tag_changed)


async def get_manifest(
    core: Core, repository: Repository, reference: str
) -> tuple[str, str, bytes]:
    """(digest, media type, exact bytes) by tag or digest."""
    by_tag = not digests.looks_like_digest(reference)
    async with core.meta.read() as tx:
        found = await tx.get_manifest_body(repository.id, reference, by_tag)
    if found is None:
        raise ManifestNotFound(reference)
    return found


async def find_image(
    core: Core, repository: Repository, *, digest: str | None, tag: str | None
) -> Image | None:
    async with core.meta.read() as tx:
        if tag is not None:
            image = await tx.get_image_by_tag(repository.id, tag)
            if image is None or (digest is not None and image.digest != digest):
                return None
            return image
        if digest is not None:
            return await tx.get_image(repository.id, digest)
    return None


async def list_images(
    core: Core, repository: Repository, after: int | None, limit: int
) -> tuple[list[Image], int | None]:
    async with core.meta.read() as tx:
        page = await tx.list_images(repository.id, after, limit + 1)
    if len(page) > limit:
        return page[:limit], page[limit - 1].id
    return page, None


async def list_tags(
    core: Core, repository: Repository, after: str | None, limit: int
) -> tuple[list[TagRecord], str | None]:
    async with core.meta.read() as tx:
        page = await tx.list_tags(repository.id, after, limit + 1)
    if len(page) > limit:
        return page[:limit], page[limit - 1].name
    return page, None


async def list_tag_names(
    core: Core, repository: Repository, after: str | None, limit: int | None
) -> list[str]:
    async with core.meta.read() as tx:
        return await tx.list_tag_names(repository.id, after, limit)


async def list_oci_tag_names(
    core: Core, repository: Repository, after: str | None, limit: int | None
) -> list[str]:
    """The tags a /v2 client can address, in order: PutImage takes any 1-300
    characters, but a tag outside the OCI form would break clients that list
    tags and then pull each one."""
    batch = max(limit or 0, 500)
    found: list[str] = []
    while True:
        names = await list_tag_names(core, repository, after, batch)
        found.extend(name for name in names if TAG.fullmatch(name))
        if (limit is not None and len(found) >= limit) or len(names) < batch:
            return found if limit is None else found[:limit]
        after = names[-1]


# Why an image could not be deleted; each face words these its own way.
NOT_FOUND = "not_found"
INVALID_DIGEST = "invalid_digest"
TAG_DIGEST_MISMATCH = "tag_digest_mismatch"
MISSING_IDENTIFIER = "missing_identifier"
REFERENCED_BY_INDEX = "referenced_by_index"


@dataclass(frozen=True)
class DeleteOutcome:
    digest: str | None
    tag: str | None
    failure: str | None = None


async def delete_images(
    core: Core, repository: Repository, ids: list[tuple[str | None, str | None]]
) -> list[DeleteOutcome]:
    """Delete by (digest, tag) pairs, ECR's way.

    A tag alone removes the tag, and the image with it when it was its last
    tag; a digest removes the image and every tag on it. An image an index in
    the repository still lists cannot go. Blob bytes are left to GC.
    """
    outcomes: list[DeleteOutcome] = []
    async with core.meta.write(repository) as tx:
        for digest, tag in ids:
            if digest is None and tag is None:
                outcomes.append(DeleteOutcome(None, None, MISSING_IDENTIFIER))
                continue
            if digest is not None and not digests.is_digest(digest):
                outcomes.append(DeleteOutcome(digest, tag, INVALID_DIGEST))
                continue
            if tag is not None:
                image = await tx.get_image_by_tag(repository.id, tag)
                if image is None:
                    outcomes.append(DeleteOutcome(digest, tag, NOT_FOUND))
                    continue
                if digest is not None and image.digest != digest:
                    outcomes.append(DeleteOutcome(digest, tag, TAG_DIGEST_MISMATCH))
                    continue
                last_tag = image.tags == (tag,)
                if digest is None and not last_tag:
                    await tx.delete_tag(repository.id, tag)
                    outcomes.append(DeleteOutcome(image.digest, tag))
                    continue
            else:
                assert digest is not None
                found = await tx.get_image(repository.id, digest)
                if found is None:
                    outcomes.append(DeleteOutcome(digest, tag, NOT_FOUND))
                    continue
                image = found
            if await tx.parents_of(repository.id, image.digest):
                outcomes.append(DeleteOutcome(digest, tag, REFERENCED_BY_INDEX))
                continue
            await tx.delete_image(image.id)
            if tag is not None:
                outcomes.append(DeleteOutcome(image.digest, tag))
            elif image.tags:
                outcomes.extend(DeleteOutcome(image.digest, t) for t in image.tags)
            else:
                outcomes.append(DeleteOutcome(image.digest, None))
    return outcomes


async def delete_tag(core: Core, repository: Repository, tag: str) -> DeleteOutcome:
    """Remove only the tag; the image stays, untagged if it was its last one."""
    async with core.meta.write(repository) as tx:
        image = await tx.get_image_by_tag(repository.id, tag)
        if image is None:
            return DeleteOutcome(None, tag, NOT_FOUND)
        await tx.delete_tag(repository.id, tag)
    return DeleteOutcome(image.digest, tag)


async def referrers(core: Core, repository: Repository, subject: str) -> list[Image]:
    """Manifests in the repository whose `subject` is `subject`, in push order."""
    digests.parse(subject)
    async with core.meta.read() as tx:
        return await tx.referrers(repository.id, subject)


async def pull_manifest(
    core: Core, account_id: str, name: str, reference: str, by_tag: bool
) -> tuple[str, str, bytes] | None:
    """The pull path's one lookup: (digest, media type, exact bytes), or None
    (no such repository, or no such manifest in it)."""
    return await core.meta.pull_manifest(account_id, name, reference, by_tag)
