"""Read one data interval of raw transactions and labels, plus the history the gate compares to."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from fraud.bulk import dbapi, read_frame
from fraud.payments import BANK_TEXT_COLUMNS, TRANSACTION_COLUMNS

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection

# The exact decimals, read as their text and converted by the checks.
_DECIMAL_COLUMNS = ("tx_amount", "original_amount")
# How COPY writes a null: a value a bank column never holds (unlike an empty string).
_NULL_TEXT = "\\N"
LABEL_COLUMNS = ("transaction_id", "is_fraud", "reported_at")
# The label frame carries the labelled transaction's time (null when the transaction is unknown).
LABEL_CHECK_COLUMNS = (*LABEL_COLUMNS, "transaction_tx_datetime")

# The interval's raw rows are copied once into a temporary table: the checks read it, and the
# validated rows are inserted into staging from it, so both see the same rows in one snapshot.
INTERVAL_SNAPSHOT = "pg_temp.interval_transactions"

_SNAPSHOT_SQL = (
    f"drop table if exists {INTERVAL_SNAPSHOT}",
    """
create temporary table interval_transactions on commit drop as
select
    transaction_id, tx_datetime, customer_id, terminal_id, tx_amount,
    channel, merchant_category, merchant_country, currency, original_amount
from raw.transactions
where tx_datetime >= :interval_start and tx_datetime < :interval_end
""",
)

# Times travel as exact integer microseconds since the epoch, amounts as their decimal text, nulls
# of the bank columns as \N; rows are sorted by id in pandas, cheaper than on the server.
_COPY_SNAPSHOT_SQL = f"""
copy (
    select
        transaction_id,
        (extract(epoch from tx_datetime) * 1000000)::bigint as tx_datetime,
        customer_id,
        terminal_id,
        tx_amount,
        channel,
        merchant_category,
        merchant_country,
        currency,
        original_amount
    from {INTERVAL_SNAPSHOT}
) to stdout with (format csv, null '{_NULL_TEXT}')
"""

_LABELS_SQL = """
select
    labels.transaction_id,
    labels.is_fraud,
    labels.reported_at,
    transactions.tx_datetime as transaction_tx_datetime
from raw.fraud_labels as labels
left join raw.transactions as transactions
    on transactions.transaction_id = labels.transaction_id
where labels.reported_at >= :interval_start and labels.reported_at < :interval_end
order by labels.transaction_id
"""

# Staged rows of other days whose id is one of this interval's. The staged table is
# partitioned by day: the id range lets each day's primary-key index answer for its day, so
# the night reads only the rows in that range instead of every staged day.
_SNAPSHOT_ID_RANGE_SQL = f"select min(transaction_id), max(transaction_id) from {INTERVAL_SNAPSHOT}"
_VALIDATED_ELSEWHERE_SQL = f"""
select staged.transaction_id
from staging.transactions as staged
inner join {INTERVAL_SNAPSHOT} as snapshot
    on snapshot.transaction_id = staged.transaction_id
where not (staged.tx_datetime >= :interval_start and staged.tx_datetime < :interval_end)
  and staged.transaction_id between :first_id and :last_id
"""

# One index-only range count per day: cheaper than grouping millions of rows by day.
_DAILY_COUNTS_SQL = """
select
    days_before,
    (
        select count(*)
        from raw.transactions
        where tx_datetime >= :interval_start - (days_before + 1) * interval '1 day'
            and tx_datetime < :interval_start - days_before * interval '1 day'
    ) as row_count
from generate_series(0, :days - 1) as days_before
"""


def _as_utc(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Convert timestamp columns to nanosecond UTC, the dtype the schema suite expects."""
    import pandas as pd

    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    return frame


def read_interval(
    connection: Connection, interval_start: datetime, interval_end: datetime
) -> pd.DataFrame:
    """Snapshot the raw transactions of ``[start, end)`` (see ``INTERVAL_SNAPSHOT``) and return them.

    Amounts stay exact as their decimal text, a null bank column is ``None``; the snapshot is
    dropped when the transaction ends.
    """
    import pandas as pd

    interval = {"interval_start": interval_start, "interval_end": interval_end}
    for statement in _SNAPSHOT_SQL:
        connection.execute(sa.text(statement), interval)
    buffer = io.BytesIO()
    with dbapi(connection).cursor() as cursor:
        cursor.copy_expert(_COPY_SNAPSHOT_SQL, buffer)
    buffer.seek(0)
    integers = {column: "int64" for column in ("transaction_id", "customer_id", "terminal_id")}
    texts = {column: "object" for column in (*BANK_TEXT_COLUMNS, *_DECIMAL_COLUMNS)}
    frame = pd.read_csv(
        buffer, names=list(TRANSACTION_COLUMNS), dtype={**integers, **texts}, na_filter=False
    )
    for column in (*BANK_TEXT_COLUMNS, "original_amount"):
        values = frame[column]
        frame[column] = values.where(values != _NULL_TEXT, None)
    frame["tx_datetime"] = pd.to_datetime(frame["tx_datetime"], unit="us", utc=True).astype(
        "datetime64[ns, UTC]"
    )
    return frame.sort_values("transaction_id", ignore_index=True)


def read_labels(
    connection: Connection, interval_start: datetime, interval_end: datetime
) -> pd.DataFrame:
    """Return the fraud labels reported in the interval, with their transaction's time if known."""
    frame = read_frame(
        connection, _LABELS_SQL, {"interval_start": interval_start, "interval_end": interval_end}
    )
    frame = frame.reindex(columns=list(LABEL_CHECK_COLUMNS))
    frame["transaction_id"] = frame["transaction_id"].astype("int64")
    frame["is_fraud"] = frame["is_fraud"].astype("bool")
    return _as_utc(frame, ("reported_at", "transaction_tx_datetime")).reset_index(drop=True)


def validated_elsewhere_ids(
    connection: Connection, interval_start: datetime, interval_end: datetime
) -> frozenset[int]:
    """Return ids of this interval's raw rows that staging already holds under another interval."""
    first_id, last_id = connection.execute(sa.text(_SNAPSHOT_ID_RANGE_SQL)).one()
    if first_id is None:
        return frozenset()
    result = connection.execute(
        sa.text(_VALIDATED_ELSEWHERE_SQL),
        {
            "interval_start": interval_start,
            "interval_end": interval_end,
            "first_id": first_id,
            "last_id": last_id,
        },
    )
    return frozenset(int(row[0]) for row in result)


def daily_volume_history(connection: Connection, interval_start: datetime, days: int) -> list[int]:
    """Return raw row counts of the ``days`` 24-hour days before the interval, oldest first."""
    if days <= 0:
        return []
    result = connection.execute(
        sa.text(_DAILY_COUNTS_SQL), {"interval_start": interval_start, "days": days}
    )
    counts = {int(days_before): int(count) for days_before, count in result}
    return [int(counts.get(days_before, 0)) for days_before in range(days - 1, -1, -1)]
