"""A whole range of history as pandas frames, for the callers that hold it in memory.

The evaluation protocol (:mod:`fraud.model.protocol`) and the benchmarks build features on a
simulated month or two held whole; the nightly step and retraining never do
(:mod:`fraud.features.history`). The rows travel the same way: COPY into Arrow, never Python
objects per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import Connection

from fraud.features.history import ROW_TYPES, read_table, rows_of
from fraud.labels import frauds_known_before

# Clean rows of a range: quarantined rows are not history.
CLEAN_TRANSACTIONS_SQL = """
select t.transaction_id,
       (extract(epoch from t.tx_datetime) * 1000000)::bigint as tx_us,
       t.customer_id, t.terminal_id, (t.tx_amount * 100)::bigint as amount_cents
from raw.transactions as t
where t.tx_datetime >= %(start)s and t.tx_datetime < %(end)s
  and not exists (
      select 1 from quality.quarantine as q
      where q.transaction_id = t.transaction_id and q.resolved_at is null
  )
"""

# The frauds among the range's payments known before a cut-off (reported, or by an investigator's
# verdict), each with the moment since which it has been known: the labels frame's reported_at.
# The genuine payments are left out: a payment without a row is not known as fraud.
LABELS_KNOWN_BY_SQL = f"""
select known.transaction_id, true as is_fraud,
       (extract(epoch from known.known_at) * 1000000)::bigint as reported_us
from {frauds_known_before("%(start)s", "%(cutoff)s")} as known
join raw.transactions as t using (transaction_id)
where t.tx_datetime >= %(start)s and t.tx_datetime < %(end)s
"""

_LABEL_TYPES: dict[str, pa.DataType] = {
    "transaction_id": pa.int64(),
    "is_fraud": pa.bool_(),
    "reported_us": pa.int64(),
}


@dataclass(frozen=True)
class History:
    """Transactions of a time range and the frauds known at a cut-off, as frames.

    ``labels`` has the simulator's columns (transaction_id, is_fraud, reported_at); read from the
    warehouse, ``reported_at`` is the moment each fraud became known, by a report or a verdict.
    """

    transactions: pd.DataFrame
    labels: pd.DataFrame


def read_history(
    connection: Connection, start: datetime, end: datetime, label_cutoff: datetime
) -> History:
    """Clean transactions in [start, end) and their frauds known before ``label_cutoff``."""
    bounds = {"start": start, "end": end, "cutoff": label_cutoff}
    rows = rows_of(read_table(connection, CLEAN_TRANSACTIONS_SQL, bounds, ROW_TYPES))
    labels = read_table(connection, LABELS_KNOWN_BY_SQL, bounds, _LABEL_TYPES)
    transactions = pd.DataFrame(
        {
            "transaction_id": rows.transaction_id,
            "tx_datetime": pd.to_datetime(rows.ns, utc=True),
            "customer_id": rows.customer_id,
            "terminal_id": rows.terminal_id,
            "tx_amount": rows.amount,
        }
    ).sort_values(["tx_datetime", "transaction_id"], ignore_index=True)
    return History(
        transactions=transactions,
        labels=pd.DataFrame(
            {
                "transaction_id": labels.column("transaction_id").to_numpy(),
                "is_fraud": labels.column("is_fraud").to_numpy(zero_copy_only=False).astype(bool),
                "reported_at": pd.to_datetime(
                    labels.column("reported_us").to_numpy() * 1000, utc=True
                ),
            }
        ),
    )
