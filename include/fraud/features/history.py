"""Point-in-time history from the warehouse, read once through COPY into Arrow, split into parts.

A transaction's customer features need its customer's rows, its terminal features its
terminal's rows and the frauds known among them (:mod:`fraud.features.build`). The targets sit
in a temporary table, ``pg_temp.feature_targets``, that the caller fills (the day's validated
rows of a share, or a training window's sample). :func:`target_features` reads the rows of the
targets' customers in one pass and the rows of the targets' terminals in another (up to the
delayed windows' end, then only their reported frauds up to the window's end), and splits
each pass on the way into ``parts`` files on local disk, by a hash of the customer and of the
terminal. Each part is then computed alone: memory holds one part's history and the targets'
features, never the window's history, and the server reads each history once, whatever the
number of parts. Quarantined rows are not history: an absurd amount must not poison a mean.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.bulk import copy_out_batches, copy_out_table, inline
from fraud.features.build import (
    CUSTOMER_COLUMNS,
    TERMINAL_COLUMNS,
    customer_features,
    features_frame,
    terminal_features,
)
from fraud.features.columns import LONGEST_WINDOW_DAYS
from fraud.features.rows import KnownFrauds, Rows
from fraud.shares import Share

logger = logging.getLogger(__name__)

TARGETS_TABLE = "feature_targets"
TARGETS = f"pg_temp.{TARGETS_TABLE}"

# Times travel as integer microseconds since the epoch and amounts as integer cents: exact, and
# an order of magnitude cheaper to write and parse than timestamps and decimals as text.
ROW_TYPES: dict[str, pa.DataType] = {
    "transaction_id": pa.int64(),
    "tx_us": pa.int64(),
    "customer_id": pa.int64(),
    "terminal_id": pa.int64(),
    "amount_cents": pa.int64(),
}
_PART_TYPES: dict[str, pa.DataType] = {"part": pa.int32(), **ROW_TYPES}
_TARGET_TYPES: dict[str, pa.DataType] = {
    **ROW_TYPES,
    "customer_part": pa.int32(),
    "terminal_part": pa.int32(),
}
_FRAUD_TYPES: dict[str, pa.DataType] = {"transaction_id": pa.int64(), "reported_us": pa.int64()}

_DROP_TARGETS = f"drop table if exists {TARGETS}"
# Temporary tables are never analysed by autovacuum: without statistics the planner would guess.
_ANALYZE_TARGETS = f"analyze {TARGETS}"
_COUNT_TARGETS = f"select count(*) from {TARGETS}"
# The histories are a large share of a month's payments, found by a hash join against the
# targets. The planner prefers a loop over the customer or terminal index, which fetches each row
# from a random page: measured on 31 days of a million payments a day, 38 s against 6 s for
# reading the month's pages in order. Loops and plain index scans are off for the rest of the
# transaction that reads them.
# The hash of the targets' terminals (hundreds of thousands of ids) fits in memory with a larger
# work_mem than the default 4 MB, instead of spilling its batches to disk. (The lookups below
# name distinct ids: the planner then hashes each id once, a quarter faster than a semi-join.)
_SEQUENTIAL_READS = (
    "set local enable_nestloop = off",
    "set local enable_indexscan = off",
    "set local work_mem = '128MB'",
)

# The part of a customer: its share's rows split further by the same hash, so that the parts of
# share i of n are the ids whose hash modulo n * parts is i, i + n, i + 2n...
_CUSTOMER_PART = "staging.share_of({column}, %(share_count)s * %(parts)s) / %(share_count)s"
_TERMINAL_PART = "staging.share_of({column}, %(parts)s)"

# Rows of raw.transactions in [start, <end>) not held in quarantine, with their part and the
# columns the features read; {rows} picks whose.
_HISTORY_ROWS = """
select {part} as part,
       t.transaction_id,
       (extract(epoch from t.tx_datetime) * 1000000)::bigint as tx_us,
       t.customer_id, t.terminal_id, (t.tx_amount * 100)::bigint as amount_cents
from raw.transactions as t
where t.tx_datetime >= %(start)s and t.tx_datetime < %({end})s
  and {rows}
  and not exists (
      select 1 from quality.quarantine as q
      where q.transaction_id = t.transaction_id and q.resolved_at is null
  )
"""
_CUSTOMER_ROWS_PART = _CUSTOMER_PART.format(column="t.customer_id")

# Rows of the share's customers in [start, end), the targets included, with their part. A night's
# share holds most of its customers' rows: testing each row's hash is three times faster than
# looking its customer up among the targets' (measured: 4 s against 14 s for 32 million rows).
CUSTOMER_HISTORY_OF_SHARE = _HISTORY_ROWS.format(
    part=_CUSTOMER_ROWS_PART,
    end="end",
    rows="staging.share_of(t.customer_id, %(share_count)s) = %(share_index)s",
)

# Rows of the targets' customers in [start, end), the targets included, with their part: for a
# training window's sample, whose customers are a minority of the window's.
CUSTOMER_HISTORY_OF_TARGETS = _HISTORY_ROWS.format(
    part=_CUSTOMER_ROWS_PART,
    end="end",
    rows=f"t.customer_id in (select distinct customer_id from {TARGETS})",
)

# Rows of the targets' terminals in [start, terminal_end), with their part: a terminal's windows
# end ``label_delay_days`` before each target.
TERMINAL_HISTORY = _HISTORY_ROWS.format(
    part=_TERMINAL_PART.format(column="t.terminal_id"),
    end="terminal_end",
    rows=f"t.terminal_id in (select distinct terminal_id from {TARGETS})",
)

# Rows of the targets' terminals in [terminal_end, end) with a fraud reported before the cut-off:
# the delayed windows never reach them, the undelayed count of reported frauds does. The genuine
# rows of those days are not read: that count needs only the frauds' times.
TERMINAL_LATE_FRAUDS = _HISTORY_ROWS.format(
    part=_TERMINAL_PART.format(column="t.terminal_id"),
    end="end",
    rows=f"""t.terminal_id in (select distinct terminal_id from {TARGETS})
  and exists (
      select 1 from raw.fraud_labels as l
      where l.transaction_id = t.transaction_id and l.is_fraud and l.reported_at < %(cutoff)s
  )""",
)

# Frauds reported before the cut-off and since the terminals' windows began: a fraud is reported
# after its payment, so this holds every fraud among the terminals' rows (the others are left
# out when they are matched to those rows). No payment is read for it.
TERMINAL_FRAUDS = """
select transaction_id, (extract(epoch from reported_at) * 1000000)::bigint as reported_us
from raw.fraud_labels
where is_fraud and reported_at >= %(start)s and reported_at < %(cutoff)s
"""

TARGET_ROWS = f"""
select transaction_id, tx_us, customer_id, terminal_id, amount_cents,
       {_CUSTOMER_PART.format(column="customer_id")} as customer_part,
       {_TERMINAL_PART.format(column="terminal_id")} as terminal_part
from {TARGETS}
"""


@dataclass(frozen=True)
class TargetFeatures:
    """The features of every target, in transaction_id order, and what reading them took."""

    frame: pd.DataFrame
    history_rows: int
    parts: int


def read_table(
    connection: Connection, query: str, params: Mapping[str, Any], types: dict
) -> pa.Table:
    """One select, its parameters inlined, streamed through COPY into a typed Arrow table."""
    return copy_out_table(connection, inline(connection, query, params), types)


def rows_of(table: pa.Table) -> Rows:
    """Rows of a table with the ``ROW_TYPES`` columns."""
    column = {name: table.column(name).to_numpy() for name in ROW_TYPES}
    return Rows.from_arrays(
        column["transaction_id"],
        column["tx_us"] * 1000,
        column["customer_id"],
        column["terminal_id"],
        column["amount_cents"] / 100.0,
    )


def history_reads(
    *,
    start: datetime,
    end: datetime,
    cutoff: datetime,
    label_delay_days: int,
    share: Share,
    parts: int,
    whole_share: bool,
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The selects the targets within ``[start, end)`` read, with their parameters.

    With ``whole_share`` the targets are a whole share of the customers (a night's share) and
    the share's rows are read; otherwise they are some of its customers (a window's sample) and
    those customers' rows are looked up.
    """
    split = {**share.params, "parts": parts}
    customers = {"start": start - timedelta(days=LONGEST_WINDOW_DAYS), "end": end, **split}
    terminals = {
        "start": start - timedelta(days=LONGEST_WINDOW_DAYS + label_delay_days),
        "terminal_end": end - timedelta(days=label_delay_days),
        "cutoff": cutoff,
        **split,
    }
    late = {"start": terminals["terminal_end"], "end": end, "cutoff": cutoff, **split}
    customer_history = CUSTOMER_HISTORY_OF_SHARE if whole_share else CUSTOMER_HISTORY_OF_TARGETS
    return {
        "targets": (TARGET_ROWS, split),
        "customers": (customer_history, customers),
        "terminals": (TERMINAL_HISTORY, terminals),
        "late_frauds": (TERMINAL_LATE_FRAUDS, late),
        "frauds": (TERMINAL_FRAUDS, terminals),
    }


def prepare_reads(connection: Connection) -> None:
    """Statistics on the targets and sequential reads, before a history is read."""
    connection.execute(sa.text(_ANALYZE_TARGETS))
    for setting in _SEQUENTIAL_READS:
        connection.execute(sa.text(setting))


def _spill(
    connection: Connection, query: str, params: Mapping[str, Any], parts: int, folder: Path
) -> tuple[list[Path], int]:
    """Stream a history's rows into one Arrow file per part; return the files and the rows."""
    schema = pa.schema([(name, kind) for name, kind in ROW_TYPES.items()])
    paths = [folder / f"part-{part}.arrow" for part in range(parts)]
    writers = [pa.ipc.new_stream(str(path), schema) for path in paths]
    rows = 0
    try:
        statement = inline(connection, query, params)
        for batch in copy_out_batches(connection, statement, _PART_TYPES):
            rows += batch.num_rows
            table = pa.Table.from_batches([batch]).select(list(ROW_TYPES))
            part_of = batch.column("part")
            for part, writer in enumerate(writers):
                chosen = table.filter(pc.equal(part_of, part))
                if chosen.num_rows:
                    writer.write_table(chosen)
    finally:
        for writer in writers:
            writer.close()
    return paths, rows


def _part(path: Path) -> Rows:
    with pa.ipc.open_stream(str(path)) as reader:
        return rows_of(reader.read_all())


def _merge(halves: list[dict[str, np.ndarray]], ids: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The parts' halves of the features as one set of columns, in transaction_id order."""
    order = np.argsort(np.concatenate(ids), kind="stable")
    return {name: np.concatenate([half[name] for half in halves])[order] for name in halves[0]}


def target_features(
    connection: Connection,
    *,
    start: datetime,
    end: datetime,
    cutoff: datetime,
    label_delay_days: int,
    share: Share,
    parts: int,
    whole_share: bool,
) -> TargetFeatures:
    """The features of the targets in ``pg_temp.feature_targets``, all within ``[start, end)``.

    ``share`` is the share of the customers the targets belong to; with ``whole_share`` they are
    all of its rows in ``[start, end)`` (a night's share).
    ``cutoff`` bounds the labels read; the feature code itself ignores any label
    reported after a row's scoring time, so a later cut-off never changes a feature.
    """
    started = time.perf_counter()
    prepare_reads(connection)
    reads = history_reads(
        start=start,
        end=end,
        cutoff=cutoff,
        label_delay_days=label_delay_days,
        share=share,
        parts=parts,
        whole_share=whole_share,
    )
    target_table = read_table(connection, *reads["targets"], _TARGET_TYPES)
    targets = rows_of(target_table)
    customer_part = target_table.column("customer_part").to_numpy()
    terminal_part = target_table.column("terminal_part").to_numpy()
    terminal_end = reads["terminals"][1]["terminal_end"]
    late = targets.ns >= int(terminal_end.timestamp()) * 1_000_000_000
    late_frauds = read_table(connection, *reads["late_frauds"], _PART_TYPES)
    # A late fraud that is a target is already among the late targets.
    late_frauds = late_frauds.filter(
        pc.invert(pc.is_in(late_frauds.column("transaction_id"), pa.array(targets.transaction_id)))
    )
    late_fraud_part = late_frauds.column("part").to_numpy()
    late_fraud_rows = rows_of(late_frauds)
    frauds = read_table(connection, *reads["frauds"], _FRAUD_TYPES)
    fraud_ids = frauds.column("transaction_id").to_numpy()
    fraud_ns = frauds.column("reported_us").to_numpy() * 1000
    with tempfile.TemporaryDirectory(prefix="fraud-history-") as scratch:
        folder = Path(scratch)
        (folder / "customers").mkdir()
        (folder / "terminals").mkdir()
        customer_files, customer_rows = _spill(
            connection, *reads["customers"], parts, folder / "customers"
        )
        terminal_files, terminal_rows = _spill(
            connection, *reads["terminals"], parts, folder / "terminals"
        )
        logger.info(
            "read %d customer and %d terminal history rows for %d targets in %.1f s",
            customer_rows,
            terminal_rows,
            len(targets),
            time.perf_counter() - started,
        )
        customer_halves, customer_ids, terminal_halves, terminal_ids = [], [], [], []
        for part in range(parts):
            ids = targets.transaction_id[customer_part == part]
            if len(ids):
                customer_halves.append(customer_features(_part(customer_files[part]), ids))
                customer_ids.append(np.sort(ids))
            mine = terminal_part == part
            if mine.any():
                rows = Rows.concatenate(
                    [
                        _part(terminal_files[part]),
                        targets.take(np.flatnonzero(mine & late)),
                        late_fraud_rows.take(np.flatnonzero(late_fraud_part == part)),
                    ]
                )
                ids = targets.transaction_id[mine]
                known = KnownFrauds.of(rows, fraud_ids, fraud_ns)
                terminal_halves.append(terminal_features(rows, known, ids, label_delay_days))
                terminal_ids.append(np.sort(ids))
            logger.info(
                "features of part %d/%d built, %.1f s",
                part + 1,
                parts,
                time.perf_counter() - started,
            )
    in_order = targets.take(np.argsort(targets.transaction_id, kind="stable"))
    if not len(in_order):
        empty = {column: np.empty(0) for column in (*CUSTOMER_COLUMNS, *TERMINAL_COLUMNS)}
        return TargetFeatures(features_frame(in_order, empty), 0, parts)
    halves = _merge(customer_halves, customer_ids) | _merge(terminal_halves, terminal_ids)
    return TargetFeatures(features_frame(in_order, halves), customer_rows + terminal_rows, parts)


def new_targets(connection: Connection, statement: str, params: Mapping[str, Any]) -> int:
    """Replace ``pg_temp.feature_targets`` with the rows ``statement`` selects; count them."""
    connection.execute(sa.text(_DROP_TARGETS))
    connection.execute(sa.text(statement), dict(params))
    return int(connection.execute(sa.text(_COUNT_TARGETS)).scalar_one())
