"""Records the service layer works with; the metadata store returns these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Alias:
    name: str
    account_id: str
    status: str  # ACTIVE | PENDING | REJECTED
    is_primary: bool
    is_default: bool


@dataclass(frozen=True)
class Registry:
    account_id: str
    created_at: float
    display_name: str | None
    aliases: tuple[Alias, ...]

    @property
    def primary_alias(self) -> str:
        for alias in self.aliases:
            if alias.is_primary and alias.status == "ACTIVE":
                return alias.name
        return self.aliases[0].name


@dataclass(frozen=True)
class Repository:
    id: int
    account_id: str
    name: str
    created_at: float


@dataclass(frozen=True)
class Image:
    """A manifest stored in a repository, with the tags that point at it."""

    id: int
    repository_id: int
    digest: str
    media_type: str
    artifact_media_type: str | None
    artifact_type: str | None
    config_media_type: str | None
    subject_digest: str | None
    annotations: dict[str, Any] | None
    size: int  # ECR's imageSizeInBytes
    pushed_at: float
    body_size: int
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagRecord:
    name: str
    created_at: float
    image: Image


@dataclass(frozen=True)
class BlobLink:
    digest: str
    size: int
    media_type: str | None


@dataclass
class Upload:
    id: str
    repository_id: int
    algorithm: str
    size: int
    parts: int
    last_part_size: int
    smallest_inner_part: int | None
    created_at: float
    updated_at: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogData:
    """A repository's catalog data: what the gallery shows."""

    description: str | None = None
    about_text: str | None = None
    usage_text: str | None = None
    architectures: tuple[str, ...] | None = None
    operating_systems: tuple[str, ...] | None = None
    logo_digest: str | None = None


@dataclass(frozen=True)
class Listing:
    """A repository as the public gallery lists it."""

    account_id: str
    alias: str
    name: str
    created_at: float
    pushed_at: float | None
    catalog: CatalogData
    display_name: str | None
