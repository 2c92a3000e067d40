"""Point-in-time transaction features: one code path builds them for training and for scoring.

Every feature of a transaction at time ``t`` uses only what the bank knew when the nightly
batch scored it: the customer's transactions up to ``t``, the terminal's transactions before
``t - label_delay_days`` (and, for the count and age of its reported frauds, its frauds before
``t``) and the fraud labels reported before the end of ``t``'s UTC day.
Rows after ``t`` and labels reported later may be present in the inputs; they are ignored,
so a multi-day training call and day-by-day scoring calls give the same features.

A transaction's customer features depend only on its customer's rows, and its terminal
features only on its terminal's rows and their labels. So the two halves can be computed from
two different histories, each holding the targets: the rows of a share of the customers, and
the rows of the terminals those targets used (:func:`assemble`). That is how the nightly step
and retraining bound their memory by a share; :func:`build_features` gives both halves the same
history and is the reference they are tested against.

The windows are computed without a per-row loop over rows sorted by (entity, time)
(:mod:`fraud.features.timeline`): window edges are found with ``np.searchsorted`` and sums with
cumulative sums, in whole cents so that they are exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud.features.columns import FEATURE_COLUMNS, KEY_COLUMNS, LONGEST_WINDOW_DAYS, WINDOWS_DAYS
from fraud.features.rows import KnownFrauds, Rows, TargetIds
from fraud.features.timeline import Clock, Timeline, make_clock, make_timeline

_DAY_NS = 86_400 * 1_000_000_000
_RECENT_DAYS = 7
_NIGHT_LAST_HOUR = 6
# A payment this many times the card's older mean counts as far above its habit; the newest
# rows of a window that are compared, which bounds the work per target.
_LARGE_RATIO = 3.0
_LARGE_ROWS = 64
CUSTOMER_COLUMNS: tuple[str, ...] = tuple(
    column for column in FEATURE_COLUMNS if column.startswith(("customer_", "amount_to_"))
)
TERMINAL_COLUMNS: tuple[str, ...] = tuple(
    column for column in FEATURE_COLUMNS if column.startswith("terminal_")
)


def label_cutoff(tx_datetime: pd.Series) -> pd.Series:
    """The moment of scoring of each transaction: the end of its UTC day."""
    return pd.to_datetime(tx_datetime, utc=True).dt.floor("D") + pd.Timedelta(days=1)


def _cumulative(values: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading zero, so ``total[hi] - total[lo]`` sums rows lo..hi-1."""
    return np.concatenate(([0], np.cumsum(values)))


def _summableamounts(amount: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Amounts and their squares in whole cents when they are, so window sums are exact.

    Sums of floats depend on what else the frame holds; integer sums do not, which keeps
    a multi-day training call and the nightly scoring calls equal to the last bit.
    """
    cents = np.rint(amount * 100.0)
    squares = cents * cents
    if np.all(np.abs(amount * 100.0 - cents) < 1e-6) and np.sum(squares) < 2**62:
        whole = cents.astype(np.int64)
        return whole, whole * whole, 100.0
    return amount, amount * amount, 1.0


def _zscore(amount: np.ndarray, mean: np.ndarray, mean_square: np.ndarray) -> np.ndarray:
    """How many standard deviations ``amount`` lies from the window's mean; 0 without spread."""
    std = np.sqrt(np.maximum(mean_square - mean * mean, 0.0))
    # Below a cent of spread the window is one repeated amount: no scale to measure against.
    spread = std > 0.01
    return np.divide(amount - mean, std, out=np.zeros_like(std), where=spread)


def _customer_features(
    rows: Rows, timeline: Timeline, clock: Clock, targets: np.ndarray
) -> dict[str, np.ndarray]:
    """Counts, mean amounts and gap to the previous transaction over the customer's past."""
    amount = rows.amount
    summable, squares, scale = _summableamounts(amount)
    total = _cumulative(summable[timeline.order])
    total_square = _cumulative(squares[timeline.order])
    t = rows.ns[targets]
    target_rank = clock.rank[targets]
    first_same = timeline.position(target_rank, side="left")
    hi = timeline.position(target_rank, side="right")
    lows = {
        # (t - w, t]: from the first row after t - w days.
        days: timeline.position(clock.rank_of(t - days * _DAY_NS, side="right"), side="left")
        for days in WINDOWS_DAYS
    }
    features: dict[str, np.ndarray] = {}
    for days, lo in lows.items():
        count = (hi - lo).astype(np.float64)
        features[f"customer_tx_count_{days}d"] = count
        features[f"customer_mean_amount_{days}d"] = (total[hi] - total[lo]) / scale / count
    lo, longest = lows[LONGEST_WINDOW_DAYS], f"{LONGEST_WINDOW_DAYS}d"
    mean = features[f"customer_mean_amount_{longest}"]
    mean_square = (total_square[hi] - total_square[lo]) / (scale * scale) / (hi - lo)
    features[f"amount_to_customer_mean_{longest}"] = amount[targets] / mean
    features[f"customer_amount_zscore_{longest}"] = _zscore(amount[targets], mean, mean_square)
    # A stolen card's recent payments inflate the recent mean; the older weeks hold the habit.
    recent = lows[_RECENT_DAYS]
    older = (recent - lo).astype(np.float64)
    older_mean = np.divide(
        (total[recent] - total[lo]) / scale, older, out=mean.copy(), where=older > 0
    )
    features["amount_to_customer_older_mean"] = amount[targets] / older_mean
    # A stolen card's spree: how many of its payments of the last day and week, this one
    # included, lie far above its older habit.
    # The day is the newest part of the week: one pass over the week's newest rows counts both.
    sorted_amount = amount[timeline.order]
    threshold = _LARGE_RATIO * older_mean
    spans = {days: hi - lows[days] for days in (1, _RECENT_DAYS)}
    large = {days: np.zeros(len(targets), dtype=np.float64) for days in spans}
    for offset in range(min(int(spans[_RECENT_DAYS].max(initial=0)), _LARGE_ROWS)):
        newest = sorted_amount[np.maximum(hi - 1 - offset, 0)] > threshold
        for days, span in spans.items():
            large[days] += (offset < span) & newest
    for days, count in large.items():
        features[f"customer_large_payment_count_{days}d"] = count
    previous_row = timeline.order[np.maximum(first_same - 1, 0)]
    has_previous = (first_same > 0) & (timeline.codes[previous_row] == timeline.target_codes)
    cap = float(LONGEST_WINDOW_DAYS * 86_400)
    gap = np.where(has_previous, (t - rows.ns[previous_row]) / 1e9, cap)
    # Another transaction at the same instant is a gap of zero; history older than the
    # longest window is not guaranteed to be loaded, so the gap never exceeds it.
    gap = np.where(hi - first_same > 1, 0.0, gap)
    features["customer_seconds_since_previous"] = np.minimum(gap, cap)
    return features


def _fraud_ages(
    t: np.ndarray, lo: np.ndarray, hi: np.ndarray, known_position: np.ndarray, sorted_ns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Days from the oldest and from the newest known fraud in [lo, hi) to ``t``; NaN if none."""
    if len(known_position) == 0:
        return np.full(len(t), np.nan), np.full(len(t), np.nan)
    first = np.searchsorted(known_position, lo)
    last = np.searchsorted(known_position, hi) - 1
    found = last >= first
    oldest_ns = sorted_ns[known_position[np.where(found, first, 0)]]
    newest_ns = sorted_ns[known_position[np.where(found, last, 0)]]
    return (
        np.where(found, (t - oldest_ns) / _DAY_NS, np.nan),
        np.where(found, (t - newest_ns) / _DAY_NS, np.nan),
    )


def _terminal_features(
    rows: Rows,
    timeline: Timeline,
    clock: Clock,
    targets: np.ndarray,
    frauds: KnownFrauds,
    label_delay_days: int,
) -> dict[str, np.ndarray]:
    """Known frauds, their share and their age among the terminal's rows in delayed windows."""
    t = rows.ns[targets]
    window_end = t - label_delay_days * _DAY_NS
    hi = timeline.position(clock.rank_of(window_end, side="left"), side="left")
    lows = {
        # [t - d - w, t - d): from the first row at or after t - d - w days.
        days: timeline.position(clock.rank_of(window_end - days * _DAY_NS, "left"), "left")
        for days in WINDOWS_DAYS
    }
    sorted_ns = rows.ns[timeline.order]
    sorted_index = np.empty(len(rows), dtype=np.int64)
    sorted_index[timeline.order] = np.arange(len(rows))
    fraud_position = sorted_index[frauds.row]
    fraud_order = np.argsort(fraud_position)
    fraud_position = fraud_position[fraud_order]
    reported = frauds.reported_ns[fraud_order]
    # Undelayed: the payments of [t - 30 d, t) whose fraud was reported by the scoring time,
    # which the delayed windows miss for up to a day (a compromise's first reported fraud).
    reported_hi = timeline.position(clock.rank_of(t, side="left"), side="left")
    reported_lo = timeline.position(
        clock.rank_of(t - LONGEST_WINDOW_DAYS * _DAY_NS, side="left"), side="left"
    )
    known = {days: np.zeros(len(targets), dtype=np.float64) for days in WINDOWS_DAYS}
    oldest, newest = np.full(len(targets), np.nan), np.full(len(targets), np.nan)
    reported_count = np.zeros(len(targets), dtype=np.float64)
    reported_newest = np.full(len(targets), np.nan)
    target_day = t // _DAY_NS
    for day in pd.unique(target_day):
        on_day = target_day == day
        # Frauds reported before this day's batch ran (its label_cutoff), in terminal order.
        known_position = fraud_position[reported < (day + 1) * _DAY_NS]
        upper = np.searchsorted(known_position, hi[on_day])
        for days, lo in lows.items():
            known[days][on_day] = upper - np.searchsorted(known_position, lo[on_day])
        oldest[on_day], newest[on_day] = _fraud_ages(
            t[on_day], lows[LONGEST_WINDOW_DAYS][on_day], hi[on_day], known_position, sorted_ns
        )
        reported_count[on_day] = np.searchsorted(
            known_position, reported_hi[on_day]
        ) - np.searchsorted(known_position, reported_lo[on_day])
        _, reported_newest[on_day] = _fraud_ages(
            t[on_day], reported_lo[on_day], reported_hi[on_day], known_position, sorted_ns
        )
    features: dict[str, np.ndarray] = {}
    for days, lo in lows.items():
        size = (hi - lo).astype(np.float64)
        features[f"terminal_tx_count_{days}d"] = size
        features[f"terminal_fraud_count_{days}d"] = known[days]
        features[f"terminal_fraud_risk_{days}d"] = np.divide(
            known[days], size, out=np.zeros_like(size), where=size > 0
        )
    # A compromise lasts weeks: how long ago it began and whether it is still going on.
    # Without a known fraud the ages take the far edge of the window.
    edge = float(label_delay_days + LONGEST_WINDOW_DAYS)
    features["terminal_fraud_oldest_days"] = np.nan_to_num(oldest, nan=edge)
    features["terminal_fraud_newest_days"] = np.nan_to_num(newest, nan=edge)
    features[f"terminal_reported_fraud_count_{LONGEST_WINDOW_DAYS}d"] = reported_count
    features["terminal_reported_fraud_newest_days"] = np.nan_to_num(
        reported_newest, nan=float(LONGEST_WINDOW_DAYS)
    )
    return features


def _calendar_features(ns: np.ndarray) -> dict[str, np.ndarray]:
    """Weekend and night flags in UTC."""
    moments = pd.DatetimeIndex(pd.to_datetime(ns, utc=True))
    return {
        "is_weekend": np.asarray(moments.dayofweek >= 5, dtype=np.float64),
        "is_night": np.asarray(moments.hour <= _NIGHT_LAST_HOUR, dtype=np.float64),
    }


def _sorted(rows: Rows, targets: np.ndarray) -> tuple[Clock, np.ndarray]:
    """The clock of a history and each row's target slot (-1 for history only)."""
    target_slot = np.full(len(rows), -1, dtype=np.int64)
    target_slot[targets] = np.arange(len(targets))
    return make_clock(rows.ns, target_slot), target_slot


def customer_features(rows: Rows, target_ids: TargetIds) -> dict[str, np.ndarray]:
    """The customer half of the features of the targets, from their customers' rows."""
    targets = rows.targets(target_ids)
    clock, slot = _sorted(rows, targets)
    timeline = make_timeline(rows.customer_id, clock, targets, slot)
    return _customer_features(rows, timeline, clock, targets)


def terminal_features(
    rows: Rows, frauds: KnownFrauds, target_ids: TargetIds, label_delay_days: int
) -> dict[str, np.ndarray]:
    """The terminal half of the features of the targets, from their terminals' rows and frauds."""
    targets = rows.targets(target_ids)
    clock, slot = _sorted(rows, targets)
    timeline = make_timeline(rows.terminal_id, clock, targets, slot)
    return _terminal_features(rows, timeline, clock, targets, frauds, label_delay_days)


def features_frame(targets: Rows, halves: dict[str, np.ndarray]) -> pd.DataFrame:
    """The feature rows of ``targets`` (in transaction_id order) from the customer and terminal
    halves computed for them, aligned with them."""
    features = {"tx_amount": targets.amount, **halves, **_calendar_features(targets.ns)}
    return _frame(targets, np.arange(len(targets)), features)


def assemble(
    customers: Rows,
    terminals: Rows,
    frauds: KnownFrauds,
    target_ids: TargetIds,
    label_delay_days: int,
) -> pd.DataFrame:
    """The features of the targets from two histories that both hold them: the rows of the
    targets' customers and the rows of the targets' terminals, with the latter's frauds."""
    targets = customers.take(customers.targets(target_ids))
    ids = targets.transaction_id
    halves = customer_features(customers, ids)
    halves |= terminal_features(terminals, frauds, ids, label_delay_days)
    return features_frame(targets, halves)


def _frame(rows: Rows, targets: np.ndarray, features: dict[str, np.ndarray]) -> pd.DataFrame:
    """The key columns and every feature column, in the table's order."""
    result = pd.DataFrame(
        {
            "transaction_id": rows.transaction_id[targets],
            "tx_datetime": pd.to_datetime(rows.ns[targets], utc=True),
            "customer_id": rows.customer_id[targets],
            "terminal_id": rows.terminal_id[targets],
        }
    )
    for column in FEATURE_COLUMNS:
        result[column] = np.asarray(features[column], dtype=np.float64)
    return result[[*KEY_COLUMNS, *FEATURE_COLUMNS]]


def build_features(
    transactions: pd.DataFrame,
    labels: pd.DataFrame,
    target_ids: TargetIds,
    label_delay_days: int,
) -> pd.DataFrame:
    """Features of the target transactions (all when target_ids is None), the rest as history."""
    rows = Rows.of(transactions)
    targets = rows.targets(target_ids)
    clock, slot = _sorted(rows, targets)
    customer_timeline = make_timeline(rows.customer_id, clock, targets, slot)
    terminal_timeline = make_timeline(rows.terminal_id, clock, targets, slot)
    frauds = KnownFrauds.from_labels(rows, labels)
    features = {"tx_amount": rows.amount[targets]}
    features |= _customer_features(rows, customer_timeline, clock, targets)
    features |= _terminal_features(
        rows, terminal_timeline, clock, targets, frauds, label_delay_days
    )
    features |= _calendar_features(rows.ns[targets])
    return _frame(rows, targets, features)
