"""The service layer's handle: the stores and the settings core runs with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..store.blobs import BlobStore
from ..store.metadata import MetadataStore


@dataclass(frozen=True)
class Limits:
    """ECR Public's quotas, enforced by default (reference §5)."""

    repositories_per_registry: int = 10_000
    images_per_repository: int = 100_000
    tags_per_image: int = 1_000
    resource_tags_per_repository: int = 50
    parts_per_upload: int = 1_000


@dataclass(frozen=True)
class CoreSettings:
    account_id: str = "123456789012"
    alias: str = "berth"
    # Where clients reach berth; repository URIs are its host + /<alias>/<name>.
    public_url: str = "http://127.0.0.1:5000"
    login_ttl: float = 12 * 3600  # GetAuthorizationToken passwords, as AWS
    token_ttl: float = 3600  # /token bearer tokens
    part_size: int = 10 * 1024 * 1024  # InitiateLayerUpload's advertised partSize
    redirect_blobs: bool = False  # answer blob GETs with a 307 to the store's own URL
    redirect_ttl: int = 600
    gc_grace: float = 3600.0  # nothing younger than this is ever collected
    limits: Limits = field(default_factory=lambda: Limits())

    @property
    def public_host(self) -> str:
        return self.public_url.split("://", 1)[-1].rstrip("/")


@dataclass
class Core:
    meta: MetadataStore
    blobs: BlobStore
    settings: CoreSettings
    signing_key: bytes = b""
    # Upload id -> (bytes hashed, hash object). Only a cache: a process that
    # misses an entry re-hashes the stored bytes once (see uploads.py).
    hashers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    # Alias -> account. An alias, once given, never moves to another account.
    aliases: dict[str, str] = field(default_factory=dict)
    # Bearer token -> its verified grant, so the pull path checks a signature once.
    grants: dict[str, Any] = field(default_factory=dict)


def now() -> float:
    """Epoch seconds at millisecond precision, as AWS timestamps carry."""
    return round(time.time(), 3)
