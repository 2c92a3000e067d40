"""URL handling and migration discovery, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraud.db import DatabaseError, discover_migrations, mask_url, server_name, sqlalchemy_url


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
