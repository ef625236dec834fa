"""Metadata backends: SQLite and PostgreSQL behind one query layer."""

from .sql import MetadataStore, Tx, open_metadata

__all__ = ["MetadataStore", "Tx", "open_metadata"]
