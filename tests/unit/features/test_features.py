"""Point-in-time features: hand-computed windows, one code path, no label leakage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from fraud.features.build import build_features, label_cutoff
from fraud.features.columns import FEATURE_COLUMNS, KEY_COLUMNS, history_start

# A Wednesday noon: the moment of the hand-computed targets.
T = pd.Timestamp("2026-01-14 12:00", tz="UTC")
DAY = pd.Timedelta(days=1)
DELAY_DAYS = 2
CUSTOMER_TARGET = 6
TERMINAL_TARGET = 18

# (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
HAND_TRANSACTIONS = [
    # Customer 1 on terminal 8: window edges of the customer features.
    (1, T - 30 * DAY, 1, 8, 100.0),  # exactly 30 days back: outside every window
    (2, T - 29 * DAY, 1, 8, 40.0),
    (3, T - 7 * DAY, 1, 8, 20.0),  # exactly 7 days back: only in 30d
    (4, T - DAY, 1, 8, 10.0),  # exactly 1 day back: in 7d and 30d
    (5, T - pd.Timedelta(hours=1), 1, 8, 30.0),
    (CUSTOMER_TARGET, T, 1, 8, 50.0),
    # Terminal 9, delay 2 days: windows [T - 2 - w, T - 2).
    (11, T - 2 * DAY, 3, 9, 1.0),  # the window's end: outside
    (12, T - 3 * DAY, 4, 9, 1.0),  # the 1d window's start: inside
    (13, T - 2.5 * DAY, 5, 9, 1.0),
    (14, T - 9 * DAY, 6, 9, 1.0),  # the 7d window's start: inside
    (15, T - 10 * DAY, 7, 9, 1.0),
    (16, T - 32 * DAY, 3, 9, 1.0),  # the 30d window's start: inside
    (17, T - 33 * DAY, 4, 9, 1.0),
    (TERMINAL_TARGET, T, 2, 9, 5.0),
]
END_OF_T_DAY = pd.Timestamp("2026-01-15", tz="UTC")
HAND_LABELS = [
    (11, True, T - 10 * DAY),
    (12, True, T - 2.5 * DAY),
    (13, False, T - 2 * DAY),
    (14, True, T + pd.Timedelta(hours=6)),  # after the transaction, before its batch ran
    (15, True, END_OF_T_DAY),  # exactly when the batch ran: not known yet
    (16, True, T - 20 * DAY),
    (17, True, T - 20 * DAY),
]


def _transactions(rows: list[tuple]) -> pd.DataFrame:
    """A transactions frame from (id, time, customer, terminal, amount) tuples."""
    columns = ["transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["tx_datetime"] = pd.to_datetime(frame["tx_datetime"], utc=True)
    return frame


def _labels(rows: list[tuple]) -> pd.DataFrame:
    """A labels frame from (id, is_fraud, reported_at) tuples."""
    frame = pd.DataFrame(rows, columns=["transaction_id", "is_fraud", "reported_at"])
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    return frame


def _features_of(transaction_id: int, labels: list[tuple] = HAND_LABELS) -> pd.Series:
    """Features of one hand-example transaction."""
    features = build_features(
        _transactions(HAND_TRANSACTIONS), _labels(labels), [transaction_id], DELAY_DAYS
    )
    return features.iloc[0]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("tx_amount", 50.0),
        ("customer_tx_count_1d", 2.0),
        ("customer_tx_count_7d", 3.0),
        ("customer_tx_count_30d", 5.0),
        ("customer_mean_amount_1d", (30 + 50) / 2),
        ("customer_mean_amount_7d", (10 + 30 + 50) / 3),
        ("customer_mean_amount_30d", (40 + 20 + 10 + 30 + 50) / 5),
        ("amount_to_customer_mean_30d", 50 / 30),
        ("customer_seconds_since_previous", 3600.0),
        # Population standard deviation of 40, 20, 10, 30, 50 is sqrt(200).
        ("customer_amount_zscore_30d", (50 - 30) / np.sqrt(200)),
        # The older weeks (T - 30d, T - 7d] hold 40 and 20.
        ("amount_to_customer_older_mean", 50 / 30),
        ("terminal_fraud_count_30d", 0.0),
        ("terminal_fraud_risk_30d", 0.0),
        # No known fraud on the terminal: both ages sit at the window's far edge.
        ("terminal_fraud_oldest_days", DELAY_DAYS + 30.0),
        ("terminal_fraud_newest_days", DELAY_DAYS + 30.0),
        ("terminal_reported_fraud_count_30d", 0.0),
        ("terminal_reported_fraud_newest_days", 30.0),
        ("is_weekend", 0.0),
        ("is_night", 0.0),
    ],
)
def test_customer_windows_by_hand(column: str, expected: float) -> None:
    assert _features_of(CUSTOMER_TARGET)[column] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        # 1d: 12 (fraud, known) and 13 (genuine).
        ("terminal_fraud_count_1d", 1.0),
        ("terminal_fraud_risk_1d", 1 / 2),
        # 7d: adds 14, reported after the transaction but before its batch.
        ("terminal_fraud_count_7d", 2.0),
        ("terminal_fraud_risk_7d", 2 / 3),
        # 30d: adds 15 (reported at the cut-off: unknown) and 16 (known); 11 and 17 are outside.
        ("terminal_fraud_count_30d", 3.0),
        ("terminal_fraud_risk_30d", 3 / 5),
        ("terminal_tx_count_1d", 2.0),
        ("terminal_tx_count_7d", 3.0),
        ("terminal_tx_count_30d", 5.0),
        # Known frauds in the 30d window: 16 (T - 32d), 14 (T - 9d) and 12 (T - 3d).
        ("terminal_fraud_oldest_days", 32.0),
        ("terminal_fraud_newest_days", 3.0),
        # Undelayed [T - 30d, T): 11 (T - 2d, past the delayed window's end), 12 and 14 are
        # known; 15 is reported at the cut-off and 16, 17 are older than 30 days.
        ("terminal_reported_fraud_count_30d", 3.0),
        ("terminal_reported_fraud_newest_days", 2.0),
        ("customer_tx_count_30d", 1.0),
        ("customer_amount_zscore_30d", 0.0),  # a single amount has no spread
        ("amount_to_customer_older_mean", 1.0),  # no older rows: the 30d mean stands in
        ("customer_seconds_since_previous", 30 * 86_400.0),
    ],
)
def test_terminal_windows_by_hand(column: str, expected: float) -> None:
    assert _features_of(TERMINAL_TARGET)[column] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("gaps_seconds", "expected"),
    [
        ([], 30 * 86_400.0),  # no previous transaction
        ([10], 10.0),
        ([0], 0.0),  # another transaction at the same instant
        ([40 * 86_400], 30 * 86_400.0),  # older than the loaded history is guaranteed
        ([86_400, 5], 5.0),
    ],
)
def test_seconds_since_previous(gaps_seconds: list[int], expected: float) -> None:
    rows = [
        (100 + i, T - pd.Timedelta(seconds=gap), 1, 1, 1.0) for i, gap in enumerate(gaps_seconds)
    ]
    frame = _transactions([*rows, (1, T, 1, 1, 1.0)])
    features = build_features(frame, _labels([]), [1], DELAY_DAYS)
    assert features["customer_seconds_since_previous"].item() == expected


@pytest.mark.parametrize(
    ("moment", "is_weekend", "is_night"),
    [
        ("2026-01-10 06:59", 1.0, 1.0),  # Saturday
        ("2026-01-11 07:00", 1.0, 0.0),  # Sunday
        ("2026-01-12 00:00", 0.0, 1.0),  # Monday
        ("2026-01-16 23:59", 0.0, 0.0),  # Friday
    ],
)
def test_calendar_flags(moment: str, is_weekend: float, is_night: float) -> None:
    features = build_features(_transactions([(1, moment, 1, 1, 1.0)]), _labels([]), None, 0)
    assert (features["is_weekend"].item(), features["is_night"].item()) == (is_weekend, is_night)


def _spree(recent: list[tuple[pd.Timedelta, float]]) -> pd.Series:
    """Features of a card's payment at T of 35.0, after two older payments of 10.0 and
    ``recent`` ones (time before T, amount); its large payments are those above 30.0."""
    rows = [(1, T - 20 * DAY, 1, 1, 10.0), (2, T - 10 * DAY, 1, 1, 10.0)]
    rows += [(3 + i, T - ago, 1, 1, amount) for i, (ago, amount) in enumerate(recent)]
    rows.append((1000, T, 1, 1, 35.0))
    return build_features(_transactions(rows), _labels([]), [1000], DELAY_DAYS).iloc[0]


def test_large_payments_by_hand() -> None:
    features = _spree(
        [
            (3 * DAY, 50.0),  # large, in 7d only
            (DAY, 90.0),  # exactly a day back: in 7d only
            (pd.Timedelta(hours=12), 40.0),  # large
            (pd.Timedelta(hours=1), 30.0),  # exactly 3 times the older mean: not above it
        ]
    )
    # 1d: 40 and the payment itself (35); 7d adds 50 and 90.
    assert features["customer_large_payment_count_1d"] == 2.0
    assert features["customer_large_payment_count_7d"] == 4.0


def test_large_payments_compare_the_newest_rows_only() -> None:
    # 70 large payments in the last hours: the newest 64 (the payment itself included) count.
    features = _spree([(pd.Timedelta(minutes=i + 1), 80.0) for i in range(70)])
    assert features["customer_tx_count_1d"] == 71.0
    assert features["customer_large_payment_count_1d"] == 64.0
    assert features["customer_large_payment_count_7d"] == 64.0


def test_genuine_labels_never_count() -> None:
    genuine = [(tid, False, reported) for tid, _, reported in HAND_LABELS]
    with_genuine = _features_of(TERMINAL_TARGET, genuine)
    without_labels = _features_of(TERMINAL_TARGET, [])
    pd.testing.assert_series_equal(with_genuine, without_labels)
    assert with_genuine["terminal_fraud_count_30d"] == 0.0


def _simulated(seed: int = 3, n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ten days of a few customers and terminals, with timestamp ties and late labels."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-02-01", tz="UTC")
    seconds = rng.integers(0, 10 * 86_400, n)
    seconds[::3] -= seconds[::3] % (6 * 3600)
    transactions = _transactions(
        list(
            zip(
                rng.permutation(n) + 1,
                start + pd.to_timedelta(seconds, unit="s"),
                rng.integers(0, 6, n),
                rng.integers(0, 4, n),
                np.round(rng.uniform(1, 200, n), 2),
                strict=True,
            )
        )
    )
    labelled = transactions.sample(frac=0.4, random_state=seed)
    delay = pd.to_timedelta(rng.integers(0, 4 * 86_400, len(labelled)), unit="s")
    labels = pd.DataFrame(
        {
            "transaction_id": labelled["transaction_id"].to_numpy(),
            "is_fraud": rng.random(len(labelled)) < 0.6,
            "reported_at": (labelled["tx_datetime"] + delay).to_numpy(),
        }
    )
    return transactions, labels


def _days(transactions: pd.DataFrame) -> pd.Series:
    """UTC calendar day of each transaction."""
    return transactions["tx_datetime"].dt.floor("D")


@pytest.mark.parametrize("delay_days", [0, 1, 3])
def test_training_path_equals_scoring_path(delay_days: int) -> None:
    transactions, labels = _simulated()
    days = _days(transactions)
    scored_days = sorted(days.unique())[-4:]
    targets = transactions.loc[days.isin(scored_days), "transaction_id"]
    training = build_features(transactions, labels, targets.to_numpy(), delay_days)
    nightly = []
    for day in scored_days:
        end = day + DAY
        # What the warehouse holds when the nightly batch for ``day`` runs.
        history = transactions[transactions["tx_datetime"] < end]
        known = labels[labels["reported_at"] < end]
        tonight = history.loc[_days(history) == day, "transaction_id"]
        nightly.append(build_features(history, known, tonight.tolist(), delay_days))
    scoring = pd.concat(nightly).sort_values("transaction_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(training, scoring, check_exact=True)


@pytest.mark.parametrize("reported_after_cutoff", [pd.Timedelta(0), pd.Timedelta(days=3)])
def test_labels_reported_after_the_cutoff_never_leak(reported_after_cutoff: pd.Timedelta) -> None:
    transactions, labels = _simulated()
    day = sorted(_days(transactions).unique())[-3]
    targets = transactions.loc[_days(transactions) == day, "transaction_id"].to_numpy()
    frauds = labels["is_fraud"] & (labels["reported_at"] < day)
    late = labels.copy()
    late.loc[frauds, "reported_at"] = day + DAY + reported_after_cutoff
    with_late = build_features(transactions, late, targets, 1)
    without = build_features(transactions, labels[~frauds], targets, 1)
    original = build_features(transactions, labels, targets, 1)
    pd.testing.assert_frame_equal(with_late, without, check_exact=True)
    # The moved labels did matter while they were known, so the test is not vacuous.
    assert not with_late.equals(original)
    unaffected = [
        c for c in with_late.columns if not c.startswith(("terminal_fraud", "terminal_reported"))
    ]
    pd.testing.assert_frame_equal(with_late[unaffected], original[unaffected])


def _row_by_row(transactions: pd.DataFrame, labels: pd.DataFrame, delay_days: int) -> pd.DataFrame:
    """The definitions applied literally, one transaction at a time (slow, for checking)."""
    fraud_reported = labels[labels["is_fraud"]].set_index("transaction_id")["reported_at"]
    rows = []
    for tx in transactions.sort_values("transaction_id").itertuples():
        customer = transactions[transactions["customer_id"] == tx.customer_id]
        terminal = transactions[transactions["terminal_id"] == tx.terminal_id]
        earlier = customer.loc[
            (customer["transaction_id"] != tx.transaction_id)
            & (customer["tx_datetime"] <= tx.tx_datetime),
            "tx_datetime",
        ]
        gap = (tx.tx_datetime - earlier.max()).total_seconds() if len(earlier) else np.inf
        row = {
            "transaction_id": tx.transaction_id,
            "customer_seconds_since_previous": min(gap, 30 * 86_400.0),
        }
        for w in (1, 7, 30):
            recent = customer[
                (customer["tx_datetime"] > tx.tx_datetime - w * DAY)
                & (customer["tx_datetime"] <= tx.tx_datetime)
            ]
            row[f"customer_tx_count_{w}d"] = float(len(recent))
            row[f"customer_mean_amount_{w}d"] = recent["tx_amount"].mean()
            end = tx.tx_datetime - delay_days * DAY
            window = terminal[
                (terminal["tx_datetime"] >= end - w * DAY) & (terminal["tx_datetime"] < end)
            ]
            reported = fraud_reported.reindex(window["transaction_id"])
            cutoff = tx.tx_datetime.floor("D") + DAY
            known = float((reported < cutoff).sum())
            row[f"terminal_tx_count_{w}d"] = float(len(window))
            row[f"terminal_fraud_count_{w}d"] = known
            row[f"terminal_fraud_risk_{w}d"] = known / len(window) if len(window) else 0.0
        std = recent["tx_amount"].std(ddof=0)
        mean = recent["tx_amount"].mean()
        row["customer_amount_zscore_30d"] = (tx.tx_amount - mean) / std if std > 0.01 else 0.0
        older = recent.loc[recent["tx_datetime"] <= tx.tx_datetime - 7 * DAY, "tx_amount"]
        older_mean = older.mean() if len(older) else mean
        row["amount_to_customer_older_mean"] = tx.tx_amount / older_mean
        for w in (1, 7):
            last = recent.loc[recent["tx_datetime"] > tx.tx_datetime - w * DAY, "tx_amount"]
            row[f"customer_large_payment_count_{w}d"] = float((last > 3 * older_mean).sum())
        fraud_times = window.loc[(reported < cutoff).to_numpy(), "tx_datetime"]
        edge = delay_days + 30.0
        for name, moment in (("oldest", fraud_times.min()), ("newest", fraud_times.max())):
            age = (tx.tx_datetime - moment) / DAY if len(fraud_times) else edge
            row[f"terminal_fraud_{name}_days"] = age
        last_30 = terminal[
            (terminal["tx_datetime"] >= tx.tx_datetime - 30 * DAY)
            & (terminal["tx_datetime"] < tx.tx_datetime)
        ]
        reported_last_30 = fraud_reported.reindex(last_30["transaction_id"])
        known_times = last_30.loc[(reported_last_30 < cutoff).to_numpy(), "tx_datetime"]
        row["terminal_reported_fraud_count_30d"] = float(len(known_times))
        row["terminal_reported_fraud_newest_days"] = (
            (tx.tx_datetime - known_times.max()) / DAY if len(known_times) else 30.0
        )
        rows.append(row)
    return pd.DataFrame(rows)


def test_matches_the_definitions_row_by_row() -> None:
    transactions, labels = _simulated(seed=11, n=200)
    features = build_features(transactions, labels, None, 2)
    expected = _row_by_row(transactions, labels, 2)
    pd.testing.assert_frame_equal(features[expected.columns], expected, rtol=1e-12)


def test_none_targets_returns_every_row_sorted() -> None:
    transactions, labels = _simulated()
    every = build_features(transactions, labels, None, 1)
    listed = build_features(transactions, labels, transactions["transaction_id"].tolist(), 1)
    assert list(every.columns) == [*KEY_COLUMNS, *FEATURE_COLUMNS]
    assert every["transaction_id"].tolist() == sorted(transactions["transaction_id"])
    assert (every[list(FEATURE_COLUMNS)].dtypes == np.float64).all()
    pd.testing.assert_frame_equal(every, listed)


def test_decimal_amounts_equal_float_amounts() -> None:
    floats = _transactions(HAND_TRANSACTIONS)
    decimals = floats.assign(tx_amount=[Decimal(str(a)) for a in floats["tx_amount"]])
    labels = _labels(HAND_LABELS)
    pd.testing.assert_frame_equal(
        build_features(decimals, labels, None, DELAY_DAYS),
        build_features(floats, labels, None, DELAY_DAYS),
    )


def test_unknown_target_is_an_error() -> None:
    with pytest.raises(ValueError, match="1 target transaction ids"):
        build_features(_transactions(HAND_TRANSACTIONS), _labels([]), [1, 999], DELAY_DAYS)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-01-14 00:00", "2026-01-15 00:00"),
        ("2026-01-14 23:59:59.999999", "2026-01-15 00:00"),
        ("2026-01-14 12:00+05:00", "2026-01-15 00:00"),  # 07:00 UTC
        ("2026-01-14 22:00-05:00", "2026-01-16 00:00"),  # 03:00 UTC the next day
    ],
)
def test_label_cutoff_is_the_end_of_the_utc_day(moment: str, expected: str) -> None:
    cutoff = label_cutoff(pd.Series([pd.Timestamp(moment)]))
    assert cutoff.item() == pd.Timestamp(expected, tz="UTC")


@pytest.mark.parametrize(("delay_days", "expected_day"), [(0, 15), (7, 8)])
def test_history_start(delay_days: int, expected_day: int) -> None:
    interval_start = datetime(2026, 2, 14, tzinfo=UTC)
    assert history_start(interval_start, delay_days) == datetime(2026, 1, expected_day, tzinfo=UTC)
