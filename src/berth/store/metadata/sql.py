"""The metadata store: every query berth makes, on SQLite or PostgreSQL.

One query layer (SQLAlchemy Core) serves both databases; dialect differences
are confined to `_insert_ignore` and the connection set-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ...core.errors import RepositoryNotFound
from ...core.model import (
    Alias,
    BlobLink,
    CatalogData,
    Image,
    Listing,
    Registry,
    Repository,
    TagRecord,
    Upload,
)
from . import schema
from . import tables as t

_IMAGE_COLUMNS = (
    t.manifests.c.id,
    t.manifests.c.repository_id,
    t.manifests.c.digest,
    t.manifests.c.media_type,
    t.manifests.c.artifact_media_type,
    t.manifests.c.artifact_type,
    t.manifests.c.config_media_type,
    t.manifests.c.subject_digest,
    t.manifests.c.annotations,
    t.manifests.c.image_size,
    t.manifests.c.pushed_at,
    func.length(t.manifests.c.body).label("body_size"),
)


def _image(row: Any, tags: Sequence[str] = ()) -> Image:
    return Image(
        id=row.id,
        repository_id=row.repository_id,
        digest=row.digest,
        media_type=row.media_type,
        artifact_media_type=row.artifact_media_type,
        artifact_type=row.artifact_type,
        config_media_type=row.config_media_type,
        subject_digest=row.subject_digest,
        annotations=row.annotations,
        size=row.image_size,
        pushed_at=row.pushed_at,
        body_size=row.body_size,
        tags=tuple(tags),
    )


def _repository(row: Any) -> Repository:
    return Repository(row.id, row.account_id, row.name, row.created_at)


def _upload(row: Any) -> Upload:
    return Upload(
        id=row.id,
        repository_id=row.repository_id,
        algorithm=row.algorithm,
        size=row.size,
        parts=row.parts,
        last_part_size=row.last_part_size,
        smallest_inner_part=row.smallest_inner_part,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class Tx:
    """One transaction; every method runs inside it."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _insert_ignore(
        self, table: Any, values: dict[str, Any] | list[dict[str, Any]]
    ) -> int:
        dialect = self.conn.dialect.name
        stmt: Any
        if dialect == "postgresql":
            stmt = postgresql.insert(table).on_conflict_do_nothing()
        else:
            stmt = sqlite.insert(table).on_conflict_do_nothing()
        result = await self.conn.execute(stmt, values)
        return int(result.rowcount or 0)

    # settings -----------------------------------------------------------
    async def get_setting(self, name: str) -> str | None:
        row = (
            await self.conn.execute(select(t.settings.c.value).where(t.settings.c.name == name))
        ).first()
        return None if row is None else str(row.value)

    async def add_setting(self, name: str, value: str) -> str:
        """Store `value` unless a value is already there; return the stored one."""
        await self._insert_ignore(t.settings, {"name": name, "value": value})
        stored = await self.get_setting(name)
        assert stored is not None
        return stored

    async def take_lease(self, name: str, now: float, ttl: float) -> bool:
        """Hold the named lease until now + ttl unless someone holds it now."""
        await self._insert_ignore(t.settings, {"name": name, "value": "0"})
        row = (
            await self.conn.execute(
                select(t.settings.c.value).where(t.settings.c.name == name).with_for_update()
            )
        ).one()
        if float(row.value) > now:
            return False
        await self.conn.execute(
            update(t.settings).where(t.settings.c.name == name).values(value=repr(now + ttl))
        )
        return True

    # registries and aliases ----------------------------------------------
    async def get_registry(self, account_id: str) -> Registry | None:
        row = (
            await self.conn.execute(
                select(t.registries).where(t.registries.c.account_id == account_id)
            )
        ).first()
        if row is None:
            return None
        rows = await self.conn.execute(
            select(t.aliases).where(t.aliases.c.account_id == account_id).order_by(t.aliases.c.name)
        )
        aliases = tuple(
            Alias(r.name, r.account_id, r.status, r.is_primary, r.is_default) for r in rows
        )
        return Registry(row.account_id, row.created_at, row.display_name, aliases)

    async def add_registry(self, account_id: str, alias: str, now: float) -> bool:
        """Create a registry with its default alias; False when one already exists."""
        if not await self._insert_ignore(
            t.registries, {"account_id": account_id, "created_at": now}
        ):
            return False
        await self.conn.execute(
            t.aliases.insert().values(
                name=alias,
                account_id=account_id,
                status="ACTIVE",
                is_primary=True,
                is_default=True,
            )
        )
        return True

    async def alias_exists(self, alias: str) -> bool:
        row = (
            await self.conn.execute(select(t.aliases.c.name).where(t.aliases.c.name == alias))
        ).first()
        return row is not None

    async def account_for_alias(self, alias: str) -> str | None:
        row = (
            await self.conn.execute(
                select(t.aliases.c.account_id).where(
                    t.aliases.c.name == alias, t.aliases.c.status == "ACTIVE"
                )
            )
        ).first()
        return None if row is None else str(row.account_id)

    async def list_registries(self, after: str | None, limit: int) -> list[str]:
        query = select(t.registries.c.account_id).order_by(t.registries.c.account_id).limit(limit)
        if after is not None:
            query = query.where(t.registries.c.account_id > after)
        return [r.account_id for r in await self.conn.execute(query)]

    async def set_display_name(self, account_id: str, display_name: str | None) -> None:
        await self.conn.execute(
            update(t.registries)
            .where(t.registries.c.account_id == account_id)
            .values(display_name=display_name)
        )

    # repositories --------------------------------------------------------
    async def get_repository(self, account_id: str, name: str) -> Repository | None:
        row = (
            await self.conn.execute(_FIND_REPOSITORY, {"account": account_id, "name": name})
        ).first()
        return None if row is None else _repository(row)

    async def add_repository(self, account_id: str, name: str, now: float) -> Repository | None:
        """Insert a repository; None when the name is taken."""
        inserted = await self._insert_ignore(
            t.repositories, {"account_id": account_id, "name": name, "created_at": now}
        )
        if not inserted:
            return None
        return await self.get_repository(account_id, name)

    async def list_repositories(
        self, account_id: str, after: str | None, limit: int | None
    ) -> list[Repository]:
        query = (
            select(t.repositories)
            .where(t.repositories.c.account_id == account_id)
            .order_by(t.repositories.c.name)
        )
        if after is not None:
            query = query.where(t.repositories.c.name > after)
        if limit is not None:
            query = query.limit(limit)
        return [_repository(r) for r in await self.conn.execute(query)]

    async def hold_repository(self, repository: Repository) -> None:
        """Keep the repository for this transaction, or raise RepositoryNotFound if it is
        gone: a push that writes rows under it never outlives a DeleteRepository (which
        waits for the hold on PostgreSQL; on SQLite writers take turns anyway)."""
        r = t.repositories.c
        row = (
            await self.conn.execute(
                select(r.id)
                .where(
                    r.id == repository.id,
                    r.account_id == repository.account_id,
                    r.name == repository.name,
                )
                .with_for_update(key_share=True)
            )
        ).first()
        if row is None:
            raise RepositoryNotFound(repository.account_id, repository.name)

    async def delete_repository(self, repository_id: int) -> None:
        # First wait for every transaction holding the repository, so none adds a
        # row after the children below are gone.
        await self.conn.execute(
            select(t.repositories.c.id)
            .where(t.repositories.c.id == repository_id)
            .with_for_update()
        )
        # Children first: SQLite enforces ON DELETE CASCADE only with a pragma,
        # and being explicit keeps both databases identical.
        manifest_ids = select(t.manifests.c.id).where(t.manifests.c.repository_id == repository_id)
        await self.conn.execute(delete(t.tags).where(t.tags.c.repository_id == repository_id))
        await self.conn.execute(
            delete(t.manifest_references).where(
                t.manifest_references.c.manifest_id.in_(manifest_ids)
            )
        )
        await self.conn.execute(
            delete(t.manifests).where(t.manifests.c.repository_id == repository_id)
        )
        await self.conn.execute(
            delete(t.repository_blobs).where(t.repository_blobs.c.repository_id == repository_id)
        )
        await self.conn.execute(delete(t.uploads).where(t.uploads.c.repository_id == repository_id))
        await self.conn.execute(
            delete(t.resource_tags).where(t.resource_tags.c.repository_id == repository_id)
        )
        await self.conn.execute(delete(t.repositories).where(t.repositories.c.id == repository_id))

    async def touch_repository(self, repository_id: int, pushed_at: float) -> None:
        await self.conn.execute(
            update(t.repositories)
            .where(t.repositories.c.id == repository_id)
            .values(pushed_at=pushed_at)
        )

    async def count_repositories(self, account_id: str) -> int:

        result = await self.conn.execute(
            select(func.count())
            .select_from(t.repositories)
            .where(t.repositories.c.account_id == account_id)
        )
        return int(result.scalar_one())

    # catalog data, logos, policies, resource tags -------------------------
    async def get_catalog(self, repository_id: int) -> CatalogData:
        c = t.repositories.c
        row = (
            await self.conn.execute(
                select(
                    c.description,
                    c.about_text,
                    c.usage_text,
                    c.architectures,
                    c.operating_systems,
                    c.logo_digest,
                ).where(c.id == repository_id)
            )
        ).one()
        return CatalogData(
            description=row.description,
            about_text=row.about_text,
            usage_text=row.usage_text,
            architectures=None if row.architectures is None else tuple(row.architectures),
            operating_systems=None
            if row.operating_systems is None
            else tuple(row.operating_systems),
            logo_digest=row.logo_digest,
        )

    async def set_catalog(self, repository_id: int, data: CatalogData) -> None:
        await self.conn.execute(
            update(t.repositories)
            .where(t.repositories.c.id == repository_id)
            .values(
                description=data.description,
                about_text=data.about_text,
                usage_text=data.usage_text,
                architectures=None if data.architectures is None else list(data.architectures),
                operating_systems=None
                if data.operating_systems is None
                else list(data.operating_systems),
                logo_digest=data.logo_digest,
            )
        )

    async def add_logo(self, digest: str, content_type: str, data: bytes) -> None:
        await self._insert_ignore(
            t.logos, {"digest": digest, "content_type": content_type, "data": data}
        )

    async def get_logo(self, digest: str) -> tuple[str, bytes] | None:
        row = (
            await self.conn.execute(
                select(t.logos.c.content_type, t.logos.c.data).where(t.logos.c.digest == digest)
            )
        ).first()
        return None if row is None else (row.content_type, bytes(row.data))

    async def get_policy(self, repository_id: int) -> str | None:
        row = (
            await self.conn.execute(
                select(t.repositories.c.policy_text).where(t.repositories.c.id == repository_id)
            )
        ).first()
        return None if row is None else row.policy_text  # None also for a repository just deleted

    async def set_policy(self, repository_id: int, policy_text: str | None) -> None:
        await self.conn.execute(
            update(t.repositories)
            .where(t.repositories.c.id == repository_id)
            .values(policy_text=policy_text)
        )

    async def get_resource_tags(self, repository_id: int) -> list[tuple[str, str]]:
        rows = await self.conn.execute(
            select(t.resource_tags.c.key, t.resource_tags.c.value)
            .where(t.resource_tags.c.repository_id == repository_id)
            .order_by(t.resource_tags.c.position)
        )
        return [(r.key, r.value) for r in rows]

    async def set_resource_tags(self, repository_id: int, tags: list[tuple[str, str]]) -> None:
        """Replace the repository's tags with `tags`, in that order."""
        await self.conn.execute(
            delete(t.resource_tags).where(t.resource_tags.c.repository_id == repository_id)
        )
        if tags:
            await self.conn.execute(
                t.resource_tags.insert(),
                [
                    {"repository_id": repository_id, "key": k, "value": v, "position": i}
                    for i, (k, v) in enumerate(tags)
                ],
            )

    async def count_images(self, repository_id: int) -> int:
        result = await self.conn.execute(
            select(func.count())
            .select_from(t.manifests)
            .where(t.manifests.c.repository_id == repository_id)
        )
        return int(result.scalar_one())

    # blobs ---------------------------------------------------------------
    async def add_blob(self, digest: str, size: int, now: float) -> None:
        await self._insert_ignore(t.blobs, {"digest": digest, "size": size, "created_at": now})

    async def get_blob_size(self, digest: str) -> int | None:
        row = (
            await self.conn.execute(select(t.blobs.c.size).where(t.blobs.c.digest == digest))
        ).first()
        return None if row is None else int(row.size)

    async def link_blob(self, repository_id: int, digest: str, now: float) -> None:
        await self._insert_ignore(
            t.repository_blobs,
            {"repository_id": repository_id, "digest": digest, "created_at": now},
        )

    async def set_blob_media_types(self, repository_id: int, media_types: dict[str, str]) -> None:
        for digest, media_type in media_types.items():
            await self.conn.execute(
                update(t.repository_blobs)
                .where(
                    t.repository_blobs.c.repository_id == repository_id,
                    t.repository_blobs.c.digest == digest,
                )
                .values(media_type=media_type)
            )

    async def get_linked_blobs(
        self, repository_id: int, digests: Iterable[str], *, hold: bool = False
    ) -> dict[str, BlobLink]:
        """The blobs among `digests` linked into the repository. `hold` keeps the
        links from being collected until this transaction ends (FOR SHARE on
        PostgreSQL; SQLite's write lock already serialises)."""
        wanted = list(dict.fromkeys(digests))
        if not wanted:
            return {}
        query = (
            select(t.repository_blobs.c.digest, t.repository_blobs.c.media_type, t.blobs.c.size)
            .join(t.blobs, t.blobs.c.digest == t.repository_blobs.c.digest)
            .where(
                t.repository_blobs.c.repository_id == repository_id,
                t.repository_blobs.c.digest.in_(wanted),
            )
        )
        if hold:
            query = query.with_for_update(read=True)
        rows = await self.conn.execute(query)
        return {r.digest: BlobLink(r.digest, int(r.size), r.media_type) for r in rows}

    async def old_links(
        self, repository_id: int, digests: Iterable[str], before: float
    ) -> list[str]:
        """The digests among `digests` linked into the repository before `before`."""
        wanted = list(dict.fromkeys(digests))
        if not wanted:
            return []
        rb = t.repository_blobs
        rows = await self.conn.execute(
            select(rb.c.digest).where(
                rb.c.repository_id == repository_id,
                rb.c.digest.in_(wanted),
                rb.c.created_at < before,
            )
        )
        return [r.digest for r in rows]

    async def refresh_links(self, repository_id: int, digests: Iterable[str], now: float) -> None:
        """Restart the grace period of links (a push is about to reuse them)."""
        wanted = list(dict.fromkeys(digests))
        if wanted:
            rb = t.repository_blobs
            await self.conn.execute(
                update(rb)
                .where(rb.c.repository_id == repository_id, rb.c.digest.in_(wanted))
                .values(created_at=now)
            )

    # garbage collection ----------------------------------------------------
    # Candidates are found without locks; each is then locked and checked
    # again in a fresh statement before anything is deleted, so a push that
    # starts using a blob in between always wins.
    async def lock_blob(self, digest: str) -> float | None:
        """Lock a blob row for this transaction; its created_at, or None if absent."""
        row = (
            await self.conn.execute(
                select(t.blobs.c.created_at).where(t.blobs.c.digest == digest).with_for_update()
            )
        ).first()
        return None if row is None else float(row.created_at)

    async def touch_blob(self, digest: str, now: float) -> None:
        await self.conn.execute(
            update(t.blobs).where(t.blobs.c.digest == digest).values(created_at=now)
        )

    async def stale_links(self, cutoff: float, limit: int) -> list[tuple[int, str]]:
        """Links older than `cutoff` that no manifest of their repository references."""
        rb, mr, m = t.repository_blobs, t.manifest_references, t.manifests
        referenced = (
            select(mr.c.digest)
            .join(m, m.c.id == mr.c.manifest_id)
            .where(m.c.repository_id == rb.c.repository_id, mr.c.digest == rb.c.digest)
            .exists()
        )
        rows = await self.conn.execute(
            select(rb.c.repository_id, rb.c.digest)
            .where(rb.c.created_at < cutoff, ~referenced)
            .limit(limit)
        )
        return [(r.repository_id, r.digest) for r in rows]

    async def lock_link(self, repository_id: int, digest: str) -> float | None:
        rb = t.repository_blobs
        row = (
            await self.conn.execute(
                select(rb.c.created_at)
                .where(rb.c.repository_id == repository_id, rb.c.digest == digest)
                .with_for_update()
            )
        ).first()
        return None if row is None else float(row.created_at)

    async def link_referenced(self, repository_id: int, digest: str) -> bool:
        mr, m = t.manifest_references, t.manifests
        row = (
            await self.conn.execute(
                select(mr.c.digest)
                .join(m, m.c.id == mr.c.manifest_id)
                .where(m.c.repository_id == repository_id, mr.c.digest == digest)
                .limit(1)
            )
        ).first()
        return row is not None

    async def unlinked_blobs(self, cutoff: float, limit: int) -> list[tuple[str, int]]:
        """(digest, size) of blobs older than `cutoff` that no repository links."""
        linked = select(t.repository_blobs.c.digest).where(
            t.repository_blobs.c.digest == t.blobs.c.digest
        )
        rows = await self.conn.execute(
            select(t.blobs.c.digest, t.blobs.c.size)
            .where(t.blobs.c.created_at < cutoff, ~linked.exists())
            .limit(limit)
        )
        return [(r.digest, int(r.size)) for r in rows]

    async def blob_linked_anywhere(self, digest: str) -> bool:
        row = (
            await self.conn.execute(
                select(t.repository_blobs.c.digest)
                .where(t.repository_blobs.c.digest == digest)
                .limit(1)
            )
        ).first()
        return row is not None

    async def count_links(self, digest: str) -> int:
        result = await self.conn.execute(
            select(func.count())
            .select_from(t.repository_blobs)
            .where(t.repository_blobs.c.digest == digest)
        )
        return int(result.scalar_one())

    async def blob_created_at(self, digest: str) -> float | None:
        row = (
            await self.conn.execute(select(t.blobs.c.created_at).where(t.blobs.c.digest == digest))
        ).first()
        return None if row is None else float(row.created_at)

    async def delete_blob(self, digest: str) -> None:
        await self.conn.execute(delete(t.blobs).where(t.blobs.c.digest == digest))

    async def stale_uploads(self, cutoff: float, limit: int) -> list[str]:
        rows = await self.conn.execute(
            select(t.uploads.c.id).where(t.uploads.c.updated_at < cutoff).limit(limit)
        )
        return [r.id for r in rows]

    async def all_blobs(self, after: str | None, limit: int) -> list[tuple[str, int]]:
        query = select(t.blobs.c.digest, t.blobs.c.size).order_by(t.blobs.c.digest).limit(limit)
        if after is not None:
            query = query.where(t.blobs.c.digest > after)
        return [(r.digest, int(r.size)) for r in await self.conn.execute(query)]

    async def unlink_blob(self, repository_id: int, digest: str) -> bool:
        result = await self.conn.execute(
            delete(t.repository_blobs).where(
                t.repository_blobs.c.repository_id == repository_id,
                t.repository_blobs.c.digest == digest,
            )
        )
        return bool(result.rowcount)

    # images (manifests) and tags ------------------------------------------
    async def get_image(self, repository_id: int, digest: str) -> Image | None:
        row = (
            await self.conn.execute(
                select(*_IMAGE_COLUMNS).where(
                    t.manifests.c.repository_id == repository_id, t.manifests.c.digest == digest
                )
            )
        ).first()
        if row is None:
            return None
        return _image(row, (await self.tags_of([row.id])).get(row.id, ()))

    async def get_image_by_tag(self, repository_id: int, tag: str) -> Image | None:
        row = (
            await self.conn.execute(
                select(*_IMAGE_COLUMNS)
                .join(t.tags, t.tags.c.manifest_id == t.manifests.c.id)
                .where(t.tags.c.repository_id == repository_id, t.tags.c.name == tag)
            )
        ).first()
        if row is None:
            return None
        return _image(row, (await self.tags_of([row.id])).get(row.id, ()))

    async def get_manifest_body(
        self, repository_id: int, reference: str, by_tag: bool
    ) -> tuple[str, str, bytes] | None:
        """(digest, media type, bytes) of a manifest: the hot path of every pull."""
        columns = (t.manifests.c.digest, t.manifests.c.media_type, t.manifests.c.body)
        if by_tag:
            query = (
                select(*columns)
                .join(t.tags, t.tags.c.manifest_id == t.manifests.c.id)
                .where(t.tags.c.repository_id == repository_id, t.tags.c.name == reference)
            )
        else:
            query = select(*columns).where(
                t.manifests.c.repository_id == repository_id, t.manifests.c.digest == reference
            )
        row = (await self.conn.execute(query)).first()
        return None if row is None else (row.digest, row.media_type, bytes(row.body))

    async def tags_of(self, manifest_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        if not manifest_ids:
            return {}
        rows = await self.conn.execute(
            select(t.tags.c.manifest_id, t.tags.c.name)
            .where(t.tags.c.manifest_id.in_(list(manifest_ids)))
            .order_by(t.tags.c.name)
        )
        found: dict[int, list[str]] = {}
        for r in rows:
            found.setdefault(r.manifest_id, []).append(r.name)
        return {k: tuple(v) for k, v in found.items()}

    async def add_image(
        self,
        repository_id: int,
        *,
        digest: str,
        media_type: str,
        artifact_media_type: str | None,
        artifact_type: str | None,
        config_media_type: str | None,
        subject_digest: str | None,
        annotations: dict[str, str] | None,
        size: int,
        body: bytes,
        now: float,
        references: list[dict[str, Any]],
    ) -> int | None:
        """Insert a manifest and its references; None if that digest is already there."""
        inserted = await self._insert_ignore(
            t.manifests,
            {
                "repository_id": repository_id,
                "digest": digest,
                "media_type": media_type,
                "artifact_media_type": artifact_media_type,
                "artifact_type": artifact_type,
                "config_media_type": config_media_type,
                "subject_digest": subject_digest,
                "annotations": annotations,
                "image_size": size,
                "body": body,
                "pushed_at": now,
            },
        )
        if not inserted:
            return None
        row = (
            await self.conn.execute(
                select(t.manifests.c.id).where(
                    t.manifests.c.repository_id == repository_id, t.manifests.c.digest == digest
                )
            )
        ).one()
        if references:
            await self._insert_ignore(
                t.manifest_references, [dict(r, manifest_id=row.id) for r in references]
            )
        return int(row.id)

    async def touch_image(self, manifest_id: int, now: float) -> None:
        await self.conn.execute(
            update(t.manifests).where(t.manifests.c.id == manifest_id).values(pushed_at=now)
        )

    async def get_images(self, repository_id: int, digests: Iterable[str]) -> dict[str, Image]:
        wanted = list(dict.fromkeys(digests))
        if not wanted:
            return {}
        rows = list(
            await self.conn.execute(
                select(*_IMAGE_COLUMNS).where(
                    t.manifests.c.repository_id == repository_id, t.manifests.c.digest.in_(wanted)
                )
            )
        )
        tags = await self.tags_of([r.id for r in rows])
        return {r.digest: _image(r, tags.get(r.id, ())) for r in rows}

    async def set_tag(self, repository_id: int, tag: str, manifest_id: int, now: float) -> str:
        """Point a tag at a manifest; returns "created", "moved" or "unchanged"."""
        row = (
            await self.conn.execute(
                select(t.tags.c.manifest_id).where(
                    t.tags.c.repository_id == repository_id, t.tags.c.name == tag
                )
            )
        ).first()
        if row is None:
            inserted = await self._insert_ignore(
                t.tags,
                {
                    "repository_id": repository_id,
                    "name": tag,
                    "manifest_id": manifest_id,
                    "created_at": now,
                },
            )
            if inserted:
                return "created"
        elif row.manifest_id == manifest_id:
            return "unchanged"
        await self.conn.execute(
            update(t.tags)
            .where(t.tags.c.repository_id == repository_id, t.tags.c.name == tag)
            .values(manifest_id=manifest_id, created_at=now)
        )
        return "moved"

    async def delete_tag(self, repository_id: int, tag: str) -> bool:
        result = await self.conn.execute(
            delete(t.tags).where(t.tags.c.repository_id == repository_id, t.tags.c.name == tag)
        )
        return bool(result.rowcount)

    async def delete_image(self, manifest_id: int) -> None:
        await self.conn.execute(delete(t.tags).where(t.tags.c.manifest_id == manifest_id))
        await self.conn.execute(
            delete(t.manifest_references).where(t.manifest_references.c.manifest_id == manifest_id)
        )
        await self.conn.execute(delete(t.manifests).where(t.manifests.c.id == manifest_id))

    async def parents_of(self, repository_id: int, digest: str) -> list[str]:
        """Digests of the indexes in this repository that list `digest` as a child."""
        rows = await self.conn.execute(
            select(t.manifests.c.digest)
            .join(t.manifest_references, t.manifest_references.c.manifest_id == t.manifests.c.id)
            .where(
                t.manifests.c.repository_id == repository_id,
                t.manifest_references.c.kind == "manifest",
                t.manifest_references.c.digest == digest,
            )
        )
        return [r.digest for r in rows]

    async def list_images(
        self, repository_id: int, after: int | None, limit: int | None
    ) -> list[Image]:
        """Images in push order; `after` is the id of the last one seen."""
        query = (
            select(*_IMAGE_COLUMNS)
            .where(t.manifests.c.repository_id == repository_id)
            .order_by(t.manifests.c.id)
        )
        if after is not None:
            query = query.where(t.manifests.c.id > after)
        if limit is not None:
            query = query.limit(limit)
        rows = list(await self.conn.execute(query))
        tags = await self.tags_of([r.id for r in rows])
        return [_image(r, tags.get(r.id, ())) for r in rows]

    async def list_tags(
        self, repository_id: int, after: str | None, limit: int | None
    ) -> list[TagRecord]:
        query = (
            select(t.tags.c.name, t.tags.c.created_at, *_IMAGE_COLUMNS)
            .join(t.manifests, t.manifests.c.id == t.tags.c.manifest_id)
            .where(t.tags.c.repository_id == repository_id)
            .order_by(t.tags.c.name)
        )
        if after is not None:
            query = query.where(t.tags.c.name > after)
        if limit is not None:
            query = query.limit(limit)
        return [TagRecord(r.name, r.created_at, _image(r)) for r in await self.conn.execute(query)]

    async def list_tag_names(
        self, repository_id: int, after: str | None, limit: int | None
    ) -> list[str]:
        query = (
            select(t.tags.c.name)
            .where(t.tags.c.repository_id == repository_id)
            .order_by(t.tags.c.name)
        )
        if after is not None:
            query = query.where(t.tags.c.name > after)
        if limit is not None:
            query = query.limit(limit)
        return [r.name for r in await self.conn.execute(query)]

    async def referrers(self, repository_id: int, subject: str) -> list[Image]:
        rows = await self.conn.execute(
            select(*_IMAGE_COLUMNS)
            .where(
                t.manifests.c.repository_id == repository_id,
                t.manifests.c.subject_digest == subject,
            )
            .order_by(t.manifests.c.id)
        )
        return [_image(r) for r in rows]

    # the public gallery ------------------------------------------------------
    async def listings(
        self, *, account_id: str | None = None, name: str | None = None
    ) -> list[Listing]:
        """Repositories that hold at least one image (only those are public, as on
        ECR Public), with their primary alias and catalog data."""
        r, a, g = t.repositories, t.aliases, t.registries
        has_image = select(t.manifests.c.id).where(t.manifests.c.repository_id == r.c.id).exists()
        # Named columns only: a listing never carries the policy or other private data.
        # The about and usage texts (25,600 characters each at most) are read only
        # for one repository's own page, never for a list of thousands.
        fields = ["account_id", "name", "created_at", "pushed_at", "description"]
        fields += ["architectures", "operating_systems", "logo_digest"]
        if name is not None:
            fields += ["about_text", "usage_text"]
        query = (
            select(*(r.c[f] for f in fields), a.c.name.label("alias"), g.c.display_name)
            .join(a, (a.c.account_id == r.c.account_id) & a.c.is_primary)
            .join(g, g.c.account_id == r.c.account_id)
            .where(has_image)
        )
        if account_id is not None:
            query = query.where(r.c.account_id == account_id)
        if name is not None:
            query = query.where(r.c.name == name)
        rows = await self.conn.execute(query)
        return [
            Listing(
                account_id=row.account_id,
                alias=row.alias,
                name=row.name,
                created_at=row.created_at,
                pushed_at=row.pushed_at,
                catalog=CatalogData(
                    description=row.description,
                    about_text=row.about_text if name is not None else None,
                    usage_text=row.usage_text if name is not None else None,
                    architectures=None if row.architectures is None else tuple(row.architectures),
                    operating_systems=None
                    if row.operating_systems is None
                    else tuple(row.operating_systems),
                    logo_digest=row.logo_digest,
                ),
                display_name=row.display_name,
            )
            for row in rows
        ]

    async def tags_by_push(self, repository_id: int, offset: int, limit: int) -> list[TagRecord]:
        """A page of tags, most recently pushed first."""
        query = (
            select(t.tags.c.name, t.tags.c.created_at, *_IMAGE_COLUMNS)
            .join(t.manifests, t.manifests.c.id == t.tags.c.manifest_id)
            .where(t.tags.c.repository_id == repository_id)
            .order_by(t.tags.c.created_at.desc(), t.tags.c.name)
            .offset(offset)
            .limit(limit)
        )
        return [TagRecord(r.name, r.created_at, _image(r)) for r in await self.conn.execute(query)]

    async def count_tags(self, repository_id: int) -> int:
        result = await self.conn.execute(
            select(func.count()).select_from(t.tags).where(t.tags.c.repository_id == repository_id)
        )
        return int(result.scalar_one())

    async def child_platforms(self, manifest_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """The platforms an index lists for its children, by index id."""
        if not manifest_ids:
            return {}
        mr = t.manifest_references
        rows = await self.conn.execute(
            select(mr.c.manifest_id, mr.c.platform).where(
                mr.c.manifest_id.in_(list(manifest_ids)), mr.c.kind == "manifest"
            )
        )
        found: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            if isinstance(row.platform, dict):
                found.setdefault(row.manifest_id, []).append(row.platform)
        return found

    # uploads -------------------------------------------------------------
    async def add_upload(
        self, upload: Upload, writer: str | None = None, writer_until: float | None = None
    ) -> None:
        await self.conn.execute(
            t.uploads.insert().values(
                id=upload.id,
                repository_id=upload.repository_id,
                algorithm=upload.algorithm,
                size=upload.size,
                parts=upload.parts,
                last_part_size=upload.last_part_size,
                smallest_inner_part=upload.smallest_inner_part,
                created_at=upload.created_at,
                updated_at=upload.updated_at,
                writer=writer,
                writer_until=writer_until,
            )
        )

    async def claim_upload(
        self, upload_id: str, size: int, writer: str, now: float, until: float
    ) -> bool:
        """Make `writer` the upload's one writer if it stands at `size` and nobody
        else holds it (or their claim ran out); False otherwise."""
        u = t.uploads.c
        result = await self.conn.execute(
            update(t.uploads)
            .where(
                u.id == upload_id,
                u.size == size,
                or_(u.writer.is_(None), u.writer_until < now),
            )
            .values(writer=writer, writer_until=until)
        )
        return bool(result.rowcount)

    async def renew_upload(self, upload_id: str, writer: str, until: float) -> None:
        u = t.uploads.c
        await self.conn.execute(
            update(t.uploads)
            .where(u.id == upload_id, u.writer == writer)
            .values(writer_until=until)
        )

    async def release_upload(self, upload_id: str, writer: str) -> None:
        u = t.uploads.c
        await self.conn.execute(
            update(t.uploads)
            .where(u.id == upload_id, u.writer == writer)
            .values(writer=None, writer_until=None)
        )

    async def save_upload(
        self, upload: Upload, expected_size: int, writer: str, keep: bool = False
    ) -> bool:
        """Record progress, releasing the claim unless `keep`; False if `writer` no
        longer holds the upload or it moved."""
        u = t.uploads.c
        claim = {} if keep else {"writer": None, "writer_until": None}
        result = await self.conn.execute(
            update(t.uploads)
            .where(and_(u.id == upload.id, u.size == expected_size, u.writer == writer))
            .values(
                size=upload.size,
                parts=upload.parts,
                last_part_size=upload.last_part_size,
                smallest_inner_part=upload.smallest_inner_part,
                updated_at=upload.updated_at,
                **claim,
            )
        )
        return bool(result.rowcount)

    async def upload_ids(self, repository_id: int) -> list[str]:
        rows = await self.conn.execute(
            select(t.uploads.c.id).where(t.uploads.c.repository_id == repository_id)
        )
        return [r.id for r in rows]

    async def delete_upload(self, upload_id: str) -> bool:
        result = await self.conn.execute(delete(t.uploads).where(t.uploads.c.id == upload_id))
        return bool(result.rowcount)


def _pull_manifest_query(by_tag: bool) -> Any:
    r, m, tg = t.repositories, t.manifests, t.tags
    query = select(m.c.digest, m.c.media_type, m.c.body).join(r, r.c.id == m.c.repository_id)
    if by_tag:
        query = query.join(tg, tg.c.manifest_id == m.c.id).where(tg.c.name == bindparam("ref"))
    else:
        query = query.where(m.c.digest == bindparam("ref"))
    return query.where(r.c.account_id == bindparam("account"), r.c.name == bindparam("name"))


# The pull path in one statement each: repository, link and content together.
_PULL_BY_TAG = _pull_manifest_query(by_tag=True)
_PULL_BY_DIGEST = _pull_manifest_query(by_tag=False)
_PULL_BLOB = (
    select(t.blobs.c.size, t.repository_blobs.c.repository_id, t.repository_blobs.c.created_at)
    .join(t.repository_blobs, t.repository_blobs.c.digest == t.blobs.c.digest)
    .join(t.repositories, t.repositories.c.id == t.repository_blobs.c.repository_id)
    .where(
        t.repositories.c.account_id == bindparam("account"),
        t.repositories.c.name == bindparam("name"),
        t.blobs.c.digest == bindparam("ref"),
    )
)


_FIND_REPOSITORY = select(t.repositories).where(
    t.repositories.c.account_id == bindparam("account"),
    t.repositories.c.name == bindparam("name"),
)
_FIND_UPLOAD = select(t.uploads).where(t.uploads.c.id == bindparam("id"))


class _InLoop:
    """What Tx needs of an AsyncConnection, over a synchronous SQLite connection
    used in the event loop itself: a statement there costs microseconds, less than
    aiosqlite's hop to its thread and back (two context switches and a wake-up)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._conn.execute(statement, parameters)


class MetadataStore:
    def __init__(
        self,
        engine: AsyncEngine,
        hot_engine: Engine | None = None,
        write_engine: Engine | None = None,
    ) -> None:
        self.engine = engine
        # SQLite only: a synchronous connection for the pull path. A WAL-mode
        # read never waits for a writer and costs less than aiosqlite's hop
        # to its thread and back, so it runs in the event loop itself.
        self.hot_engine = hot_engine
        # SQLite only: write transactions run in the event loop too, one at a time
        # per process (the queue); only BEGIN IMMEDIATE can wait, for another
        # process, and it waits by sleeping in the loop, never blocking it.
        self.write_engine = write_engine
        self._write_queue: asyncio.Lock | None = None

    async def _hot(self, statement: Any, params: dict[str, str]) -> Any:
        if self.hot_engine is not None:
            with self.hot_engine.connect() as conn:
                return conn.execute(statement, params).first()
        async with self.engine.connect() as conn:
            return (await conn.execute(statement, params)).first()

    async def find_repository(self, account_id: str, name: str) -> Repository | None:
        """One repository by name: every /v2 request's first lookup."""
        row = await self._hot(_FIND_REPOSITORY, {"account": account_id, "name": name})
        return None if row is None else _repository(row)

    async def find_upload(self, upload_id: str) -> Upload | None:
        row = await self._hot(_FIND_UPLOAD, {"id": upload_id})
        return None if row is None else _upload(row)

    async def pull_manifest(
        self, account_id: str, name: str, reference: str, by_tag: bool
    ) -> tuple[str, str, bytes] | None:
        """(digest, media type, bytes) of a manifest, by tag or digest."""
        row = await self._hot(
            _PULL_BY_TAG if by_tag else _PULL_BY_DIGEST,
            {"account": account_id, "name": name, "ref": reference},
        )
        return None if row is None else (row.digest, row.media_type, bytes(row.body))

    async def pull_blob(self, account_id: str, name: str, digest: str) -> int | None:
        """The size of a blob linked into the repository, or None."""
        found = await self.pull_link(account_id, name, digest)
        return None if found is None else found[0]

    async def pull_link(
        self, account_id: str, name: str, digest: str
    ) -> tuple[int, int, float] | None:
        """(size, repository id, linked at) of a blob linked into the repository."""
        row = await self._hot(_PULL_BLOB, {"account": account_id, "name": name, "ref": digest})
        return (
            None if row is None else (int(row.size), int(row.repository_id), float(row.created_at))
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        if self.hot_engine is None:
            async with self.engine.connect() as conn:
                yield Tx(conn)
            return
        with self.hot_engine.connect() as sync_conn:
            # One snapshot for the transaction's statements; closing rolls it back.
            sync_conn.exec_driver_sql("BEGIN")
            yield Tx(_InLoop(sync_conn))  # type: ignore[arg-type]

    @asynccontextmanager
    async def write(
        self, repository: Repository | None = None, durable: bool = True
    ) -> AsyncIterator[Tx]:
        """A write transaction; on SQLite it takes the write lock up front
        (BEGIN IMMEDIATE) so two writers never deadlock upgrading a read lock.
        With `repository`, it holds that repository first (Tx.hold_repository).
        `durable=False` is for state a crash voids anyway (an upload's writer claim):
        its commit does not wait for the disk, and the database stays consistent."""
        if self.write_engine is None:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(berth_write=True)
                async with conn.begin():
                    if not durable:
                        await conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    tx = Tx(conn)
                    if repository is not None:
                        await tx.hold_repository(repository)
                    yield tx
            return
        if self._write_queue is None:
            self._write_queue = asyncio.Lock()
        async with self._write_queue:
            with self.write_engine.connect() as sync_conn:
                # On the driver's connection: a statement through SQLAlchemy would begin
                # its transaction. WAL with NORMAL: no fsync at commit, never corrupt.
                driver = sync_conn.connection.driver_connection
                assert driver is not None
                if not durable:
                    driver.execute("PRAGMA synchronous=NORMAL")
                try:
                    with sync_conn.begin():
                        await _begin_immediate(sync_conn)
                        tx = Tx(_InLoop(sync_conn))  # type: ignore[arg-type]
                        if repository is not None:
                            await tx.hold_repository(repository)
                        yield tx
                finally:
                    if not durable:
                        driver.execute("PRAGMA synchronous=FULL")

    async def ensure_schema(self) -> None:
        """Create the schema in an empty database; refuse an out-of-date one."""
        async with self.engine.begin() as conn:
            await conn.run_sync(schema.ensure_current)

    async def upgrade_schema(self) -> tuple[str | None, str]:
        """Apply every pending migration; returns (revision before, revision now)."""
        async with self.engine.begin() as conn:
            before = await conn.run_sync(schema.current_revision)
            await conn.run_sync(schema.upgrade)
        return before, schema.head_revision()

    async def close(self) -> None:
        for sync_engine in (self.hot_engine, self.write_engine):
            if sync_engine is not None:
                sync_engine.dispose()
        await self.engine.dispose()


def open_metadata(url: str) -> MetadataStore:
    """Open the store named by a URL: sqlite:///path or postgresql://…"""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+aiosqlite"):
        engine = create_async_engine(
            parsed.set(drivername="sqlite+aiosqlite"), connect_args={"timeout": 60}
        )
        _sqlite_setup(engine)
        hot = create_engine(parsed.set(drivername="sqlite"), connect_args={"timeout": 5})
        event.listen(hot, "connect", _hot_connect)
        writer = create_engine(parsed.set(drivername="sqlite"), connect_args={"timeout": 0})
        event.listen(writer, "connect", _sqlite_connect(0))
        return MetadataStore(engine, hot, writer)
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        engine = create_async_engine(parsed.set(drivername="postgresql+asyncpg"), pool_size=10)
    else:
        raise ValueError(f"unsupported metadata URL {url!r}: use sqlite:/// or postgresql://")
    return MetadataStore(engine)


async def _begin_immediate(conn: Connection, patience: float = 60.0) -> None:
    """Take SQLite's write lock; while another process holds it, sleep and retry
    (with busy_timeout 0 SQLite answers at once instead of blocking the loop)."""
    delay = 0.0005
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            locked = "locked" in str(exc) or "busy" in str(exc)
            if not locked or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.02)


def _sqlite_connect(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    """Set-up of a connection berth writes with: WAL, fsync at commit, and the
    driver's own transaction handling off (BEGIN IMMEDIATE is berth's to send)."""

    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    return connect


def _hot_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # read() sends its own BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_setup(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine
    # Schema creation and migrations only, off the event loop: they may wait.
    event.listen(sync_engine, "connect", _sqlite_connect(60_000))

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("berth_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
