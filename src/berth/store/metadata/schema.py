"""Schema versions: Alembic migrations, run by `berth db upgrade`.

An empty database is brought to the current schema on start-up, so the
embedded default needs no extra step; a database at an older revision is
refused until someone runs the upgrade on purpose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutOfDate(Exception):
    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"the metadata database is at schema revision {current or 'none'}, "
            f"berth needs {head}: run `berth db upgrade` (with the same --data or --metadata)"
        )


def _config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config(None)).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def is_empty(connection: Any) -> bool:
    return not inspect(connection).get_table_names()


# Any fixed number: every berth process agrees on it.
_SCHEMA_LOCK = 0x62657274  # "bert"


def _serialize(connection: Any) -> None:
    """On PostgreSQL, one process at a time creates or migrates the schema: replicas
    started together on an empty database would otherwise race to create the same
    tables. Held until the transaction ends. SQLite's writers take turns anyway."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})


def upgrade(connection: Any) -> None:
    _serialize(connection)
    command.upgrade(_config(connection), "head")


def ensure_current(connection: Any) -> None:
    """Create the schema in an empty database; refuse an outdated one."""
    _serialize(connection)
    if is_empty(connection):
        upgrade(connection)
        return
    current, head = current_revision(connection), head_revision()
    if current != head:
        raise SchemaOutOfDate(current, head)
