"""Day partitions of the derived tables: created by each writer for its interval, dropped by age.

``staging.transactions``, ``staging.transaction_features`` and ``scoring.transaction_scores`` are
range-partitioned by UTC day (``sql/V023__partition_by_day.sql``). The SQL functions that
create and drop partitions run with the owner's rights, so the pipeline needs no DDL; the one that
drops refuses a day inside the retention minimum (``sql/V038__retention_minimum.sql``), which
only the owner sets, so the pipeline's login cannot drop recent history whatever day it names.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud.dates import days_in

_ENSURE_SQL = "select staging.ensure_day_partitions(:day)"
_DROP_BEFORE_SQL = "select staging.drop_partitions_before(:day)"
_SET_MINIMUM_SQL = """
insert into staging.retention_minimum (days) values (:days)
on conflict (only_row) do update set days = excluded.days, set_at = now()
"""
_MINIMUM_SQL = "select days from staging.retention_minimum"
# The SQLSTATE staging.drop_partitions_before raises for a day inside the retention minimum.
RETENTION_REFUSED = "FR001"


class RetentionRefused(ValueError):
    """A drop would reach inside the retention minimum; the message names the day and the minimum."""


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
    """Drop the derived tables' partitions of the days before ``day``; return their names.

    The warehouse refuses a day inside the retention minimum (counted back from today, UTC):
    that is :class:`RetentionRefused`, in one line naming the day, the minimum and the setting.
    """
    try:
        names = connection.execute(sa.text(_DROP_BEFORE_SQL), {"day": day}).scalars().all()
    except sa.exc.DBAPIError as error:
        if getattr(error.orig, "pgcode", None) != RETENTION_REFUSED:
            raise
        diagnostics = getattr(error.orig, "diag", None)
        message = getattr(diagnostics, "message_primary", None) or str(error.orig)
        raise RetentionRefused(message.splitlines()[0]) from None
    return [str(name) for name in names]


def set_retention_minimum(connection: Connection, days: int) -> None:
    """Store the retention minimum the warehouse enforces (as the owner: the pipeline cannot)."""
    if days < 1:
        raise ValueError(f"the retention minimum must be at least 1 day, not {days}")
    connection.execute(sa.text(_SET_MINIMUM_SQL), {"days": days})


def retention_minimum(connection: Connection) -> int:
    """The retention minimum the warehouse enforces, in days."""
    return int(connection.execute(sa.text(_MINIMUM_SQL)).scalar_one())


def retention_cutoff(night: date, retention_days: int) -> date:
    """The oldest day a night keeps when derived partitions live ``retention_days`` days."""
    return night - timedelta(days=retention_days - 1)
