"""URL handling and migration discovery, without a server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa

from fraud.db import DatabaseError, describe_error, one_line_errors, server_name, sqlalchemy_url
from fraud.masking import mask_url
from fraud.migrations import discover_migrations


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://user:s3cret@db:5432/fraud", "postgresql://user:***@db:5432/fraud"),
        ("postgresql://user@db/fraud", "postgresql://user@db/fraud"),
    ],
)
def test_mask_url_hides_password(url: str, expected: str) -> None:
    assert mask_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://h/db", "postgresql+psycopg2://h/db"),
        ("postgresql://h/db", "postgresql+psycopg2://h/db"),
        ("postgresql+psycopg2://h/db", "postgresql+psycopg2://h/db"),
    ],
)
def test_sqlalchemy_url_uses_psycopg2(url: str, expected: str) -> None:
    assert sqlalchemy_url(url) == expected


def test_server_name_has_no_credentials() -> None:
    assert server_name("postgresql://u:pw@db.example:6543/fraud") == "db.example:6543/fraud"


def test_repository_migrations_are_ordered_and_unique() -> None:
    migrations = discover_migrations()
    versioned = [migration.version for migration in migrations if not migration.repeatable]
    assert versioned == sorted(versioned)
    assert len(set(versioned)) == len(versioned)
    assert versioned[0] == "V001"


def test_bad_migration_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "V1_raw.sql").write_text("select 1;")
    with pytest.raises(DatabaseError, match="V1_raw.sql: not a migration name"):
        discover_migrations(tmp_path)


def _lose_the_server() -> None:
    """A COPY whose server went away: psycopg2's message spans several lines."""
    raise psycopg2.OperationalError(
        "server closed the connection unexpectedly\n\tThis probably means the server"
        " terminated abnormally\n"
    )


def _lose_the_server_then_roll_back() -> None:
    """The same, then the rollback on the dead connection fails as well, as in a task."""
    try:
        _lose_the_server()
    except psycopg2.Error as error:
        raise sa.exc.InterfaceError(
            "rollback", None, psycopg2.InterfaceError("connection already closed")
        ) from error


@pytest.mark.parametrize("failure", [_lose_the_server, _lose_the_server_then_roll_back])
def test_database_errors_become_one_line_naming_the_first_failure(
    failure: Callable[[], None],
) -> None:
    with pytest.raises(DatabaseError) as raised, one_line_errors("postgresql://u:s3cret@db/fraud"):
        failure()
    assert str(raised.value) == (
        "database error on postgresql+psycopg2://u:***@db/fraud:"
        " server closed the connection unexpectedly"
    )


@pytest.mark.parametrize(
    ("url", "driver_message", "expected"),
    [
        (
            "postgresql://u@db/fraud?sslmode=verify-full&sslrootcert=/etc/ssl/fraud-ca.pem",
            'connection to server at "db", port 5432 failed: SSL error: certificate verify failed',
            "database error on postgresql+psycopg2://u@db/fraud?sslmode=verify-full"
            "&sslrootcert=%2Fetc%2Fssl%2Ffraud-ca.pem: the server's certificate could not be"
            " verified against the CA in /etc/ssl/fraud-ca.pem: connection to server at"
            ' "db", port 5432 failed: SSL error: certificate verify failed',
        ),
        (
            "postgresql://u@db/fraud?sslmode=verify-full",
            'connection to server at "db", port 5432 failed: SSL error: certificate verify failed',
            "database error on postgresql+psycopg2://u@db/fraud?sslmode=verify-full:"
            " the server's certificate could not be verified against the default CA file"
            " (PGSSLROOTCERT, else ~/.postgresql/root.crt): connection to server at"
            ' "db", port 5432 failed: SSL error: certificate verify failed',
        ),
        (
            "postgresql://u@db/fraud?sslmode=verify-full",
            'connection to server at "db", port 5432 failed: server certificate for "x"'
            ' does not match host name "db"',
            "database error on postgresql+psycopg2://u@db/fraud?sslmode=verify-full:"
            " the server's certificate does not name the host of the URL: connection to"
            ' server at "db", port 5432 failed: server certificate for "x" does not match'
            ' host name "db"',
        ),
    ],
)
def test_refused_certificates_say_what_to_check(
    url: str, driver_message: str, expected: str
) -> None:
    assert describe_error(psycopg2.OperationalError(driver_message + "\n"), url) == expected
