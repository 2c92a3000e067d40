"""Point-in-time transaction features: one function builds them for training and for scoring.

Every feature of a transaction at time ``t`` uses only what the bank knew when the nightly
batch scored it: the customer's transactions up to ``t``, the terminal's transactions before
``t - label_delay_days`` and the fraud labels reported before the end of ``t``'s UTC day.
Rows after ``t`` and labels reported later may be present in the inputs; they are ignored,
so a multi-day training call and day-by-day scoring calls give the same features.

The windows are computed without a per-row loop: rows are sorted by (entity, time) under one
int64 key (dense entity code times the number of distinct timestamps plus the timestamp's
rank), window edges are found with ``np.searchsorted`` and sums with cumulative sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

KEY_COLUMNS: tuple[str, ...] = ("transaction_id", "tx_datetime", "customer_id", "terminal_id")
WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30)
FEATURE_COLUMNS: tuple[str, ...] = (
    "tx_amount",
    *(f"customer_tx_count_{days}d" for days in WINDOWS_DAYS),
    *(f"customer_mean_amount_{days}d" for days in WINDOWS_DAYS),
    "amount_to_customer_mean_30d",
    "customer_seconds_since_previous",
    *(f"terminal_fraud_count_{days}d" for days in WINDOWS_DAYS),
    *(f"terminal_fraud_risk_{days}d" for days in WINDOWS_DAYS),
    "is_weekend",
    "is_night",
)

_DAY_NS = 86_400 * 1_000_000_000
_LONGEST_WINDOW_DAYS = max(WINDOWS_DAYS)
_NIGHT_LAST_HOUR = 6


def history_start(interval_start: datetime, label_delay_days: int) -> datetime:
    """Earliest tx_datetime a batch starting at interval_start needs in its history."""
    return interval_start - timedelta(days=_LONGEST_WINDOW_DAYS + label_delay_days)


def label_cutoff(tx_datetime: pd.Series) -> pd.Series:
    """The moment of scoring of each transaction: the end of its UTC day."""
    return pd.to_datetime(tx_datetime, utc=True).dt.floor("D") + pd.Timedelta(days=1)


def _epoch_ns(values: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch of timestamps, read as UTC."""
    return pd.to_datetime(values, utc=True).dt.as_unit("ns").astype("int64").to_numpy()


def _search(
    haystack: np.ndarray, needles: np.ndarray, needle_order: np.ndarray, side: str
) -> np.ndarray:
    """``np.searchsorted`` with the needles visited in sorted order, much faster on big inputs."""
    found = np.empty(len(needles), dtype=np.int64)
    found[needle_order] = np.searchsorted(haystack, needles[needle_order], side=side)
    return found


def _targets_along(row_order: np.ndarray, target_slot: np.ndarray) -> np.ndarray:
    """Target indices in the order their rows take in ``row_order``."""
    slots = target_slot[row_order]
    return slots[slots >= 0]


@dataclass(frozen=True)
class _Clock:
    """The distinct timestamps of the input: any moment becomes a rank among them."""

    times: np.ndarray  # sorted distinct timestamps, epoch ns
    rank: np.ndarray  # rank of every input row's timestamp in ``times``
    target_order: np.ndarray  # target indices sorted by time

    def rank_of(self, moments: np.ndarray, side: str) -> np.ndarray:
        """Rank of one moment per target; the moments must rise with the target's time."""
        return _search(self.times, moments, self.target_order, side)


def _clock(ns: np.ndarray, target_slot: np.ndarray) -> _Clock:
    """Rank the timestamps of all rows."""
    order = np.argsort(ns)
    sorted_ns = ns[order]
    is_new = np.ones(len(ns), dtype=bool)
    is_new[1:] = sorted_ns[1:] != sorted_ns[:-1]
    rank = np.empty(len(ns), dtype=np.int64)
    rank[order] = np.cumsum(is_new) - 1
    return _Clock(sorted_ns[is_new], rank, _targets_along(order, target_slot))


@dataclass(frozen=True)
class _Timeline:
    """Rows sorted by (entity, time) under one int64 key: entity code * n_times + time rank."""

    order: np.ndarray  # input rows in (entity, time) order
    keys: np.ndarray  # the sorted keys
    codes: np.ndarray  # entity code of every input row
    n_times: int
    target_codes: np.ndarray  # entity code of every target
    target_order: np.ndarray  # target indices in (entity, time) order

    def position(self, rank: np.ndarray, side: str) -> np.ndarray:
        """Index in ``keys`` where each target's entity reaches the given time rank."""
        needles = self.target_codes * self.n_times + rank
        return _search(self.keys, needles, self.target_order, side)


def _timeline(
    entity: np.ndarray, clock: _Clock, targets: np.ndarray, target_slot: np.ndarray
) -> _Timeline:
    """Sort the rows by entity, then time."""
    codes = pd.factorize(entity)[0].astype(np.int64)
    n_times = len(clock.times)
    combined = codes * n_times + clock.rank
    # Rows with equal keys share entity and timestamp, so their relative order never matters.
    order = np.argsort(combined)
    target_order = _targets_along(order, target_slot)
    return _Timeline(order, combined[order], codes, n_times, codes[targets], target_order)


def _amounts(values: pd.Series) -> np.ndarray:
    """Amounts as float64, whether they arrive as floats or Decimals."""
    return np.asarray(values, dtype=np.float64)


def _cumulative(values: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading zero, so ``total[hi] - total[lo]`` sums rows lo..hi-1."""
    return np.concatenate(([0], np.cumsum(values)))


def _summable_amounts(amount: np.ndarray) -> tuple[np.ndarray, float]:
    """Amounts in whole cents when they are, so window sums are exact; else as floats."""
    cents = np.rint(amount * 100.0)
    if np.all(np.abs(amount * 100.0 - cents) < 1e-6) and np.all(np.abs(cents) < 2**52):
        return cents.astype(np.int64), 100.0
    return amount, 1.0


def _customer_features(
    frame: pd.DataFrame, timeline: _Timeline, clock: _Clock, targets: np.ndarray
) -> dict[str, np.ndarray]:
    """Counts, mean amounts and gap to the previous transaction over the customer's past."""
    amount = frame["tx_amount"].to_numpy()
    summable, scale = _summable_amounts(amount)
    total = _cumulative(summable[timeline.order])
    t = frame["tx_datetime_ns"].to_numpy()[targets]
    target_rank = clock.rank[targets]
    first_same = timeline.position(target_rank, side="left")
    hi = timeline.position(target_rank, side="right")
    features: dict[str, np.ndarray] = {}
    for days in WINDOWS_DAYS:
        # (t - w, t]: from the first row after t - w days.
        lo = timeline.position(clock.rank_of(t - days * _DAY_NS, side="right"), side="left")
        count = (hi - lo).astype(np.float64)
        features[f"customer_tx_count_{days}d"] = count
        features[f"customer_mean_amount_{days}d"] = (total[hi] - total[lo]) / scale / count
    features["amount_to_customer_mean_30d"] = (
        amount[targets] / features[f"customer_mean_amount_{_LONGEST_WINDOW_DAYS}d"]
    )
    previous_row = timeline.order[np.maximum(first_same - 1, 0)]
    has_previous = (first_same > 0) & (timeline.codes[previous_row] == timeline.target_codes)
    cap = float(_LONGEST_WINDOW_DAYS * 86_400)
    gap = np.where(has_previous, (t - frame["tx_datetime_ns"].to_numpy()[previous_row]) / 1e9, cap)
    # Another transaction at the same instant is a gap of zero; history older than the
    # longest window is not guaranteed to be loaded, so the gap never exceeds it.
    gap = np.where(hi - first_same > 1, 0.0, gap)
    features["customer_seconds_since_previous"] = np.minimum(gap, cap)
    return features


def _known_frauds(frame: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Input rows labelled fraudulent, with the moment each label was reported (ns)."""
    if labels.empty:
        return pd.DataFrame({"row": np.empty(0, np.int64), "reported_ns": np.empty(0, np.int64)})
    fraud = labels.loc[labels["is_fraud"].astype(bool), ["transaction_id", "reported_at"]]
    rows = pd.Series(np.arange(len(frame)), index=frame["transaction_id"].to_numpy())
    fraud = fraud[fraud["transaction_id"].isin(rows.index)]
    return pd.DataFrame(
        {
            "row": rows.loc[fraud["transaction_id"].to_numpy()].to_numpy(),
            "reported_ns": _epoch_ns(fraud["reported_at"]),
        }
    )


def _terminal_features(
    frame: pd.DataFrame,
    timeline: _Timeline,
    clock: _Clock,
    targets: np.ndarray,
    frauds: pd.DataFrame,
    label_delay_days: int,
) -> dict[str, np.ndarray]:
    """Known frauds and their share among the terminal's transactions in delayed windows."""
    t = frame["tx_datetime_ns"].to_numpy()[targets]
    window_end = t - label_delay_days * _DAY_NS
    hi = timeline.position(clock.rank_of(window_end, side="left"), side="left")
    lows = {
        # [t - d - w, t - d): from the first row at or after t - d - w days.
        days: timeline.position(clock.rank_of(window_end - days * _DAY_NS, "left"), "left")
        for days in WINDOWS_DAYS
    }
    sorted_index = np.empty(len(frame), dtype=np.int64)
    sorted_index[timeline.order] = np.arange(len(frame))
    fraud_position = sorted_index[frauds["row"].to_numpy()]
    fraud_order = np.argsort(fraud_position)
    fraud_position = fraud_position[fraud_order]
    reported = frauds["reported_ns"].to_numpy()[fraud_order]
    known = {days: np.zeros(len(targets), dtype=np.float64) for days in WINDOWS_DAYS}
    target_day = t // _DAY_NS
    for day in pd.unique(target_day):
        on_day = target_day == day
        # Frauds reported before this day's batch ran (its label_cutoff), in terminal order.
        known_position = fraud_position[reported < (day + 1) * _DAY_NS]
        upper = np.searchsorted(known_position, hi[on_day])
        for days, lo in lows.items():
            known[days][on_day] = upper - np.searchsorted(known_position, lo[on_day])
    features: dict[str, np.ndarray] = {}
    for days, lo in lows.items():
        size = (hi - lo).astype(np.float64)
        features[f"terminal_fraud_count_{days}d"] = known[days]
        features[f"terminal_fraud_risk_{days}d"] = np.divide(
            known[days], size, out=np.zeros_like(size), where=size > 0
        )
    return features


def _calendar_features(tx_datetime: pd.Series) -> dict[str, np.ndarray]:
    """Weekend and night flags in UTC."""
    return {
        "is_weekend": (tx_datetime.dt.dayofweek >= 5).to_numpy(dtype=np.float64),
        "is_night": (tx_datetime.dt.hour <= _NIGHT_LAST_HOUR).to_numpy(dtype=np.float64),
    }


def _normalise(transactions: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of the transactions with a UTC timestamp and its epoch nanoseconds."""
    if transactions["transaction_id"].duplicated().any():
        raise ValueError("transactions contain duplicate transaction_id values")
    frame = pd.DataFrame(
        {
            "transaction_id": transactions["transaction_id"].to_numpy(dtype=np.int64),
            "tx_datetime": pd.to_datetime(transactions["tx_datetime"], utc=True)
            .dt.as_unit("ns")
            .reset_index(drop=True),
            "customer_id": transactions["customer_id"].to_numpy(dtype=np.int64),
            "terminal_id": transactions["terminal_id"].to_numpy(dtype=np.int64),
            "tx_amount": _amounts(transactions["tx_amount"]),
        }
    )
    frame["tx_datetime_ns"] = _epoch_ns(frame["tx_datetime"])
    return frame


def _target_rows(frame: pd.DataFrame, target_ids: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """Positions of the target transactions in the frame, in transaction_id order."""
    if target_ids is None:
        rows = np.arange(len(frame))
    else:
        ids = pd.unique(np.asarray(target_ids, dtype=np.int64))
        rows = np.flatnonzero(frame["transaction_id"].isin(ids).to_numpy())
        if len(rows) != len(ids):
            missing = len(ids) - len(rows)
            raise ValueError(f"{missing} target transaction ids are not in the transactions")
    return rows[np.argsort(frame["transaction_id"].to_numpy()[rows], kind="stable")]


def build_features(
    transactions: pd.DataFrame,
    labels: pd.DataFrame,
    target_ids: Sequence[int] | np.ndarray | None,
    label_delay_days: int,
) -> pd.DataFrame:
    """Features of the target transactions (all when target_ids is None), the rest as history."""
    frame = _normalise(transactions)
    targets = _target_rows(frame, target_ids)
    target_slot = np.full(len(frame), -1, dtype=np.int64)
    target_slot[targets] = np.arange(len(targets))
    clock = _clock(frame["tx_datetime_ns"].to_numpy(), target_slot)
    customers = _timeline(frame["customer_id"].to_numpy(), clock, targets, target_slot)
    terminals = _timeline(frame["terminal_id"].to_numpy(), clock, targets, target_slot)
    frauds = _known_frauds(frame, labels)
    target_frame = frame.iloc[targets]
    features = {"tx_amount": target_frame["tx_amount"].to_numpy()}
    features |= _customer_features(frame, customers, clock, targets)
    features |= _terminal_features(frame, terminals, clock, targets, frauds, label_delay_days)
    features |= _calendar_features(target_frame["tx_datetime"])
    result = target_frame[list(KEY_COLUMNS)].reset_index(drop=True)
    for column in FEATURE_COLUMNS:
        result[column] = np.asarray(features[column], dtype=np.float64)
    return result
