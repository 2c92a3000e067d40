"""Batch scoring of one interval: stream features, predict, pick alerts, explain them, swap atomically."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud import features
from fraud.db import copy_arrow, read_frame
from fraud.registry import RegisteredModel

REASON_SLOTS = 3
SCORE_COLUMNS = (
    "transaction_id",
    "tx_datetime",
    "customer_id",
    "terminal_id",
    "tx_amount",
    "score",
    "model_name",
    "model_version",
    "is_alert",
    "reason_1",
    "reason_1_contribution",
    "reason_2",
    "reason_2_contribution",
    "reason_3",
    "reason_3_contribution",
    "run_id",
)

# A customer's partition: stable across runs and servers, so a re-run replaces the same rows.
_PARTITION_OF_CUSTOMER = "mod(hashint8({column})::bigint + 2147483648, {partitions})"

_FEATURES_OF_PARTITION = """
select f.*, t.tx_amount::text as tx_amount_exact, f.tx_datetime::text as tx_datetime_exact
from staging.transaction_features as f
join staging.transactions as t using (transaction_id)
where f.tx_datetime >= {start} and f.tx_datetime < {end}
  and {partition} = {index}
"""

_DELETE_PARTITION = """
delete from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and {partition} = :index
"""

# The day's top k by score, ties broken by transaction id, as the single-batch ranking did.
_TOP_K_OF_INTERVAL = """
select transaction_id, is_alert
from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end
order by score desc, transaction_id
limit :top_k
"""

# Alerts only the top k made, which a re-scored partition may have pushed out of it.
_CLEAR_STALE_TOP_K = """
update scoring.transaction_scores
set is_alert = false,
    reason_1 = null, reason_1_contribution = null,
    reason_2 = null, reason_2_contribution = null,
    reason_3 = null, reason_3_contribution = null
where tx_datetime >= :start and tx_datetime < :end
  and is_alert and score < :threshold and transaction_id <> all(:keep)
"""

_FEATURES_OF_IDS = """
select * from staging.transaction_features where transaction_id = any(:ids) order by transaction_id
"""

_MARK_ALERT = """
update scoring.transaction_scores
set is_alert = true,
    reason_1 = :reason_1, reason_1_contribution = :reason_1_contribution,
    reason_2 = :reason_2, reason_2_contribution = :reason_2_contribution,
    reason_3 = :reason_3, reason_3_contribution = :reason_3_contribution
where transaction_id = :transaction_id
"""

# Two runs of the same rows (a retry beside a manual re-run, overlapping backfills) queue on
# these locks instead of both deleting the old rows and then colliding on the new rows' keys.
# A whole-day writer holds the day exclusively; shares hold it shared and their own share
# exclusively. (Runs of one day with different share counts at once are not serialised.)
# Marking the top k rewrites rows of every share, so it too holds the day exclusively, before
# it touches a row: a lock of its own would deadlock with a whole-day run that holds the day
# and its new rows while it waits to mark its own top k.
_LOCK = "select pg_advisory_xact_lock(hashtextextended(:key, 0))"
_LOCK_SHARED = "select pg_advisory_xact_lock_shared(hashtextextended(:key, 0))"

# Text columns pass through untouched, so amounts and timestamps are written back exactly.
_TEXT_COLUMNS = ("tx_amount_exact", "tx_datetime_exact")


@dataclass(frozen=True)
class Partition:
    """One share of a day's customers: ``index`` of ``count``, by a hash of the customer id."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} of {self.count} does not exist")

    def lock(self, connection: Connection, interval_start: datetime) -> None:
        """Wait until no other transaction writes these rows of the interval, then hold them."""
        day = f"scoring:{interval_start.isoformat()}"
        if self.count == 1:
            connection.execute(sa.text(_LOCK), {"key": day})
            return
        connection.execute(sa.text(_LOCK_SHARED), {"key": day})
        connection.execute(sa.text(_LOCK), {"key": f"{day}:{self.index}/{self.count}"})

    def predicate(self, column: str = "customer_id") -> str:
        """SQL that is true for the rows of this partition."""
        return _PARTITION_OF_CUSTOMER.format(column=column, partitions=self.count)


WHOLE_DAY = Partition()


@dataclass(frozen=True)
class ScoreOutcome:
    """Counts for the run ledger and XCom."""

    scored_count: int
    alert_count: int
    model_version: int


def alert_mask(scores: np.ndarray, threshold: float, top_k: int) -> np.ndarray:
    """Alert when the score reaches the threshold or is among the ``top_k`` highest of the batch."""
    mask = scores >= threshold
    if top_k > 0 and len(scores):
        top = np.argsort(-scores, kind="stable")[:top_k]
        mask[top] = True
    return mask


def top_reasons(
    contributions: np.ndarray, names: list[str], count: int
) -> list[list[tuple[str, float]]]:
    """For each row, the ``count`` features with the largest positive contribution to the score."""
    per_feature = contributions[:, : len(names)]
    order = np.argsort(-per_feature, axis=1, kind="stable")[:, :count]
    reasons: list[list[tuple[str, float]]] = []
    for row, columns in zip(per_feature, order, strict=True):
        reasons.append(
            [(names[column], float(row[column])) for column in columns if row[column] > 0]
        )
    return reasons


def predict(model: RegisteredModel, frame: pd.DataFrame) -> np.ndarray:
    """Scores of a feature frame, in its row order (by the compiled model when there is one)."""
    columns = frame[model.booster.feature_name()]
    if model.predictor is not None:
        return model.predictor(columns.to_numpy(dtype=np.float64))
    return model.booster.predict(columns)


def explain(
    model: RegisteredModel, frame: pd.DataFrame, count: int
) -> list[list[tuple[str, float]]]:
    """Reason codes of each row: TreeSHAP contributions (``pred_contrib``), strongest first."""
    names = model.booster.feature_name()
    contributions = model.booster.predict(frame[names], pred_contrib=True)
    return top_reasons(contributions, names, count)


def reason_columns(reasons: list[tuple[str, float]]) -> dict[str, object]:
    """One row's reasons as the score table's ``reason_N`` / ``reason_N_contribution`` values."""
    columns: dict[str, object] = {}
    for position in range(1, REASON_SLOTS + 1):
        name, value = reasons[position - 1] if position <= len(reasons) else (None, None)
        columns[f"reason_{position}"] = name
        columns[f"reason_{position}_contribution"] = value
    return columns


def _reason_arrays(
    size: int, rows: np.ndarray, reasons: list[list[tuple[str, float]]]
) -> dict[str, np.ndarray]:
    """The ``reason_N`` / ``reason_N_contribution`` columns: reasons at ``rows``, empty elsewhere."""
    columns: dict[str, np.ndarray] = {}
    for position in range(1, REASON_SLOTS + 1):
        columns[f"reason_{position}"] = np.full(size, None, dtype=object)
        columns[f"reason_{position}_contribution"] = np.full(size, np.nan)
    for row, row_reasons in zip(rows, reasons, strict=True):
        for position, (name, value) in enumerate(row_reasons[:REASON_SLOTS], start=1):
            columns[f"reason_{position}"][row] = name
            columns[f"reason_{position}_contribution"][row] = value
    return columns


def score_frame(
    model: RegisteredModel,
    frame: pd.DataFrame,
    *,
    run_id: str,
    alert_threshold: float,
    alert_top_k: int,
    reason_count: int = REASON_SLOTS,
) -> pd.DataFrame:
    """Score rows of the features table and attach alerts and reason codes (alerts only)."""
    scores = predict(model, frame)
    alerts = alert_mask(scores, alert_threshold, alert_top_k)
    result = pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"].to_numpy(),
            # Text passes through as it came (Arrow-backed when streamed): no Python objects.
            "tx_datetime": frame["tx_datetime"].array,
            "customer_id": frame["customer_id"].to_numpy(),
            "terminal_id": frame["terminal_id"].to_numpy(),
            "tx_amount": frame["tx_amount_exact"].array,
            "score": np.clip(scores, 0.0, 1.0),
            "model_name": model.name,
            "model_version": model.version,
            "is_alert": alerts,
        }
    )
    reasons = explain(model, frame.loc[alerts], reason_count) if alerts.any() else []
    for column, values in _reason_arrays(len(frame), np.flatnonzero(alerts), reasons).items():
        result[column] = values
    result["run_id"] = run_id
    return result[list(SCORE_COLUMNS)]


def _feature_types(names: list[str]) -> dict[str, pa.DataType]:
    """The streamed columns scoring reads, typed so that no chunk can change them.

    Only these are converted: parsing the select's other columns would cost as much again.
    """
    types: dict[str, pa.DataType] = {name: pa.float64() for name in names}
    types.update({name: pa.int64() for name in ("transaction_id", "customer_id", "terminal_id")})
    types.update({name: pa.string() for name in ("tx_datetime", "tx_amount_exact")})
    return types


def _frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame of an Arrow table whose text columns stay Arrow strings, not objects."""
    return table.to_pandas(types_mapper={pa.string(): pd.ArrowDtype(pa.string())}.get)


def _copy_out_chunks(
    dbapi_connection: object, statement: str, types: dict[str, pa.DataType], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """Stream a ``COPY ... TO STDOUT`` result as frames of ``chunk_rows`` rows (the last fewer).

    The server writes into a pipe from a helper thread while this generator parses it, so at
    most one chunk and one parsed block (and the pipe's buffer) are in memory, whatever the
    size of the result.
    """
    read_end, write_end = os.pipe()
    reader, writer = os.fdopen(read_end, "rb"), os.fdopen(write_end, "wb")
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            with dbapi_connection.cursor() as cursor:  # type: ignore[attr-defined]
                cursor.copy_expert(statement, writer)
        except BaseException as error:  # handed over to the reading side below
            failure.append(error)
        finally:
            writer.close()

    thread = threading.Thread(target=pump, name="score-copy-out", daemon=True)
    thread.start()
    try:
        batches = pa_csv.open_csv(
            reader,
            read_options=pa_csv.ReadOptions(block_size=4 << 20),
            convert_options=pa_csv.ConvertOptions(column_types=types, include_columns=list(types)),
        )
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for batch in batches:
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= chunk_rows:
                # A parsed block may hold many chunks: slice it (zero-copy) into chunks.
                table = pa.Table.from_batches(pending)
                yield _frame(table.slice(0, chunk_rows))
                rest = table.slice(chunk_rows)
                pending, pending_rows = rest.to_batches(), rest.num_rows
        if pending_rows:
            yield _frame(pa.Table.from_batches(pending))
    except pa.ArrowInvalid:
        reader.close()
        thread.join()
        if failure:
            raise failure[0] from None
        raise
    finally:
        reader.close()
        thread.join()
    if failure:
        raise failure[0]


def features_query(
    dbapi_connection: object,
    interval_start: datetime,
    interval_end: datetime,
    partition: Partition,
) -> str:
    """The select of the partition's rows and features, bounds inlined (COPY takes no parameters)."""
    with dbapi_connection.cursor() as cursor:  # type: ignore[attr-defined]
        start = cursor.mogrify("%s", (interval_start,)).decode()
        end = cursor.mogrify("%s", (interval_end,)).decode()
    return _FEATURES_OF_PARTITION.format(
        start=start,
        end=end,
        partition=partition.predicate("f.customer_id"),
        index=partition.index,
    )


def features_copy(query: str) -> str:
    """The ``COPY ... TO STDOUT`` that streams a features select as CSV with a header."""
    return f"copy ({query}) to stdout with (format csv, header)"


def stream_features(
    engine: Engine,
    interval_start: datetime,
    interval_end: datetime,
    partition: Partition,
    feature_names: list[str],
    chunk_rows: int,
) -> Iterator[pd.DataFrame]:
    """The partition's validated rows of the interval with their features, chunk by chunk."""
    with engine.connect() as connection:
        dbapi_connection = connection.connection.dbapi_connection
        query = features_query(dbapi_connection, interval_start, interval_end, partition)
        yield from _copy_out_chunks(
            dbapi_connection, features_copy(query), _feature_types(feature_names), chunk_rows
        )


def _copy_scores(connection: Connection, result: pd.DataFrame) -> int:
    """COPY one chunk of scores into the score table, in the caller's transaction."""
    table = pa.Table.from_pandas(result, preserve_index=False)
    return copy_arrow(connection, table, "scoring.transaction_scores")


def score_partition(
    engine: Engine,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    alert_threshold: float,
    partition: Partition = WHOLE_DAY,
    chunk_rows: int = 200_000,
    connection: Connection | None = None,
) -> ScoreOutcome:
    """Replace the partition's scores of the interval in one transaction, streaming in chunks.

    Rows at or above the threshold are alerts with reason codes here; the day's top k is a
    property of the whole day and is marked afterwards by :func:`mark_top_k`.
    """
    # Inside the caller's transaction when it gives one (a whole day), else in one of its own.
    with nullcontext(connection) if connection is not None else engine.begin() as writing:
        window = {"start": interval_start, "end": interval_end}
        partition.lock(writing, interval_start)
        writing.execute(
            sa.text(_DELETE_PARTITION.format(partition=partition.predicate())),
            {**window, "index": partition.index},
        )
        scored = alerts = 0
        chunks = stream_features(
            engine,
            interval_start,
            interval_end,
            partition,
            list(features.FEATURE_COLUMNS),
            chunk_rows,
        )
        # Closed on any error too, so the reading connection and its thread end with this call.
        # The writer loads one chunk while the next is scored: the server's COPY and the model's
        # predictions run on different cores, and at most two chunks of scores are in memory.
        with closing(chunks), ThreadPoolExecutor(1, thread_name_prefix="score-copy-in") as writer:
            written: Future[int] | None = None
            for chunk in chunks:
                result = score_frame(
                    model, chunk, run_id=run_id, alert_threshold=alert_threshold, alert_top_k=0
                )
                if written is not None:
                    written.result()
                written = writer.submit(_copy_scores, writing, result)
                scored += len(result)
                alerts += int(result["is_alert"].sum())
            if written is not None:
                written.result()
        return ScoreOutcome(scored_count=scored, alert_count=alerts, model_version=model.version)


def mark_top_k(
    connection: Connection,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    alert_threshold: float,
    alert_top_k: int,
) -> int:
    """Make the day's ``alert_top_k`` highest scores alerts, with reason codes; count alerts."""
    window = {"start": interval_start, "end": interval_end}
    WHOLE_DAY.lock(connection, interval_start)
    top = connection.execute(sa.text(_TOP_K_OF_INTERVAL), {**window, "top_k": alert_top_k})
    ranked = top.fetchall()
    keep = [row.transaction_id for row in ranked]
    connection.execute(
        sa.text(_CLEAR_STALE_TOP_K), {**window, "threshold": alert_threshold, "keep": keep}
    )
    new_ids = [row.transaction_id for row in ranked if not row.is_alert]
    if new_ids:
        frame = read_frame(connection, _FEATURES_OF_IDS, {"ids": new_ids})
        reasons = explain(model, frame, REASON_SLOTS)
        connection.execute(
            sa.text(_MARK_ALERT),
            [
                {"transaction_id": int(transaction_id), **reason_columns(row_reasons)}
                for transaction_id, row_reasons in zip(
                    frame["transaction_id"], reasons, strict=True
                )
            ],
        )
    count = connection.execute(
        sa.text(
            "select count(*) from scoring.transaction_scores"
            " where tx_datetime >= :start and tx_datetime < :end and is_alert"
        ),
        window,
    )
    return int(count.scalar_one())


def score_interval(
    engine: Engine,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    alert_threshold: float,
    alert_top_k: int,
    chunk_rows: int = 200_000,
) -> ScoreOutcome:
    """Score the interval's validated rows and replace the interval's scores in one transaction."""
    with engine.begin() as connection:
        outcome = score_partition(
            engine,
            model,
            interval_start=interval_start,
            interval_end=interval_end,
            run_id=run_id,
            alert_threshold=alert_threshold,
            chunk_rows=chunk_rows,
            connection=connection,
        )
        alerts = mark_top_k(
            connection,
            model,
            interval_start=interval_start,
            interval_end=interval_end,
            alert_threshold=alert_threshold,
            alert_top_k=alert_top_k,
        )
    return ScoreOutcome(
        scored_count=outcome.scored_count, alert_count=alerts, model_version=model.version
    )
