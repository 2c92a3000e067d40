"""The warehouse's schema as ordered SQL files in ``sql/``, applied once each under a lock."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import dbapi
from fraud.config import REPOSITORY_ROOT
from fraud.db import DatabaseError
from fraud.locks import advisory_lock
from fraud.privileges import apply_privileges

SQL_DIR = REPOSITORY_ROOT / "sql"
_MIGRATION_LOCK_KEY = "fraud.migrations"
_VERSIONED = re.compile(r"^V(\d{3})__([a-z0-9_]+)\.sql$")
_REPEATABLE = re.compile(r"^R__([a-z0-9_]+)\.sql$")

_LEDGER_SQL = """
create table if not exists public.schema_migrations (
    version text primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
)
"""
_APPLIED_SQL = "select version, checksum from public.schema_migrations"
_RECORD_SQL = """
insert into public.schema_migrations (version, name, checksum)
values (:version, :name, :checksum)
on conflict (version) do update set checksum = excluded.checksum, applied_at = now()
"""


@dataclass(frozen=True)
class Migration:
    """One SQL file of ``sql/``: versioned ones run once, repeatable ones whenever they change."""

    version: str
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        """SHA-256 of the file, so an edited migration is noticed."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def repeatable(self) -> bool:
        """Repeatable files (views) run again whenever their checksum changes."""
        return self.version.startswith("R")


def discover_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """List the migrations in order: versioned by number, then repeatable by name."""
    versioned: list[Migration] = []
    repeatable: list[Migration] = []
    for path in sorted(sql_dir.glob("*.sql")):
        if match := _VERSIONED.match(path.name):
            versioned.append(Migration(f"V{match.group(1)}", match.group(2), path))
        elif match := _REPEATABLE.match(path.name):
            repeatable.append(Migration(f"R:{match.group(1)}", match.group(1), path))
        else:
            raise DatabaseError(
                f"{path.name}: not a migration name (V001__name.sql or R__name.sql)"
            )
    return versioned + repeatable


def migrate(engine: Engine, sql_dir: Path = SQL_DIR, *, until: str | None = None) -> list[str]:
    """Apply pending migrations in one transaction under an advisory lock; return what ran.

    A versioned migration may replace a table that views depend on, so once one has run every
    repeatable migration (the analytics views) runs again. ``until`` (``"V022"``, say) applies
    the versions up to that one only and no repeatable one, since the views follow the newest
    schema: a warehouse as it stood then, without its views, for tests of the migrations that
    follow. A full run ends by making every privilege equal the
    declared table (:mod:`fraud.privileges`), in the same transaction.
    """
    applied_now: list[str] = []
    versioned_ran = False
    with engine.begin() as connection:
        advisory_lock(connection, _MIGRATION_LOCK_KEY)
        connection.execute(sa.text(_LEDGER_SQL))
        done = {
            str(version): str(checksum)
            for version, checksum in connection.execute(sa.text(_APPLIED_SQL))
        }
        for migration in discover_migrations(sql_dir):
            if until is not None and (migration.repeatable or migration.version > until):
                continue
            checksum = migration.checksum
            if migration.version in done:
                if done[migration.version] == checksum and not (
                    migration.repeatable and versioned_ran
                ):
                    continue
                if not migration.repeatable:
                    raise DatabaseError(
                        f"{migration.path.name} changed after it was applied; add a new migration instead"
                    )
            # Through the driver without parameters: a migration's own % (in format()) stays.
            with dbapi(connection).cursor() as cursor:
                cursor.execute(migration.path.read_text())
            connection.execute(
                sa.text(_RECORD_SQL),
                {"version": migration.version, "name": migration.name, "checksum": checksum},
            )
            applied_now.append(migration.path.name)
            versioned_ran = versioned_ran or not migration.repeatable
        if until is None and sql_dir == SQL_DIR:
            apply_privileges(connection)
    return applied_now
