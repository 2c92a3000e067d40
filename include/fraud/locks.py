"""Advisory locks: two writers of the same rows queue on a named key instead of colliding.

Every lock is transaction-scoped (released at commit or rollback) and named by a text key,
hashed to PostgreSQL's 64-bit lock space by ``hashtextextended``. A night's work is locked by
:func:`night_lock_key`; :meth:`fraud.shares.Share.lock` adds the share's own key beneath it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_EXCLUSIVE_SQL = "select pg_advisory_xact_lock(hashtextextended(:key, 0))"
_SHARED_SQL = "select pg_advisory_xact_lock_shared(hashtextextended(:key, 0))"


def advisory_lock(connection: Connection, key: str, *, shared: bool = False) -> None:
    """Wait for ``key`` and hold it until the transaction ends: alone, or beside other sharers.

    A shared holder excludes exclusive holders only; locks a transaction holds never block it.
    """
    connection.execute(sa.text(_SHARED_SQL if shared else _EXCLUSIVE_SQL), {"key": key})


def night_lock_key(stage: str, interval_start: datetime) -> str:
    """The key of one stage's work on the night that starts at ``interval_start``."""
    return f"{stage}:{interval_start.isoformat()}"
