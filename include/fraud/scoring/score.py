"""Batch scoring of one day: each share streams its features in chunks, is predicted and replaced
in one transaction; once every share is in, the night's alerts are chosen per card by the review
budget's policy and the day is published.

The nightly DAG runs :func:`score_share` as mapped tasks, then :func:`mark_top_k`
(:mod:`fraud.scoring.alerts`); :func:`score_day` runs the very same two steps in one transaction
(``fraud score``). Shares write the day's next generation of rows beside the published one, and
:func:`mark_top_k` publishes it (:mod:`fraud.scoring.generations`): readers never see a day half
scored.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud.bulk import copy_arrow, copy_out_chunks, inline
from fraud.features.columns import FEATURE_COLUMNS
from fraud.model.alert_policy import AlertPolicy
from fraud.model.registry import RegisteredModel
from fraud.partitions import ensure_partitions
from fraud.scoring.alerts import TopKOutcome, mark_top_k
from fraud.scoring.generations import published_generation, scored_day, scoring_lock_key
from fraud.scoring.predict import score_frame
from fraud.shares import WHOLE, Share, all_shares
from fraud.timing import Stopwatch

# The day's alerts live in fraud.scoring.alerts; named here too, where the nightly steps are.
__all__ = ["ScoreOutcome", "TopKOutcome", "mark_top_k", "score_day", "score_share"]

logger = logging.getLogger(__name__)
_SHARE_SCORED = "scored %s, %s, with version %d: %s rows, %d chunks, %.1f s"

# The share's validated rows of the day with their features; amounts and times as the exact
# text the tables hold, so they are written back unchanged. COPY takes no bind parameters:
# the %(name)s values are inlined by the driver.
FEATURES_OF_SHARE_SQL = """
select f.*, t.tx_amount::text as tx_amount_exact, f.tx_datetime::text as tx_datetime_exact
from staging.transaction_features as f
join staging.transactions as t using (transaction_id)
where f.tx_datetime >= %(start)s and f.tx_datetime < %(end)s
  and staging.share_of(f.customer_id, %(share_count)s) = %(share_index)s
"""

# The share's rows of the next generation, which an earlier run may have left unpublished.
_DELETE_SHARE_SQL = """
delete from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and staging.share_of(customer_id, :share_count) = :share_index
"""


@dataclass(frozen=True)
class ScoreOutcome:
    """Counts for the run ledger and XCom."""

    scored_count: int
    alert_count: int
    model_version: int


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
    return inline(connection, FEATURES_OF_SHARE_SQL, {**bounds, **share.params})


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
    share: Share = WHOLE,
    chunk_rows: int = 200_000,
    connection: Connection | None = None,
) -> ScoreOutcome:
    """Replace the share's scores of the day's next generation in one transaction, in chunks.

    No row is an alert yet: alerts are chosen per card over the whole night afterwards by
    :func:`mark_top_k`, which also makes the rows visible.
    """
    day = scored_day(interval_start, interval_end)
    ensure_partitions(engine, interval_start, interval_end)
    # Inside the caller's transaction when it gives one (a whole day), else in one of its own.
    with nullcontext(connection) if connection is not None else engine.begin() as writing:
        window = {"start": interval_start, "end": interval_end}
        share.lock(writing, scoring_lock_key(interval_start))
        # Read under the lock: a day is published only by a holder of the whole day.
        generation = published_generation(writing, day) + 1
        writing.execute(
            sa.text(_DELETE_SHARE_SQL), {**window, **share.params, "generation": generation}
        )
        scored = number = 0
        watch = Stopwatch()
        chunks = stream_features(engine, interval_start, interval_end, share, chunk_rows)
        # Closed on any error too, so the reading connection and its thread end with this call.
        # The writer loads one chunk while the next is scored: the server's COPY and the model's
        # predictions run on different cores, and at most two chunks of scores are in memory.
        with closing(chunks), ThreadPoolExecutor(1, thread_name_prefix="score-copy-in") as writer:
            written: Future[int] | None = None
            for chunk in chunks:
                result = score_frame(model, chunk, run_id=run_id)
                if written is not None:
                    written.result()
                written = writer.submit(_copy_scores, writing, result, generation)
                scored += len(result)
                number, rows = number + 1, f"{len(result):,}"
                logger.info(
                    "scored chunk %d of %s: %s rows in %.1f s", number, share, rows, watch.lap()
                )
            if written is not None:
                written.result()
        logger.info(_SHARE_SCORED, day, share, model.version, f"{scored:,}", number, watch.stop())
        return ScoreOutcome(scored_count=scored, alert_count=0, model_version=model.version)


def score_day(
    engine: Engine,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    policy: AlertPolicy,
    shares: int = 1,
    chunk_rows: int = 200_000,
    review_cooldown_days: int = 0,
) -> ScoreOutcome:
    """Every share, then the night's alerts by ``policy``, as the nightly DAG runs them, in one
    transaction.

    A killed or failed run leaves the day as it was; a finished one has replaced all of it.
    """
    with engine.begin() as connection:
        # The whole day first: the shares' own locks then never wait on another run's.
        WHOLE.lock(connection, scoring_lock_key(interval_start))
        scored = 0
        for share in all_shares(shares):
            outcome = score_share(
                engine,
                model,
                interval_start=interval_start,
                interval_end=interval_end,
                run_id=run_id,
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
            policy=policy,
            review_cooldown_days=review_cooldown_days,
        )
    return ScoreOutcome(scored_count=scored, alert_count=alerts, model_version=model.version)
