"""Day partitions of the derived tables: created by each writer for its interval, dropped by age.

``staging.transactions``, ``staging.transaction_features`` and ``scoring.transaction_scores`` are
range-partitioned by UTC day (``sql/V023__partition_by_day.sql``). The SQL functions that
create and drop partitions run with the owner's rights, so the pipeline needs no DDL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud.dates import days_in

_ENSURE_SQL = "select staging.ensure_day_partitions(:day)"
_DROP_BEFORE_SQL = "select staging.drop_partitions_before(:day)"


def ensure_partitions(engine: Engine, start: datetime, end: datetime) -> int:
    """Create the partitions of every UTC day ``[start, end)`` touches; count those created.

    In a transaction of its own, committed before the caller writes: the lock that keeps two
    creators of one day apart is then held for milliseconds, not for a whole night's task.
    """
    with engine.begin() as connection:
        return sum(
            int(connection.execute(sa.text(_ENSURE_SQL), {"day": day}).scalar_one())
            for day in days_in(start, end)
        )


def drop_partitions_before(connection: Connection, day: date) -> list[str]:
    """Drop the derived tables' partitions of the days before ``day``; return their names."""
    return [
        str(name) for name in connection.execute(sa.text(_DROP_BEFORE_SQL), {"day": day}).scalars()
    ]


def retention_cutoff(night: date, retention_days: int) -> date:
    """The oldest day a night keeps when derived partitions live ``retention_days`` days."""
    return night - timedelta(days=retention_days - 1)
