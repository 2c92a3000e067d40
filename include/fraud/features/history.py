"""Point-in-time history from the warehouse, read once through COPY into Arrow, split into chunks.

A transaction's customer features need its customer's rows, its terminal features its
terminal's rows and the frauds known among them (:mod:`fraud.features.build`). The targets sit
in a temporary table, ``pg_temp.feature_targets``, that the caller fills (the day's validated
rows of a share, or a training window's sample). :func:`target_features` reads the rows of the
targets' customers in one pass and the rows of the targets' terminals in another (up to the
delayed windows' end, then only their known frauds up to the window's end), and splits
each pass on the way into ``chunks`` files on local disk, by a hash of the customer and of the
terminal. Each chunk is then computed alone: memory holds one chunk's history and the targets'
features, never the window's history, and the server reads each history once, whatever the
number of chunks. Quarantined rows are not history: an absurd amount must not poison a mean.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from fraud.bulk import copy_out_batches, copy_out_table, inline
from fraud.features.build import (
    CUSTOMER_COLUMNS,
    TERMINAL_COLUMNS,
    customer_features,
    features_frame,
    terminal_features,
)
from fraud.features.history_queries import Reads, history_reads, new_targets, prepare_reads
from fraud.features.rows import KnownFrauds, Rows
from fraud.shares import Share
from fraud.timing import Stopwatch

logger = logging.getLogger(__name__)

# The targets' reads are named here too, beside the build that streams them.
__all__ = [
    "ROW_TYPES",
    "TargetFeatures",
    "history_reads",
    "new_targets",
    "prepare_reads",
    "read_table",
    "rows_of",
    "target_features",
]

# Times travel as integer microseconds since the epoch and amounts as integer cents: exact, and
# an order of magnitude cheaper to write and parse than timestamps and decimals as text.
ROW_TYPES: dict[str, pa.DataType] = {
    "transaction_id": pa.int64(),
    "tx_us": pa.int64(),
    "customer_id": pa.int64(),
    "terminal_id": pa.int64(),
    "amount_cents": pa.int64(),
}
_CHUNK_TYPES: dict[str, pa.DataType] = {"chunk": pa.int32(), **ROW_TYPES}
_TARGET_TYPES: dict[str, pa.DataType] = {
    **ROW_TYPES,
    "customer_chunk": pa.int32(),
    "terminal_chunk": pa.int32(),
}
_FRAUD_TYPES: dict[str, pa.DataType] = {"transaction_id": pa.int64(), "known_us": pa.int64()}


@dataclass(frozen=True)
class TargetFeatures:
    """The features of every target, in transaction_id order, and what reading them took."""

    frame: pd.DataFrame
    history_rows: int
    chunks: int


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


def _spill(
    connection: Connection, query: str, params: Mapping[str, Any], chunks: int, folder: Path
) -> tuple[list[Path], int]:
    """Stream a history's rows into one Arrow file per chunk; return the files and the rows."""
    schema = pa.schema([(name, kind) for name, kind in ROW_TYPES.items()])
    paths = [folder / f"chunk-{chunk}.arrow" for chunk in range(chunks)]
    writers = [pa.ipc.new_stream(str(path), schema) for path in paths]
    rows = 0
    try:
        statement = inline(connection, query, params)
        for batch in copy_out_batches(connection, statement, _CHUNK_TYPES):
            rows += batch.num_rows
            table = pa.Table.from_batches([batch]).select(list(ROW_TYPES))
            chunk_of = batch.column("chunk")
            for chunk, writer in enumerate(writers):
                chosen = table.filter(pc.equal(chunk_of, chunk))
                if chosen.num_rows:
                    writer.write_table(chosen)
    finally:
        for writer in writers:
            writer.close()
    return paths, rows


def _chunk_rows(path: Path) -> Rows:
    """The history rows of one chunk, as spilled by :func:`_spill`."""
    with pa.ipc.open_stream(str(path)) as reader:
        return rows_of(reader.read_all())


def _merge(halves: list[dict[str, np.ndarray]], ids: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The chunks' halves of the features as one set of columns, in transaction_id order."""
    order = np.argsort(np.concatenate(ids), kind="stable")
    return {name: np.concatenate([half[name] for half in halves])[order] for name in halves[0]}


@dataclass(frozen=True)
class _Targets:
    """The targets as rows, with the chunk of each one's customer and of its terminal."""

    rows: Rows
    customer_chunk: np.ndarray
    terminal_chunk: np.ndarray
    # After the terminals' delayed windows end: their own rows are then their terminal's history.
    late: np.ndarray


@dataclass(frozen=True)
class _LateFrauds:
    """Frauds of the targets' terminals after the delayed windows end, other than targets."""

    rows: Rows
    chunk: np.ndarray


@dataclass(frozen=True)
class _FraudReports:
    """Every fraud known since the terminals' windows began: its id and the moment it became
    known (reported, or found by an investigator)."""

    ids: np.ndarray
    ns: np.ndarray


@dataclass(frozen=True)
class _Histories:
    """The customers' and terminals' histories spilled to disk, one file per chunk each."""

    customer_files: list[Path]
    terminal_files: list[Path]
    customer_rows: int
    terminal_rows: int


@dataclass
class _Halves:
    """The customer and terminal halves of the features, chunk by chunk, with their ids."""

    customer: list[dict[str, np.ndarray]] = field(default_factory=list)
    customer_ids: list[np.ndarray] = field(default_factory=list)
    terminal: list[dict[str, np.ndarray]] = field(default_factory=list)
    terminal_ids: list[np.ndarray] = field(default_factory=list)


def _read_targets(connection: Connection, reads: Reads) -> _Targets:
    """The targets with their chunks, and which fall after the terminals' delayed windows."""
    table = read_table(connection, *reads["targets"], _TARGET_TYPES)
    rows = rows_of(table)
    terminal_end = reads["terminals"][1]["terminal_end"]
    return _Targets(
        rows=rows,
        customer_chunk=table.column("customer_chunk").to_numpy(),
        terminal_chunk=table.column("terminal_chunk").to_numpy(),
        late=rows.ns >= int(terminal_end.timestamp()) * 1_000_000_000,
    )


def _read_late_frauds(connection: Connection, reads: Reads, targets: _Targets) -> _LateFrauds:
    """The late frauds of the targets' terminals; a late fraud that is a target is left out,
    since it is already among the late targets."""
    table = read_table(connection, *reads["late_frauds"], _CHUNK_TYPES)
    table = table.filter(
        pc.invert(pc.is_in(table.column("transaction_id"), pa.array(targets.rows.transaction_id)))
    )
    return _LateFrauds(rows=rows_of(table), chunk=table.column("chunk").to_numpy())


def _read_fraud_reports(connection: Connection, reads: Reads) -> _FraudReports:
    """The known frauds the terminals' rows are matched against."""
    table = read_table(connection, *reads["frauds"], _FRAUD_TYPES)
    return _FraudReports(
        ids=table.column("transaction_id").to_numpy(),
        ns=table.column("known_us").to_numpy() * 1000,
    )


def _spill_histories(connection: Connection, reads: Reads, chunks: int, folder: Path) -> _Histories:
    """Read the customers' and the terminals' histories once each, split into chunk files."""
    (folder / "customers").mkdir()
    (folder / "terminals").mkdir()
    customer_files, customer_rows = _spill(
        connection, *reads["customers"], chunks, folder / "customers"
    )
    terminal_files, terminal_rows = _spill(
        connection, *reads["terminals"], chunks, folder / "terminals"
    )
    return _Histories(customer_files, terminal_files, customer_rows, terminal_rows)


def _add_chunk(
    halves: _Halves,
    chunk: int,
    *,
    targets: _Targets,
    histories: _Histories,
    late_frauds: _LateFrauds,
    reports: _FraudReports,
    label_delay_days: int,
) -> None:
    """Build the features of the targets of one chunk from that chunk's histories alone."""
    ids = targets.rows.transaction_id[targets.customer_chunk == chunk]
    if len(ids):
        history = _chunk_rows(histories.customer_files[chunk])
        halves.customer.append(customer_features(history, ids))
        halves.customer_ids.append(np.sort(ids))
    mine = targets.terminal_chunk == chunk
    if mine.any():
        rows = Rows.concatenate(
            [
                _chunk_rows(histories.terminal_files[chunk]),
                targets.rows.take(np.flatnonzero(mine & targets.late)),
                late_frauds.rows.take(np.flatnonzero(late_frauds.chunk == chunk)),
            ]
        )
        ids = targets.rows.transaction_id[mine]
        known = KnownFrauds.of(rows, reports.ids, reports.ns)
        halves.terminal.append(terminal_features(rows, known, ids, label_delay_days))
        halves.terminal_ids.append(np.sort(ids))


def _assemble(targets: _Targets, halves: _Halves) -> pd.DataFrame:
    """The targets' features frame, in transaction_id order, from the chunks' halves."""
    in_order = targets.rows.take(np.argsort(targets.rows.transaction_id, kind="stable"))
    if not len(in_order):
        empty = {column: np.empty(0) for column in (*CUSTOMER_COLUMNS, *TERMINAL_COLUMNS)}
        return features_frame(in_order, empty)
    merged = _merge(halves.customer, halves.customer_ids) | _merge(
        halves.terminal, halves.terminal_ids
    )
    return features_frame(in_order, merged)


def target_features(
    connection: Connection,
    *,
    start: datetime,
    end: datetime,
    cutoff: datetime,
    label_delay_days: int,
    share: Share,
    chunks: int,
    whole_share: bool,
) -> TargetFeatures:
    """The features of the targets in ``pg_temp.feature_targets``, all within ``[start, end)``.

    ``share`` is the share of the customers the targets belong to; with ``whole_share`` they are
    all of its rows in ``[start, end)`` (a night's share).
    ``cutoff`` bounds the labels read; the feature code itself ignores any fraud
    known after a row's scoring time, so a later cut-off never changes a feature.
    """
    watch = Stopwatch()
    prepare_reads(connection)
    reads = history_reads(
        start=start,
        end=end,
        cutoff=cutoff,
        label_delay_days=label_delay_days,
        share=share,
        chunks=chunks,
        whole_share=whole_share,
    )
    targets = _read_targets(connection, reads)
    late_frauds = _read_late_frauds(connection, reads, targets)
    reports = _read_fraud_reports(connection, reads)
    halves = _Halves()
    with tempfile.TemporaryDirectory(prefix="fraud-history-") as scratch:
        histories = _spill_histories(connection, reads, chunks, Path(scratch))
        logger.info(
            "read %d customer and %d terminal history rows for %d targets in %.1f s",
            histories.customer_rows,
            histories.terminal_rows,
            len(targets.rows),
            watch.seconds,
        )
        for chunk in range(chunks):
            _add_chunk(
                halves,
                chunk,
                targets=targets,
                histories=histories,
                late_frauds=late_frauds,
                reports=reports,
                label_delay_days=label_delay_days,
            )
            logger.info("features of chunk %d/%d built, %.1f s", chunk + 1, chunks, watch.seconds)
    frame = _assemble(targets, halves)
    history_rows = histories.customer_rows + histories.terminal_rows if len(targets.rows) else 0
    return TargetFeatures(frame, history_rows, chunks)
