"""Throwaway LOGIN roles for tests: a member of one group role, dropped afterwards."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Generator
from contextlib import contextmanager

import sqlalchemy as sa

from fraud.db import create_warehouse_engine, login_url
from fraud.logins import ensure_login


@contextmanager
def member_login(owner_url: str, group: str) -> Generator[str, None, None]:
    """A URL of the owner's database, logged in as a new role that is a member of ``group`` only."""
    name = f"fraud_test_{group.removeprefix('fraud_')}_{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)
    owner = create_warehouse_engine(owner_url, pool_size=1)
    with owner.begin() as connection:
        ensure_login(connection, name, group, password)
    try:
        yield login_url(owner_url, name, password)
    finally:
        with owner.begin() as connection:
            connection.execute(
                sa.text(
                    "select pg_terminate_backend(pid) from pg_stat_activity where usename = :name"
                ),
                {"name": name},
            )
            connection.execute(sa.text(f'drop role if exists "{name}"'))
        owner.dispose()
