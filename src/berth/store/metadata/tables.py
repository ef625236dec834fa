"""The metadata schema, one for SQLite and PostgreSQL (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# Key/value facts of the installation itself, such as the token signing key.
settings = Table(
    "settings",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

registries = Table(
    "registries",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("display_name", String(100)),
)

aliases = Table(
    "aliases",
    metadata,
    Column("name", String(50), primary_key=True),
    Column(
        "account_id",
        String(12),
        ForeignKey("registries.account_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("status", String(10), nullable=False),
    Column("is_primary", Boolean, nullable=False),
    Column("is_default", Boolean, nullable=False),
)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("name", String(205), nullable=False),
    Column("created_at", Float, nullable=False),
    # Catalog data, as PutRepositoryCatalogData last set it.
    Column("description", Text),
    Column("about_text", Text),
    Column("usage_text", Text),
    Column("architectures", JSON),
    Column("operating_systems", JSON),
    Column("logo_digest", String(200), ForeignKey("logos.digest")),
    Column("policy_text", Text),  # the repository policy, verbatim
    Column("pushed_at", Float),  # when an image was last pushed (the gallery sorts by it)
    UniqueConstraint("account_id", "name", name="uq_repositories_account_name"),
)

# Repository logos, content-addressed; small (512,000 bytes at most) and served by berth.
logos = Table(
    "logos",
    metadata,
    Column("digest", String(200), primary_key=True),
    Column("content_type", String(100), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# Resource tags (TagResource) on repositories, in the order they were first set.
resource_tags = Table(
    "resource_tags",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("repository_id", "key"),
)

# Content-addressed blobs; one row per digest whatever repositories use it.
blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(200), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

# A repository may only serve a blob pushed or mounted into it.
repository_blobs = Table(
    "repository_blobs",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE")),
    Column("digest", String(200), ForeignKey("blobs.digest"), nullable=False),
    Column("media_type", String(255)),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("repository_id", "digest"),
    Index("ix_repository_blobs_digest", "digest"),
)


# An image: manifest bytes kept exactly, in the same transaction as its tags.
manifests = Table(
    "manifests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("digest", String(200), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("artifact_media_type", String(255)),
    Column("artifact_type", String(255)),
    Column("config_media_type", String(255)),
    Column("subject_digest", String(200)),
    Column("annotations", JSON),
    Column("image_size", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("pushed_at", Float, nullable=False),
    UniqueConstraint("repository_id", "digest", name="uq_manifests_repository_digest"),
    Index("ix_manifests_subject", "repository_id", "subject_digest"),
)

# What a manifest points at: blobs (config, layers) and child manifests.
manifest_references = Table(
    "manifest_references",
    metadata,
    Column(
        "manifest_id",
        Integer,
        ForeignKey("manifests.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(10), nullable=False),  # "blob" | "manifest"
    Column("digest", String(200), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("platform", JSON),
    PrimaryKeyConstraint("manifest_id", "kind", "digest"),
    Index("ix_manifest_references_digest", "digest"),
)

tags = Table(
    "tags",
    metadata,
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(300), nullable=False),
    Column(
        "manifest_id",
        Integer,
        ForeignKey("manifests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("repository_id", "name"),
    Index("ix_tags_repository_created", "repository_id", "created_at"),  # the gallery's order
)

# Upload sessions live here, not in process memory, so any worker continues them.
uploads = Table(
    "uploads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "repository_id",
        Integer,
        ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("algorithm", String(20), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("parts", Integer, nullable=False),
    Column("last_part_size", BigInteger, nullable=False),
    Column("smallest_inner_part", BigInteger),  # smallest part that is not the last
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The request writing its bytes now, and until when unless it renews: two
    # processes never write one upload at once (the loser's bytes could land last).
    Column("writer", String(36)),
    Column("writer_until", Float),
)
