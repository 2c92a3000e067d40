"""A simulation into the warehouse: transactions and labels copied into ``raw.*``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.bulk import copy_frame
from fraud.payments import TRANSACTION_COLUMNS
from fraud.simulation.generate import LABEL_COLUMNS, Simulation
from fraud.timing import Stopwatch

_NEXT_TRANSACTION_ID_SQL = "select coalesce(max(transaction_id), 0) + 1 from raw.transactions"


def _iso_utc(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Render a UTC timestamp column as ISO-8601 text, much faster to COPY than pandas' own."""
    values = frame[column].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    text = np.char.add(np.datetime_as_string(values, unit="us"), "Z")
    return frame.assign(**{column: text})


def _silent(message: str) -> None:
    """No progress lines: what a caller that reports nothing passes."""


def write_simulation(
    connection: Connection, simulation: Simulation, progress: Callable[[str], None] = _silent
) -> tuple[int, int]:
    """COPY transactions and labels into ``raw.*`` in the caller's transaction; return counts.

    Labels whose transaction is not in the simulation are left out, so every stored label
    points at a stored transaction. A simulation without the bank columns writes the Handbook's
    five only (the table leaves the others null, and a warehouse older than them takes it).
    ``progress`` receives a line after each table.
    """
    watch = Stopwatch()
    present = [column for column in TRANSACTION_COLUMNS if column in simulation.transactions]
    transactions = simulation.transactions[present]
    labels = simulation.labels[LABEL_COLUMNS]
    labels = labels[labels["transaction_id"].isin(transactions["transaction_id"])]
    written_transactions = copy_frame(
        connection, _iso_utc(transactions, "tx_datetime"), "raw.transactions"
    )
    progress(
        f"copied {written_transactions:,} transactions into raw.transactions"
        f" in {watch.seconds:.1f} s"
    )
    written_labels = copy_frame(connection, _iso_utc(labels, "reported_at"), "raw.fraud_labels")
    progress(f"copied {written_labels:,} labels into raw.fraud_labels in {watch.seconds:.1f} s")
    return written_transactions, written_labels


def next_transaction_id(connection: Connection) -> int:
    """The id the next simulated transaction should take: one above the largest stored."""
    return int(connection.execute(sa.text(_NEXT_TRANSACTION_ID_SQL)).scalar_one())
