"""Connections to PostgreSQL: engines, one-line errors, and creating or dropping databases."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from fraud.masking import mask_passwords, mask_url

# The one place identifiers are formatted into SQL: names quoted by the dialect's preparer.
_CREATE_DATABASE_SQL = "create database {name}"
_DROP_DATABASE_SQL = "drop database if exists {name} with (force)"

# The database every PostgreSQL server has, where databases are created and dropped from.
MAINTENANCE_DATABASE = "postgres"
# PostgreSQL silently cuts identifiers longer than this many bytes.
LONGEST_NAME = 63

_CAN_CREATE_SQL = """
select rolname, rolcreatedb or rolsuper from pg_roles where rolname = current_user
"""
_DATABASE_EXISTS_SQL = "select 1 from pg_database where datname = :name"
# Where libpq looks for the CA when a URL names none (``sslrootcert``).
_DEFAULT_CA = "the default CA file (PGSSLROOTCERT, else ~/.postgresql/root.crt)"


class DatabaseError(RuntimeError):
    """A database operation failed; the message is one line and names the server."""


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


def database_name(url: str) -> str:
    """The database a URL names."""
    return str(make_url(sqlalchemy_url(url)).database or "")


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database, scheme and query string kept."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def login_url(url: str, user: str, password: str) -> str:
    """The same URL (scheme, server, database, query) logged in as another role."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def create_warehouse_engine(url: str, *, pool_size: int = 2) -> Engine:
    """Create an engine for the warehouse; connections are checked before use."""
    return sa.create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=2,
        connect_args={"application_name": "fraud"},
    )


@lru_cache(maxsize=4)
def warehouse_engine(url: str) -> Engine:
    """The warehouse engine of one URL, one pool per process: every task and command shares it."""
    return create_warehouse_engine(url)


def describe_error(error: BaseException, url: str) -> str:
    """Turn a driver exception into one line naming the masked server."""
    message = str(getattr(error, "orig", None) or error).strip().splitlines()
    first = message[0] if message else type(error).__name__
    hint = _certificate_hint(first, url)
    return f"database error on {mask_url(sqlalchemy_url(url))}: {hint}{mask_passwords(first)}"


def _certificate_hint(message: str, url: str) -> str:
    """Say in plain words why libpq refused the server's certificate, if that is what failed."""
    if "certificate verify failed" in message:
        authority = parse_qs(urlsplit(url).query).get("sslrootcert")
        against = f"the CA in {authority[-1]}" if authority else _DEFAULT_CA
        return f"the server's certificate could not be verified against {against}: "
    if "does not match host name" in message:
        return "the server's certificate does not name the host of the URL: "
    return ""


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


# --- databases on a server --------------------------------------------------------------------


def server_engine(url: str) -> Engine:
    """An autocommit engine on the server's maintenance database, to create and drop databases."""
    return sa.create_engine(
        sqlalchemy_url(with_database(url, MAINTENANCE_DATABASE)),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )


def database_exists(url: str) -> bool:
    """Whether the server holds the database the URL names."""
    engine = server_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(sa.text(_DATABASE_EXISTS_SQL), {"name": database_name(url)})
            return found.first() is not None
    finally:
        engine.dispose()


def create_database(url: str, *, exist_ok: bool = False) -> None:
    """Create the database a URL names; one line when the role may not or it exists already."""
    name = database_name(url)
    if len(name.encode()) > LONGEST_NAME:
        raise DatabaseError(f"database name {name!r} is longer than {LONGEST_NAME} bytes")
    engine = server_engine(url)
    try:
        with engine.connect() as connection:
            if connection.execute(sa.text(_DATABASE_EXISTS_SQL), {"name": name}).first():
                if exist_ok:
                    return
                raise DatabaseError(f"database {name!r} already exists on {server_name(url)}")
            role, allowed = connection.execute(sa.text(_CAN_CREATE_SQL)).one()
            if not allowed:
                raise DatabaseError(f"role {role!r} cannot create databases on {server_name(url)}")
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.exec_driver_sql(_CREATE_DATABASE_SQL.format(name=quoted))
    except sa.exc.SQLAlchemyError as error:
        raise DatabaseError(describe_error(error, url)) from error
    finally:
        engine.dispose()


def drop_database(url: str) -> None:
    """Drop the database a URL names, if it exists, ending every session still on it."""
    engine = server_engine(url)
    try:
        with engine.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(database_name(url))
            connection.exec_driver_sql(_DROP_DATABASE_SQL.format(name=quoted))
    finally:
        engine.dispose()
