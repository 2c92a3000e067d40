"""The night benchmark's warehouse: H days of N card payments a day, generated inside PostgreSQL.

N/2 customers and N terminals; each customer pays at four terminals of its neighbourhood, about
twice a day, amounts around a mean of its own. One payment in 125 is a fraud, paid at two to
three times the customer's mean, and reported as fraud seven days later. Every value is a hash
of the payment's id, so the same N and H give the same warehouse.

The raw tables' indexes are dropped while the days go in and built again after, exactly as the
migrations define them: building an index once is several times cheaper than keeping it up to
date row by row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud.dates import midnight
from fraud.partitions import ensure_partitions

_INDEX_MEMORY_SQL = "set local maintenance_work_mem = '1GB'"
_VACUUM_TABLE_SQL = "vacuum analyze {table}"
_COUNT_LABELS_SQL = "select count(*) from raw.fraud_labels"

FRAUD_ONE_IN = 125
REPORT_DELAY_DAYS = 7
RAW_TABLES = ("raw.transactions", "raw.fraud_labels")

# One day's payments. A uniform draw in [0, 1) is a hash of the payment's id with a salt:
# (hashint8extended(id, salt) & 2147483647) / 2^31. The day's frauds are the ids whose draw of
# salt 4 falls in the first 1/125; their reports follow from the same expressions, computed
# again rather than read back, so that a day costs the same however many days came before.
_DAY_SQL = """
insert into raw.transactions (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
select id,
       :day_start + (((hashint8extended(id, 1) & 2147483647)::float8 / 2147483648.0) * 86400)
           * interval '1 second',
       customer,
       1 + mod(customer * 2 + mod(hashint8extended(id, 2) & 2147483647, 4), :terminals),
       round(((5 + mod(hashint8(customer) & 2147483647, 95))
           * (case when mod(hashint8extended(id, 4) & 2147483647, :fraud_one_in) = 0
                   then 2.0 else 0.5 end
              + (hashint8extended(id, 3) & 2147483647)::float8 / 2147483648.0))::numeric, 2)
from (
    select id, 1 + mod(hashint8extended(id, 0) & 2147483647, :customers) as customer
    from generate_series(:first_id, :last_id) as id
) as payments
"""
_DAY_LABELS_SQL = """
insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)
select id, true,
       :day_start + (((hashint8extended(id, 1) & 2147483647)::float8 / 2147483648.0) * 86400)
           * interval '1 second' + :delay * interval '1 day'
from generate_series(:first_id, :last_id) as id
where mod(hashint8extended(id, 4) & 2147483647, :fraud_one_in) = 0
"""
_INDEXES_SQL = """
select indexname, indexdef
from pg_indexes
where schemaname || '.' || tablename = :table_name
  and indexname not in (
      select conname from pg_constraint where conrelid = cast(:table_name as regclass)
  )
"""
_PRIMARY_KEY_SQL = """
select conname, pg_get_constraintdef(oid)
from pg_constraint
where conrelid = cast(:table_name as regclass) and contype = 'p'
"""
_FILLER_SCORES_SQL = """
insert into scoring.transaction_scores (transaction_id, tx_datetime, customer_id, terminal_id,
    tx_amount, score, model_name, model_version, is_alert, run_id)
select transaction_id, tx_datetime, customer_id, terminal_id, tx_amount,
       (hashint8extended(transaction_id, 9) & 2147483647)::float8 / 2147483648.0,
       :model_name, 1, false, 'benchmark-filler'
from raw.transactions
where tx_datetime >= :start and tx_datetime < :end
"""


@dataclass(frozen=True)
class Warehouse:
    """The filled warehouse: its shape and the night it ends with."""

    rows_per_day: int
    history_days: int
    night: date
    rows: int
    frauds: int
    seconds: float


@dataclass(frozen=True)
class _Index:
    name: str
    definition: str
    primary_key: bool


def _indexes(connection: Connection, table: str) -> list[_Index]:
    """The table's indexes and primary key, as SQL that creates them again."""
    keys = connection.execute(sa.text(_PRIMARY_KEY_SQL), {"table_name": table}).all()
    others = connection.execute(sa.text(_INDEXES_SQL), {"table_name": table}).all()
    return [
        *(
            _Index(name, f"alter table {table} add constraint {name} {definition}", True)
            for name, definition in keys
        ),
        *(_Index(name, definition, False) for name, definition in others),
    ]


def fill(
    engine: Engine,
    *,
    rows_per_day: int,
    history_days: int,
    night: date,
    progress: Callable[[str], None] = lambda message: None,
) -> Warehouse:
    """Write ``history_days`` days of payments ending with ``night``, and their fraud reports."""
    started = time.perf_counter()
    first_day = night - timedelta(days=history_days - 1)
    with engine.begin() as connection:
        dropped = {table: _indexes(connection, table) for table in RAW_TABLES}
        for table, indexes in dropped.items():
            for index in indexes:
                statement = (
                    f"alter table {table} drop constraint {index.name}"
                    if index.primary_key
                    else f"drop index {table.split('.')[0]}.{index.name}"
                )
                connection.exec_driver_sql(statement)
    shape = {
        "customers": max(rows_per_day // 2, 1),
        "terminals": rows_per_day,
        "fraud_one_in": FRAUD_ONE_IN,
        "delay": REPORT_DELAY_DAYS,
    }
    for offset in range(history_days):
        day = first_day + timedelta(days=offset)
        ids = {"first_id": offset * rows_per_day + 1, "last_id": (offset + 1) * rows_per_day}
        with engine.begin() as connection:
            connection.execute(sa.text(_DAY_SQL), {**shape, **ids, "day_start": midnight(day)})
            connection.execute(
                sa.text(_DAY_LABELS_SQL), {**shape, **ids, "day_start": midnight(day)}
            )
        if (offset + 1) % 10 == 0 or offset + 1 == history_days:
            progress(
                f"filled {offset + 1}/{history_days} days of {rows_per_day:,} payments"
                f" in {time.perf_counter() - started:.0f} s"
            )
    with engine.begin() as connection:
        connection.exec_driver_sql(_INDEX_MEMORY_SQL)
        for indexes in dropped.values():
            for index in indexes:
                connection.exec_driver_sql(index.definition)
    progress(f"indexes built again in {time.perf_counter() - started:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in RAW_TABLES:
            connection.exec_driver_sql(_VACUUM_TABLE_SQL.format(table=table))
        frauds = int(connection.exec_driver_sql(_COUNT_LABELS_SQL).scalar_one())
    return Warehouse(
        rows_per_day=rows_per_day,
        history_days=history_days,
        night=night,
        rows=rows_per_day * history_days,
        frauds=frauds,
        seconds=round(time.perf_counter() - started, 3),
    )


def fill_scores(engine: Engine, model_name: str, days: list[date]) -> int:
    """Scores for earlier days (the ones the performance step measures), a hash for a score.

    A night measures the days whose labels are 7, 14 and 30 days old; a benchmark that scored
    only its own night would leave that step nothing to read.
    """
    written = 0
    for day in days:
        start = midnight(day)
        ensure_partitions(engine, start, start + timedelta(days=1))
        with engine.begin() as connection:
            result = connection.execute(
                sa.text(_FILLER_SCORES_SQL),
                {"model_name": model_name, "start": start, "end": start + timedelta(days=1)},
            )
            written += result.rowcount
    return written
