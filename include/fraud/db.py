"""Connections to the warehouse, the migration runner, bulk COPY helpers and error messages."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from fraud.config import REPOSITORY_ROOT

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SQL_DIR = REPOSITORY_ROOT / "sql"
_MIGRATION_LOCK_KEY = 7_305_190_411
_VERSIONED = re.compile(r"^V(\d{3})__([a-z0-9_]+)\.sql$")
_REPEATABLE = re.compile(r"^R__([a-z0-9_]+)\.sql$")


class DatabaseError(RuntimeError):
    """A database operation failed; the message is one line and names the server."""


def mask_url(url: str) -> str:
    """Return the URL with its password replaced by ``***``, safe for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is masked by pattern instead
        return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def mask_passwords(text: str) -> str:
    """Replace the password of every URL inside a text, such as a driver's error message."""
    return re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s/@]+@", r"\1***@", text)


def sqlalchemy_url(url: str) -> str:
    """Normalise ``postgres://`` and ``postgresql://`` URLs to the psycopg2 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def server_name(url: str) -> str:
    """Describe the server of a URL in a few words, without credentials."""
    parsed = make_url(sqlalchemy_url(url))
    host = parsed.host or parsed.query.get("host") or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{host}{port}/{parsed.database or ''}"


def create_warehouse_engine(url: str, *, pool_size: int = 2) -> Engine:
    """Create an engine for the warehouse; connections are checked before use."""
    return sa.create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=2,
        connect_args={"application_name": "fraud"},
    )


def describe_error(error: BaseException, url: str) -> str:
    """Turn a driver exception into one line naming the masked server."""
    message = str(getattr(error, "orig", None) or error).strip().splitlines()
    first = message[0] if message else type(error).__name__
    return f"database error on {mask_url(sqlalchemy_url(url))}: {mask_passwords(first)}"


@contextmanager
def one_line_errors(url: str) -> Generator[None, None, None]:
    """Re-raise SQLAlchemy and driver errors as a one-line ``DatabaseError`` naming the server.

    Bulk COPY goes through the driver directly, so its errors (a server restarting under a
    running task, say) are psycopg2's multi-line ones unless they are turned into this.
    """
    import psycopg2

    database_errors = (sa.exc.SQLAlchemyError, psycopg2.Error)
    try:
        yield
    except database_errors as error:
        first = error
        # A rollback on a dead connection fails too ("connection already closed"); name the
        # failure that came first.
        while isinstance(first.__context__, database_errors):
            first = first.__context__
        raise DatabaseError(describe_error(first, url)) from error


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


def migrate(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations in one transaction under an advisory lock; return what ran."""
    applied_now: list[str] = []
    with engine.begin() as connection:
        connection.execute(
            sa.text("select pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
        )
        connection.execute(
            sa.text(
                "create table if not exists public.schema_migrations ("
                " version text primary key, name text not null, checksum text not null,"
                " applied_at timestamptz not null default now())"
            )
        )
        done = dict(
            connection.execute(
                sa.text("select version, checksum from public.schema_migrations")
            ).all()
        )
        for migration in discover_migrations(sql_dir):
            checksum = migration.checksum
            if migration.version in done:
                if done[migration.version] == checksum:
                    continue
                if not migration.repeatable:
                    raise DatabaseError(
                        f"{migration.path.name} changed after it was applied; add a new migration instead"
                    )
            connection.exec_driver_sql(migration.path.read_text())
            connection.execute(
                sa.text(
                    "insert into public.schema_migrations (version, name, checksum)"
                    " values (:version, :name, :checksum)"
                    " on conflict (version) do update set checksum = excluded.checksum,"
                    " applied_at = now()"
                ),
                {"version": migration.version, "name": migration.name, "checksum": checksum},
            )
            applied_now.append(migration.path.name)
    return applied_now


def copy_frame(connection: Connection, frame: pd.DataFrame, table: str) -> int:
    """Bulk-load a frame into ``table`` with COPY inside the caller's transaction."""
    if frame.empty:
        return 0
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    buffer.seek(0)
    columns = ", ".join(f'"{column}"' for column in frame.columns)
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.copy_expert(
            f"copy {table} ({columns}) from stdin with (format csv, null '\\N')", buffer
        )
    return len(frame)


def copy_arrow(connection: Connection, table: pa.Table, target: str) -> int:
    """Bulk-load an Arrow table into ``target`` with COPY inside the caller's transaction.

    Arrow's CSV writer is an order of magnitude faster than pandas' ``to_csv``; it quotes every
    string and leaves nulls unquoted and empty, which is how PostgreSQL's CSV tells them apart.
    Floats are written in their shortest exact form, so they load back bit for bit.
    """
    import pyarrow.csv as pa_csv

    if table.num_rows == 0:
        return 0
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    buffer.seek(0)
    columns = ", ".join(f'"{column}"' for column in table.column_names)
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.copy_expert(f"copy {target} ({columns}) from stdin with (format csv)", buffer)
    return table.num_rows


def read_frame(connection: Connection, query: str, params: dict[str, object]) -> pd.DataFrame:
    """Run a query and return its rows as a frame."""
    import pandas as pd

    result = connection.execute(sa.text(query), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
