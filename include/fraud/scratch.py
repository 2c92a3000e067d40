"""Scratch databases: created for one piece of work on a server, dropped however the work ends.

The tests' fresh databases and every benchmark's warehouse go through :func:`scratch_database`;
the two ways of naming one are :func:`unique_name` (a new name each time, for work that runs side
by side) and :func:`name_beside` (``<database>_<suffix>`` next to a configured warehouse, a name a
user can find and keep).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from fraud.db import (
    LONGEST_NAME,
    MAINTENANCE_DATABASE,
    DatabaseError,
    create_database,
    drop_database,
    sqlalchemy_url,
    with_database,
)


def unique_name(prefix: str) -> str:
    """``<prefix>_<8 hex digits>``, a name no other scratch database of the server has."""
    return f"{prefix[: LONGEST_NAME - 9]}_{uuid.uuid4().hex[:8]}"


def name_beside(url: str, suffix: str) -> str:
    """``<database of url>_<suffix>``; refused in one line where PostgreSQL would cut it."""
    name = f"{make_url(sqlalchemy_url(url)).database or MAINTENANCE_DATABASE}_{suffix}"
    if len(name.encode()) > LONGEST_NAME:
        raise DatabaseError(f"scratch database name {name!r} is longer than {LONGEST_NAME} bytes")
    return name


@contextmanager
def scratch_database(
    server_url: str, name: str, *, keep: bool = False
) -> Generator[str, None, None]:
    """Create database ``name`` on ``server_url``'s server and yield its URL; drop it when the
    block ends, however it ends, unless ``keep``. A database that exists already is refused and
    left alone."""
    url = with_database(server_url, name)
    create_database(url)
    try:
        yield url
    finally:
        if not keep:
            drop_database(url)
