"""The nightly feature step: one share of a day's validated rows, replaced in one transaction.

``fraud_ingest`` maps ``build_features`` over the shares of the day's customers, so that any
worker takes any share. Within a share the history of the targets' customers and terminals is read
once and split into chunks of about ``FRAUD_FEATURE_CHUNK_ROWS`` target rows each
(:mod:`fraud.features.history`): a task's memory is bounded by its chunk and its share, whatever
the window its features look back on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud.bulk import copy_arrow
from fraud.dates import day_span
from fraud.features.history import target_features
from fraud.features.history_queries import TARGETS_TABLE, new_targets
from fraud.locks import night_lock_key
from fraud.partitions import ensure_partitions
from fraud.shares import Share
from fraud.timing import Stopwatch

logger = logging.getLogger(__name__)

FEATURE_TABLE = "staging.transaction_features"

_DELETE_SHARE_SQL = """
delete from staging.transaction_features
where tx_datetime >= :start and tx_datetime < :end
  and staging.share_of(customer_id, :share_count) = :share_index
"""

# A share's targets: the day's validated rows whose customer falls in the share.
DAY_TARGETS_SQL = f"""
create temporary table {TARGETS_TABLE} on commit drop as
select transaction_id,
       (extract(epoch from tx_datetime) * 1000000)::bigint as tx_us,
       customer_id, terminal_id, (tx_amount * 100)::bigint as amount_cents
from staging.transactions
where tx_datetime >= :start and tx_datetime < :end
  and staging.share_of(customer_id, :share_count) = :share_index
"""


@dataclass(frozen=True)
class FeatureOutcome:
    """What one share's feature build wrote and read: for the task log, XCom and the CLI."""

    feature_rows: int
    share_index: int
    share_count: int
    chunks: int
    history_rows: int
    seconds: float


def chunk_count(rows: int, chunk_rows: int) -> int:
    """How many chunks of at most ``chunk_rows`` targets hold ``rows`` targets (at least one)."""
    return max(1, math.ceil(rows / chunk_rows))


def copy_features(connection: Connection, frame: pd.DataFrame, run_id: str) -> int:
    """COPY feature rows into the features table, in the caller's transaction."""
    table = pa.Table.from_pandas(frame.assign(run_id=run_id), preserve_index=False)
    return copy_arrow(connection, table, FEATURE_TABLE)


def build_share_features(
    engine: Engine,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    label_delay_days: int,
    share: Share,
    chunk_rows: int,
) -> FeatureOutcome:
    """Replace the features of the share's validated rows of the interval, chunk by chunk."""
    watch = Stopwatch()
    window = {"start": interval_start, "end": interval_end}
    ensure_partitions(engine, interval_start, interval_end)
    with engine.begin() as connection:
        share.lock(connection, night_lock_key("features", interval_start))
        connection.execute(sa.text(_DELETE_SHARE_SQL), {**window, **share.params})
        rows = new_targets(connection, DAY_TARGETS_SQL, {**window, **share.params})
        built = target_features(
            connection,
            start=interval_start,
            end=interval_end,
            cutoff=interval_end,
            label_delay_days=label_delay_days,
            share=share,
            chunks=chunk_count(rows, chunk_rows),
            whole_share=True,
        )
        written = 0
        for first in range(0, len(built.frame), chunk_rows):
            written += copy_features(
                connection, built.frame.iloc[first : first + chunk_rows], run_id
            )
        if written != rows:
            raise RuntimeError(f"built features for {written} of the share's {rows} validated rows")
    logger.info(
        "built features of %s, share %d/%d: %s rows in %d chunks from %s history rows in %.1f s",
        day_span(interval_start, interval_end),
        share.index + 1,
        share.count,
        f"{written:,}",
        built.chunks,
        f"{built.history_rows:,}",
        watch.stop(),
    )
    return FeatureOutcome(
        feature_rows=written,
        share_index=share.index,
        share_count=share.count,
        chunks=built.chunks,
        history_rows=built.history_rows,
        seconds=round(watch.seconds, 3),
    )
