"""Point-in-time history from the warehouse: what the feature function may see at a cut-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud.bulk import copy_frame, read_frame
from fraud.features.build import build_features
from fraud.features.columns import history_start

# Quarantined rows are not history: an absurd amount must not poison a customer's mean.
_CLEAN_TRANSACTIONS = """
select t.transaction_id, t.tx_datetime, t.customer_id, t.terminal_id, t.tx_amount::float8 as tx_amount
from raw.transactions as t
where t.tx_datetime >= :start and t.tx_datetime < :end
  and not exists (
      select 1 from quality.quarantine as q
      where q.transaction_id = t.transaction_id and q.resolved_at is null
  )
order by t.tx_datetime, t.transaction_id
"""

_LABELS_KNOWN_BY = """
select l.transaction_id, l.is_fraud, l.reported_at
from raw.fraud_labels as l
join raw.transactions as t using (transaction_id)
where l.reported_at < :cutoff and t.tx_datetime >= :start and t.tx_datetime < :end
"""

_DELETE_FEATURES = """
delete from staging.transaction_features
where tx_datetime >= :start and tx_datetime < :end
"""

_VALIDATED_IDS = """
select transaction_id from staging.transactions
where tx_datetime >= :start and tx_datetime < :end
"""


@dataclass(frozen=True)
class FeatureOutcome:
    """What one feature build wrote: for the task log and XCom."""

    feature_rows: int


@dataclass(frozen=True)
class History:
    """Transactions of a time range and the labels known at a cut-off."""

    transactions: pd.DataFrame
    labels: pd.DataFrame


def read_history(
    connection: Connection, start: datetime, end: datetime, label_cutoff: datetime
) -> History:
    """Read clean transactions in [start, end) and the labels reported before ``label_cutoff``."""
    transactions = read_frame(connection, _CLEAN_TRANSACTIONS, {"start": start, "end": end})
    labels = read_frame(
        connection, _LABELS_KNOWN_BY, {"cutoff": label_cutoff, "start": start, "end": end}
    )
    transactions["tx_datetime"] = pd.to_datetime(transactions["tx_datetime"], utc=True)
    labels["reported_at"] = pd.to_datetime(labels["reported_at"], utc=True)
    labels["is_fraud"] = labels["is_fraud"].astype(bool)
    return History(transactions=transactions, labels=labels)


def build_interval_features(
    engine: Engine,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    label_delay_days: int,
) -> FeatureOutcome:
    """Build the features of the interval's validated rows and replace them atomically."""
    with engine.begin() as connection:
        target_ids = read_frame(
            connection, _VALIDATED_IDS, {"start": interval_start, "end": interval_end}
        )["transaction_id"].to_numpy()
        history = read_history(
            connection,
            history_start(interval_start, label_delay_days),
            interval_end,
            label_cutoff=interval_end,
        )
        frame = build_features(history.transactions, history.labels, target_ids, label_delay_days)
        connection.execute(
            sa.text(_DELETE_FEATURES), {"start": interval_start, "end": interval_end}
        )
        frame = frame.assign(run_id=run_id)
        copy_frame(connection, frame, "staging.transaction_features")
    return FeatureOutcome(feature_rows=len(frame))
