"""Labelled features of a time window for training and validation, from a sample of its cards.

A payment's label is whether it was known as fraud before the cut-off (:mod:`fraud.labels`: a
report known by then wins, else the latest verdict; ``genuine_confirmed`` is a verified genuine,
``unreachable`` no label). Training reads every reported fraud and a seeded share of the other
payments, drawn by card (``staging.sample_of`` of the customer, the same cards on every run of
one seed): a card's other payments are all read or none. Each row carries the weight that undoes
the sampling, one over its chance of being read (1 for a reported fraud, 1/share for the others),
so weighted fits and metrics estimate what the whole window would give. The sampling and the
weights are the reported labels' alone: an investigator's verdict changes the label of a row
that is read, never which rows are read nor their weight (verdicts exist only for top-ranked
cards, and weighting them apart would bias the calibration). Drawing cards rather than payments
keeps card precision meaningful: a genuine card that is read has its true daily highest score.

The sample's history is read once and built in chunks of about ``chunk_rows`` payments
(:mod:`fraud.features.history`): memory holds one chunk's history and the sample, never the
window's history.

Cards already known as compromised are marked, not dropped (:func:`known_card_rows`): a card
with a fraud known (reported, or confirmed by an investigator) before a row's day began would be
blocked, and CP@100 leaves its rows out as the evaluation protocol leaves them out of its test set.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraud.bulk import copy_out_table, inline
from fraud.features.history import target_features
from fraud.features.history_queries import TARGETS, TARGETS_TABLE, new_targets
from fraud.labels import frauds_known_before, reported_labels_before
from fraud.shares import WHOLE
from fraud.timing import Stopwatch

logger = logging.getLogger(__name__)

# The payments of [start, end) with their label as of the cut-off: every reported fraud, and the
# payments of a share of the cards, each with the weight that undoes the sampling. The sampling
# and the weight are the reported labels' (a verdict exists only for top-ranked cards); the label
# is what was known before the cut-off, reported or found by an investigator.
_SAMPLE_SQL = f"""
create temporary table {TARGETS_TABLE} on commit drop as
select t.transaction_id,
       (extract(epoch from t.tx_datetime) * 1000000)::bigint as tx_us,
       t.customer_id, t.terminal_id, (t.tx_amount * 100)::bigint as amount_cents,
       label.transaction_id is not null as is_fraud,
       case when reported.is_fraud then 1.0 else :genuine_weight end as weight
from raw.transactions as t
left join (
    select distinct transaction_id, true as is_fraud
    from {reported_labels_before(":cutoff")} as labels
    where is_fraud
) as reported using (transaction_id)
left join {frauds_known_before(":start", ":cutoff")} as label using (transaction_id)
where t.tx_datetime >= :start and t.tx_datetime < :end
  and not exists (
      select 1 from quality.quarantine as q
      where q.transaction_id = t.transaction_id and q.resolved_at is null
  )
  and (reported.is_fraud or staging.sample_of(t.customer_id, :seed) < :genuine_fraction)
"""
_TARGET_LABELS_SQL = f"select transaction_id, is_fraud, weight from {TARGETS}"
_LABEL_TYPES = {"transaction_id": pa.int64(), "is_fraud": pa.bool_(), "weight": pa.float64()}

# The moment each card became known as compromised: the first moment one of its payments since
# ``since`` was known as fraud (reported, or by an investigator's verdict), among the frauds
# known before the bound. A label follows its payment, so the labels' indexes bound the read to
# that time: one row per card.
_CARDS_KNOWN_AT_SQL = f"""
select t.customer_id, (extract(epoch from min(known.known_at)) * 1000000)::bigint as known_us
from {frauds_known_before("%(since)s", "%(before)s")} as known
join raw.transactions as t using (transaction_id)
where t.tx_datetime >= %(since)s
group by t.customer_id
"""
_KNOWN_TYPES = {"customer_id": pa.int64(), "known_us": pa.int64()}
# The moment each card had its first fraud reported (reports only, never a verdict: a verdict is
# an alert's own doing, where a report comes whether the card was alerted or not), among the
# reports before the bound on its payments since ``since``. What an alert can prevent ends there.
_CARDS_REPORTED_AT_SQL = f"""
select t.customer_id, (extract(epoch from min(reported.known_at)) * 1000000)::bigint as known_us
from {reported_labels_before("%(before)s")} as reported
join raw.transactions as t using (transaction_id)
where reported.is_fraud and reported.known_at >= %(since)s and t.tx_datetime >= %(since)s
group by t.customer_id
"""

# Genuine payments of a window (at most: frauds not yet reported count among them).
_WINDOW_ROWS_SQL = """
select count(*) from raw.transactions where tx_datetime >= :start and tx_datetime < :end
"""


@dataclass(frozen=True)
class Sampling:
    """Which genuine payments training reads: those of a share of the cards, by a seeded hash."""

    genuine_fraction: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.genuine_fraction <= 1.0:
            raise ValueError(f"the genuine share must be in (0, 1], not {self.genuine_fraction}")

    @property
    def genuine_weight(self) -> float:
        """The weight of a genuine payment read: how many payments of the window it stands for."""
        return 1.0 / self.genuine_fraction


ALL = Sampling()


def sampling_for(rows: int, *, share: float, min_rows: int, max_rows: int, seed: int) -> Sampling:
    """The sampling of a window of ``rows`` payments.

    The configured ``share``, raised so that about ``min_rows`` payments are read when the window
    holds that many (all of a smaller one: the drift reference and the validation metrics need
    enough cards), then lowered so that at most about ``max_rows`` are (memory and time stay
    bounded whatever the daily volume).
    """
    rows = max(rows, 1)
    chosen = min(max(share, min(1.0, min_rows / rows)), max_rows / rows, 1.0)
    return Sampling(genuine_fraction=max(chosen, 1e-6), seed=seed)


@dataclass(frozen=True)
class WindowRead:
    """What reading a window took: rows kept, history rows read, chunks and seconds."""

    rows: int
    frauds: int
    history_rows: int
    chunks: int
    seconds: float


def window_rows(connection: Connection, start: datetime, end: datetime) -> int:
    """All payments of a window, from the index: the most the genuine ones can be."""
    return int(
        connection.execute(sa.text(_WINDOW_ROWS_SQL), {"start": start, "end": end}).scalar_one()
    )


def cards_known_at(connection: Connection, *, since: datetime, before: datetime) -> pd.Series:
    """When each card with a fraud on a payment since ``since`` had its first fraud known,
    among the frauds known before ``before``; by customer id."""
    return _card_moments(connection, _CARDS_KNOWN_AT_SQL, since=since, before=before)


def cards_reported_at(connection: Connection, *, since: datetime, before: datetime) -> pd.Series:
    """When each card with a fraud on a payment since ``since`` had its first fraud reported,
    among the reports before ``before``; by customer id."""
    return _card_moments(connection, _CARDS_REPORTED_AT_SQL, since=since, before=before)


def _card_moments(
    connection: Connection, sql: str, *, since: datetime, before: datetime
) -> pd.Series:
    """One moment per card, by customer id, from a ``(customer_id, known_us)`` select."""
    query = inline(connection, sql, {"since": since, "before": before})
    table = copy_out_table(connection, query, _KNOWN_TYPES)
    return pd.Series(
        pd.to_datetime(table.column("known_us").to_numpy() * 1000, utc=True),
        index=table.column("customer_id").to_numpy(),
    )


def known_cards(frame: pd.DataFrame, known_at: pd.Series) -> np.ndarray:
    """True for the rows whose card became known (``known_at`` by customer id, from
    :func:`cards_known_at`) before the row's UTC day began."""
    day_start = pd.to_datetime(frame["tx_datetime"], utc=True).dt.floor("D")
    card_known_at = frame["customer_id"].map(known_at)
    return (card_known_at.notna() & (card_known_at < day_start)).to_numpy()


def known_card_rows(
    connection: Connection, frame: pd.DataFrame, *, cutoff: datetime, lookback_days: int
) -> np.ndarray:
    """The frame's ``card_known``: the row's card had a fraud known before the row's UTC day
    began and before ``cutoff``, on a payment of the ``lookback_days`` days before the frame's
    first day or since. CP@100 leaves these rows out
    (:func:`fraud.model.metrics.card_precision_at_k`)."""
    if frame.empty:
        return np.zeros(0, dtype=bool)
    days = pd.to_datetime(frame["tx_datetime"], utc=True).dt.floor("D")
    since = days.min().to_pydatetime() - timedelta(days=lookback_days)
    # A report from the last day's start on marks no row.
    before = min(cutoff, days.max().to_pydatetime())
    known_at = cards_known_at(connection, since=since, before=before)
    return known_cards(frame, known_at)


def _labels(connection: Connection) -> pd.DataFrame:
    table = copy_out_table(connection, inline(connection, _TARGET_LABELS_SQL, {}), _LABEL_TYPES)
    return pd.DataFrame(
        {
            "transaction_id": table.column("transaction_id").to_numpy(),
            "is_fraud": table.column("is_fraud").to_numpy(zero_copy_only=False).astype(np.int8),
            "weight": table.column("weight").to_numpy(),
        }
    )


def labelled_window(
    engine: Engine,
    *,
    start: datetime,
    end: datetime,
    cutoff: datetime,
    label_delay_days: int,
    sampling: Sampling,
    chunk_rows: int,
) -> tuple[pd.DataFrame, WindowRead]:
    """The window's sampled payments with their features, label and weight, in transaction order.

    The sample's history is read once and built in chunks of about ``chunk_rows`` payments.
    """
    watch = Stopwatch()
    params = {
        "start": start,
        "end": end,
        "cutoff": cutoff,
        "seed": sampling.seed,
        "genuine_fraction": sampling.genuine_fraction,
        "genuine_weight": sampling.genuine_weight,
    }
    with engine.begin() as connection:
        rows = new_targets(connection, _SAMPLE_SQL, params)
        built = target_features(
            connection,
            start=start,
            end=end,
            cutoff=cutoff,
            label_delay_days=label_delay_days,
            share=WHOLE,
            chunks=max(1, math.ceil(rows / chunk_rows)),
            whole_share=False,
        )
        frame = built.frame.merge(_labels(connection), on="transaction_id", validate="1:1")
    read = WindowRead(
        rows=len(frame),
        frauds=int(frame["is_fraud"].sum()),
        history_rows=built.history_rows,
        chunks=built.chunks,
        seconds=round(watch.stop(), 3),
    )
    logger.info(
        "window [%s, %s): %d payments (%d frauds) from %d history rows in %d chunks, %.1f s",
        start.date(),
        end.date(),
        read.rows,
        read.frauds,
        read.history_rows,
        read.chunks,
        read.seconds,
    )
    return frame, read
