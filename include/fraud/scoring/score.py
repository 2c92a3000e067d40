"""Batch scoring of one day: each share streams its features in chunks, is predicted and replaced
in one transaction; once every share is in, the day's top k become alerts and the day is published.

The nightly DAG runs :func:`score_share` as mapped tasks, then :func:`mark_top_k`;
:func:`score_day` runs the very same two steps in one transaction (``fraud score``).

Readers never see a day half scored (``sql/V025__publish_scored_days.sql``): shares write the
day's next generation of rows beside the published one, and :func:`mark_top_k` publishes it in
``scoring.scored_day`` and deletes the rows it supersedes, in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud.bulk import copy_arrow, copy_out_chunks, inline, read_frame
from fraud.dates import day_interval, utc
from fraud.features.columns import FEATURE_COLUMNS
from fraud.model.registry import RegisteredModel
from fraud.partitions import ensure_partitions
from fraud.scoring.predict import REASON_SLOTS, explain, reason_columns, score_frame
from fraud.shares import WHOLE, Share, all_shares

logger = logging.getLogger(__name__)
_SHARE_SCORED = (
    "scored %s, %s, with version %d: %s rows, %d alerts over the threshold, %d chunks, %.1f s"
)
_PUBLISHED = "published %s (generation %d) with its top %d: %d new alerts, %d in all, %.1f s"

# The share's validated rows of the day with their features; amounts and times as the exact
# text the tables hold, so they are written back unchanged. COPY takes no bind parameters:
# the %(name)s values are inlined by the driver.
FEATURES_OF_SHARE = """
select f.*, t.tx_amount::text as tx_amount_exact, f.tx_datetime::text as tx_datetime_exact
from staging.transaction_features as f
join staging.transactions as t using (transaction_id)
where f.tx_datetime >= %(start)s and f.tx_datetime < %(end)s
  and staging.share_of(f.customer_id, %(share_count)s) = %(share_index)s
"""

# The generation readers see; 0, the rows' default, for a day never published.
_PUBLISHED_GENERATION = """
select coalesce(max(generation), 0) from scoring.scored_day where tx_date = :day
"""

# The share's rows of the next generation, which an earlier run may have left unpublished.
_DELETE_SHARE = """
delete from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and staging.share_of(customer_id, :share_count) = :share_index
"""

_HAS_GENERATION = """
select exists (
    select 1 from scoring.transaction_scores
    where tx_datetime >= :start and tx_datetime < :end and generation = :generation
)
"""

# Published rows that no share of the next generation replaced: a run of the same day that
# published in between took a share's rows of this run with it, and kept its own for them.
_CARRY_OVER = """
update scoring.transaction_scores as published
set generation = :generation
where published.tx_datetime >= :start and published.tx_datetime < :end
  and published.generation = :published
  and not exists (
      select 1 from scoring.transaction_scores as next
      where next.tx_datetime >= :start and next.tx_datetime < :end
        and next.generation = :generation
        and next.transaction_id = published.transaction_id
        and next.tx_datetime = published.tx_datetime
  )
"""

_DELETE_SUPERSEDED = """
delete from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation <> :generation
"""

_PUBLISH = """
insert into scoring.scored_day (tx_date, generation, published_at)
values (:day, :generation, now())
on conflict (tx_date) do update
set generation = excluded.generation, published_at = excluded.published_at
"""

# The day's top k by score, ties broken by transaction id, as the single-batch ranking did.
_TOP_K_OF_INTERVAL = """
select transaction_id, is_alert
from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
order by score desc, transaction_id
limit :top_k
"""

# Alerts only the top k made, which a re-scored share may have pushed out of it.
_CLEAR_STALE_TOP_K = """
update scoring.transaction_scores
set is_alert = false,
    reason_1 = null, reason_1_contribution = null,
    reason_2 = null, reason_2_contribution = null,
    reason_3 = null, reason_3_contribution = null
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and is_alert and score < :threshold and transaction_id <> all(:keep)
"""

_FEATURES_OF_IDS = """
select * from staging.transaction_features
where tx_datetime >= :start and tx_datetime < :end and transaction_id = any(:ids)
order by transaction_id
"""

_MARK_ALERT = """
update scoring.transaction_scores
set is_alert = true,
    reason_1 = :reason_1, reason_1_contribution = :reason_1_contribution,
    reason_2 = :reason_2, reason_2_contribution = :reason_2_contribution,
    reason_3 = :reason_3, reason_3_contribution = :reason_3_contribution
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and transaction_id = :transaction_id
"""

_COUNT_ALERTS = """
select count(*) from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation = :generation and is_alert
"""


@dataclass(frozen=True)
class ScoreOutcome:
    """Counts for the run ledger and XCom."""

    scored_count: int
    alert_count: int
    model_version: int


@dataclass(frozen=True)
class TopKOutcome:
    """The day's alerts once its top k are marked."""

    alert_count: int
    model_version: int


def lock_scope(interval_start: datetime) -> str:
    """The advisory-lock scope of a day's scores.

    Marking the top k rewrites rows of every share, so it holds the whole day before it touches
    a row: a lock of its own would deadlock with a whole-day run that holds the day and its new
    rows while it waits to mark its own top k. (Runs of one day with different share counts at
    once are not serialised.)
    """
    return f"scoring:{interval_start.isoformat()}"


def scored_day(interval_start: datetime, interval_end: datetime) -> date:
    """The UTC day an interval scores: a day is published whole, so an interval is one day."""
    day = utc(interval_start).date()
    if (utc(interval_start), utc(interval_end)) != day_interval(day):
        raise ValueError(
            f"scores are published by UTC day: [{interval_start.isoformat()},"
            f" {interval_end.isoformat()}) is not one"
        )
    return day


def published_generation(connection: Connection, day: date) -> int:
    """The generation of the day's scores that readers see (0 for a day never published)."""
    return int(connection.execute(sa.text(_PUBLISHED_GENERATION), {"day": day}).scalar_one())


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


def features_query(
    connection: Connection, interval_start: datetime, interval_end: datetime, share: Share
) -> str:
    """The select of the share's rows and features, its parameters inlined for COPY."""
    bounds = {"start": interval_start, "end": interval_end}
    return inline(connection, FEATURES_OF_SHARE, {**bounds, **share.params})


def stream_features(
    engine: Engine,
    interval_start: datetime,
    interval_end: datetime,
    share: Share,
    chunk_rows: int,
) -> Generator[pd.DataFrame, None, None]:
    """The share's validated rows of the interval with their features, chunk by chunk."""
    with engine.connect() as connection:
        query = features_query(connection, interval_start, interval_end, share)
        types = _feature_types(list(FEATURE_COLUMNS))
        for table in copy_out_chunks(connection, query, types, chunk_rows):
            yield _frame(table)


def _copy_scores(connection: Connection, result: pd.DataFrame, generation: int) -> int:
    """COPY one chunk of scores, as rows of ``generation``, in the caller's transaction."""
    table = pa.Table.from_pandas(result, preserve_index=False)
    table = table.append_column(
        "generation", pa.repeat(pa.scalar(generation, pa.int32()), len(table))
    )
    return copy_arrow(connection, table, "scoring.transaction_scores")


def score_share(
    engine: Engine,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    alert_threshold: float,
    share: Share = WHOLE,
    chunk_rows: int = 200_000,
    connection: Connection | None = None,
) -> ScoreOutcome:
    """Replace the share's scores of the day's next generation in one transaction, in chunks.

    Rows at or above the threshold are alerts with reason codes here; the day's top k is a
    property of the whole day and is marked afterwards by :func:`mark_top_k`, which also makes
    the rows visible.
    """
    day = scored_day(interval_start, interval_end)
    ensure_partitions(engine, interval_start, interval_end)
    # Inside the caller's transaction when it gives one (a whole day), else in one of its own.
    with nullcontext(connection) if connection is not None else engine.begin() as writing:
        window = {"start": interval_start, "end": interval_end}
        share.lock(writing, lock_scope(interval_start))
        # Read under the lock: a day is published only by a holder of the whole day.
        generation = published_generation(writing, day) + 1
        writing.execute(
            sa.text(_DELETE_SHARE), {**window, **share.params, "generation": generation}
        )
        scored = alerts = number = 0
        started = chunk_started = time.perf_counter()
        chunks = stream_features(engine, interval_start, interval_end, share, chunk_rows)
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
                written = writer.submit(_copy_scores, writing, result, generation)
                scored += len(result)
                alerts += int(result["is_alert"].sum())
                number, rows = number + 1, f"{len(result):,}"
                seconds, chunk_started = time.perf_counter() - chunk_started, time.perf_counter()
                logger.info(
                    "scored chunk %d of %s: %s rows in %.1f s", number, share, rows, seconds
                )
            if written is not None:
                written.result()
        seconds = time.perf_counter() - started
        logger.info(
            _SHARE_SCORED, day, share, model.version, f"{scored:,}", alerts, number, seconds
        )
        return ScoreOutcome(scored_count=scored, alert_count=alerts, model_version=model.version)


def publish_next(
    connection: Connection, day: date, interval_start: datetime, interval_end: datetime
) -> int:
    """Make the day's next generation the one readers see, if it has rows; return the visible one.

    The caller holds the whole day. Published rows that the next generation lacks join it, then
    the rows it supersedes are deleted, all in the caller's transaction.
    """
    published = published_generation(connection, day)
    window = {"start": interval_start, "end": interval_end, "generation": published + 1}
    if not connection.execute(sa.text(_HAS_GENERATION), window).scalar_one():
        return published
    connection.execute(sa.text(_CARRY_OVER), {**window, "published": published})
    connection.execute(sa.text(_DELETE_SUPERSEDED), window)
    connection.execute(sa.text(_PUBLISH), {"day": day, "generation": published + 1})
    return published + 1


def mark_top_k(
    connection: Connection,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    alert_threshold: float,
    alert_top_k: int,
) -> int:
    """Publish the day's next generation, its ``alert_top_k`` highest scores made alerts with
    reason codes; count alerts.

    Without rows of a next generation (the top k of a published day marked again), the
    published generation is marked again.
    """
    started = time.perf_counter()
    day = scored_day(interval_start, interval_end)
    WHOLE.lock(connection, lock_scope(interval_start))
    window = {
        "start": interval_start,
        "end": interval_end,
        "generation": publish_next(connection, day, interval_start, interval_end),
    }
    top = connection.execute(sa.text(_TOP_K_OF_INTERVAL), {**window, "top_k": alert_top_k})
    ranked = top.fetchall()
    keep = [row.transaction_id for row in ranked]
    connection.execute(
        sa.text(_CLEAR_STALE_TOP_K), {**window, "threshold": alert_threshold, "keep": keep}
    )
    new_ids = [row.transaction_id for row in ranked if not row.is_alert]
    if new_ids:
        frame = read_frame(connection, _FEATURES_OF_IDS, {**window, "ids": new_ids})
        reasons = explain(model, frame, REASON_SLOTS)
        connection.execute(
            sa.text(_MARK_ALERT),
            [
                {**window, "transaction_id": int(transaction_id), **reason_columns(row_reasons)}
                for transaction_id, row_reasons in zip(
                    frame["transaction_id"], reasons, strict=True
                )
            ],
        )
    alerts = int(connection.execute(sa.text(_COUNT_ALERTS), window).scalar_one())
    seconds = time.perf_counter() - started
    logger.info(_PUBLISHED, day, window["generation"], alert_top_k, len(new_ids), alerts, seconds)
    return alerts


def score_day(
    engine: Engine,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    alert_threshold: float,
    alert_top_k: int,
    shares: int = 1,
    chunk_rows: int = 200_000,
) -> ScoreOutcome:
    """Every share, then the top k, as the nightly DAG runs them, in one transaction.

    A killed or failed run leaves the day as it was; a finished one has replaced all of it.
    """
    with engine.begin() as connection:
        # The whole day first: the shares' own locks then never wait on another run's.
        WHOLE.lock(connection, lock_scope(interval_start))
        scored = 0
        for share in all_shares(shares):
            outcome = score_share(
                engine,
                model,
                interval_start=interval_start,
                interval_end=interval_end,
                run_id=run_id,
                alert_threshold=alert_threshold,
                share=share,
                chunk_rows=chunk_rows,
                connection=connection,
            )
            scored += outcome.scored_count
        alerts = mark_top_k(
            connection,
            model,
            interval_start=interval_start,
            interval_end=interval_end,
            alert_threshold=alert_threshold,
            alert_top_k=alert_top_k,
        )
    return ScoreOutcome(scored_count=scored, alert_count=alerts, model_version=model.version)
