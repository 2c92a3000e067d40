"""Read one data interval of raw transactions and labels, plus the history the gate compares to."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from fraud.db import read_frame

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection

TRANSACTION_COLUMNS = ("transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount")
LABEL_COLUMNS = ("transaction_id", "is_fraud", "reported_at")
# The label frame carries the labelled transaction's time (null when the transaction is unknown).
LABEL_CHECK_COLUMNS = (*LABEL_COLUMNS, "transaction_tx_datetime")

_TRANSACTIONS_QUERY = """
select transaction_id, tx_datetime, customer_id, terminal_id, tx_amount
from raw.transactions
where tx_datetime >= :interval_start and tx_datetime < :interval_end
order by transaction_id
"""

_LABELS_QUERY = """
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

_VALIDATED_ELSEWHERE_QUERY = """
select staged.transaction_id
from staging.transactions as staged
inner join raw.transactions as raw_rows
    on raw_rows.transaction_id = staged.transaction_id
where raw_rows.tx_datetime >= :interval_start and raw_rows.tx_datetime < :interval_end
    and not (staged.tx_datetime >= :interval_start and staged.tx_datetime < :interval_end)
"""

_DAILY_COUNTS_QUERY = """
select
    ceil(extract(epoch from (:interval_start - tx_datetime)) / 86400)::int - 1 as days_before,
    count(*) as row_count
from raw.transactions
where tx_datetime >= :history_start and tx_datetime < :interval_start
group by 1
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
    """Return the raw transactions of ``[start, end)``, amounts kept as exact Decimals."""
    frame = read_frame(
        connection,
        _TRANSACTIONS_QUERY,
        {"interval_start": interval_start, "interval_end": interval_end},
    )
    frame = frame.reindex(columns=list(TRANSACTION_COLUMNS))
    for column in ("transaction_id", "customer_id", "terminal_id"):
        frame[column] = frame[column].astype("int64")
    frame["tx_amount"] = frame["tx_amount"].astype("object")
    return _as_utc(frame, ("tx_datetime",)).reset_index(drop=True)


def read_labels(
    connection: Connection, interval_start: datetime, interval_end: datetime
) -> pd.DataFrame:
    """Return the fraud labels reported in the interval, with their transaction's time if known."""
    frame = read_frame(
        connection, _LABELS_QUERY, {"interval_start": interval_start, "interval_end": interval_end}
    )
    frame = frame.reindex(columns=list(LABEL_CHECK_COLUMNS))
    frame["transaction_id"] = frame["transaction_id"].astype("int64")
    frame["is_fraud"] = frame["is_fraud"].astype("bool")
    return _as_utc(frame, ("reported_at", "transaction_tx_datetime")).reset_index(drop=True)


def validated_elsewhere_ids(
    connection: Connection, interval_start: datetime, interval_end: datetime
) -> frozenset[int]:
    """Return ids of this interval's raw rows that staging already holds under another interval."""
    result = connection.execute(
        sa.text(_VALIDATED_ELSEWHERE_QUERY),
        {"interval_start": interval_start, "interval_end": interval_end},
    )
    return frozenset(int(row[0]) for row in result)


def daily_volume_history(connection: Connection, interval_start: datetime, days: int) -> list[int]:
    """Return raw row counts of the ``days`` 24-hour days before the interval, oldest first."""
    if days <= 0:
        return []
    result = connection.execute(
        sa.text(_DAILY_COUNTS_QUERY),
        {"interval_start": interval_start, "history_start": interval_start - timedelta(days=days)},
    )
    counts = [0] * days
    for days_before, row_count in result:
        if 0 <= days_before < days:
            counts[days - 1 - days_before] = int(row_count)
    return counts
