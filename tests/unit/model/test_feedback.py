"""Nights replayed with the investigators in the loop: labels as of a moment, the morning's
reviews, what each replay lets the features see, and the fraud stopped after a verdict."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

import numpy as np
import pandas as pd
import pytest

from fraud.features.columns import FEATURE_COLUMNS
from fraud.model.feedback import (
    FRAUD,
    GENUINE,
    UNREACHABLE,
    ReplayRules,
    empty_verdicts,
    known_frauds,
    nights_between,
    replay_nights,
    stopped_fraud,
)
from fraud.simulation.generate import simulate
from fraud.simulation.investigators import InvestigatorParams, review_moment
from fraud.simulation.params import SimulationParams

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _at(hours: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + timedelta(hours=hours))


def _reports(*rows: tuple[int, bool, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [row[0] for row in rows],
            "is_fraud": [row[1] for row in rows],
            "reported_at": pd.to_datetime([_at(row[2]) for row in rows], utc=True),
        }
    )


def _verdicts(*rows: tuple[int, str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [row[0] for row in rows],
            "customer_id": [1] * len(rows),
            "outcome": [row[1] for row in rows],
            "known_at": pd.to_datetime([_at(row[2]) for row in rows], utc=True),
            "score": [0.5] * len(rows),
        }
    )


def _known(reports: pd.DataFrame, verdicts: pd.DataFrame, hours: float) -> dict[int, float]:
    frame = known_frauds(reports, verdicts, _at(hours).to_pydatetime())
    assert frame["is_fraud"].all()
    return {
        int(row.transaction_id): (row.reported_at - pd.Timestamp(T0)) / pd.Timedelta(hours=1)
        for row in frame.itertuples()
    }


def test_a_fraud_verdict_counts_from_its_known_at_and_a_report_wins_over_it() -> None:
    reports = _reports((1, True, 100), (2, False, 100), (3, True, 100))
    verdicts = _verdicts((1, FRAUD, 10), (2, FRAUD, 10), (4, FRAUD, 20), (5, GENUINE, 5))
    # Before any verdict: nothing is known.
    assert _known(reports, verdicts, 9) == {}
    # Verdicts known: frauds from their known_at; a genuine verdict is no fraud.
    assert _known(reports, verdicts, 50) == {1: 10, 2: 10, 4: 20}
    # Reports known: a fraud report keeps the earlier verdict's moment, a genuine one wins.
    assert _known(reports, verdicts, 100) == {1: 10, 3: 100, 4: 20}


def test_the_latest_verdict_counts_and_unreachable_is_no_label() -> None:
    reports = _reports()
    verdicts = _verdicts((7, FRAUD, 10), (7, GENUINE, 30), (8, UNREACHABLE, 10), (9, FRAUD, 10))
    verdicts = pd.concat([verdicts, _verdicts((9, UNREACHABLE, 40))], ignore_index=True)
    assert _known(reports, verdicts, 20) == {7: 10, 9: 10}
    assert _known(reports, verdicts, 50) == {}


def test_fraud_after_the_first_fraud_verdict_is_stopped() -> None:
    transactions = pd.DataFrame(
        {
            "transaction_id": [1, 2, 3, 4, 5],
            "tx_datetime": pd.to_datetime([_at(h) for h in (1, 12, 30, 40, 50)], utc=True),
            "customer_id": [1, 1, 1, 2, 2],
            "terminal_id": [9, 9, 9, 9, 9],
            "tx_amount": [10.0, 20.0, 40.0, 80.0, 160.0],
        }
    )
    truth = pd.Series(True, index=[1, 3, 4, 5])
    verdicts = _verdicts((1, FRAUD, 10), (1, FRAUD, 35))
    # Card 1 is blocked from hour 10: its fraud at hour 30 (40.0) is stopped, the genuine payment
    # at hour 12 is not fraud, and card 2 was never confirmed.
    assert stopped_fraud(transactions, truth, verdicts, T0, T0 + timedelta(days=3)) == (40.0, 1)
    # Only the window's payments count.
    assert stopped_fraud(transactions, truth, verdicts, T0, T0 + timedelta(hours=20)) == (0.0, 0)


def test_nights_between_are_the_calendar_days_of_the_range() -> None:
    assert nights_between(T0, T0 + timedelta(days=3)) == [
        date(2026, 3, 1),
        date(2026, 3, 2),
        date(2026, 3, 3),
    ]


@cache
def _bank() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Three weeks of a small bank: payments, reports (every fraud, seven days late), truth."""
    simulation = simulate(
        SimulationParams(
            seed=11,
            n_customers=400,
            n_terminals=800,
            start_date=date(2026, 3, 1),
            n_days=21,
            label_delay_days=7.0,
            label_delay_shape=None,
        )
    )
    reported = simulation.labels.copy()
    reported["reported_at"] = pd.to_datetime(reported["reported_at"], utc=True)
    frauds = reported.loc[reported["is_fraud"].astype(bool), "transaction_id"]
    return simulation.transactions, reported, pd.Series(True, index=frauds.to_numpy())


def _amount_scorer(frame: pd.DataFrame) -> np.ndarray:
    """Ranks by amount with the terminal's reported frauds: a verdict can change the ranking."""
    return (
        frame["tx_amount"].to_numpy() / 1000.0
        + frame["terminal_reported_fraud_count_30d"].to_numpy()
    )


RULES = ReplayRules(
    InvestigatorParams(capacity=4, unreachable_fraud=0.0, unreachable_genuine=0.0, error_rate=0.0),
    cooldown_days=7,
    label_delay_days=7,
)
NIGHTS = nights_between(datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC))


@pytest.mark.parametrize("use_verdicts", [False, True])
def test_each_morning_reviews_the_capacity_and_records_the_truth(use_verdicts: bool) -> None:
    transactions, reported, truth = _bank()
    replay = replay_nights(
        transactions, reported, truth, NIGHTS, _amount_scorer, RULES, use_verdicts=use_verdicts
    )
    assert len(replay.features) == len(NIGHTS)
    for night in NIGHTS:
        alerted = [card for alerted_night, card, _ in replay.alerts if alerted_night == night]
        assert 0 < len(alerted) <= RULES.investigators.capacity
        verdicts = replay.verdicts[
            replay.verdicts["known_at"] == review_moment(night, RULES.investigators)
        ]
        # A verdict on every payment of the night of each reviewed card, and on nothing else.
        frame = replay.features[NIGHTS.index(night)]
        expected = frame.loc[frame["customer_id"].isin(alerted), "transaction_id"]
        assert sorted(verdicts["transaction_id"]) == sorted(expected)
        # No investigator error and everyone reachable: each verdict is the truth.
        said_fraud = verdicts["outcome"] == FRAUD
        assert (said_fraud == verdicts["transaction_id"].isin(truth.index)).all()
    blocked = replay.verdicts.loc[replay.verdicts["outcome"] == FRAUD]
    for card, first in blocked.groupby("customer_id")["known_at"].min().items():
        later = [night for night, alerted, _ in replay.alerts if alerted == card]
        assert all(
            pd.Timestamp(datetime.combine(night, datetime.min.time(), UTC)) < first
            for night in later
        )


def test_only_the_feedback_replay_lets_features_see_verdicts_and_only_from_their_known_at() -> None:
    transactions, reported, truth = _bank()
    without = replay_nights(
        transactions, reported, truth, NIGHTS, _amount_scorer, RULES, use_verdicts=False
    )
    with_feedback = replay_nights(
        transactions, reported, truth, NIGHTS, _amount_scorer, RULES, use_verdicts=True
    )
    columns = list(FEATURE_COLUMNS)
    # The first night is scored before any verdict is known: the same features either way.
    pd.testing.assert_frame_equal(without.features[0][columns], with_feedback.features[0][columns])
    # Later nights see the morning's fraud verdicts in the terminal's reported frauds.
    later = pd.concat(with_feedback.features[1:], ignore_index=True)
    before = pd.concat(without.features[1:], ignore_index=True)
    assert (
        later["terminal_reported_fraud_count_30d"].sum()
        > before["terminal_reported_fraud_count_30d"].sum()
    )
    # Without feedback the features are those of the reports alone, whatever was reviewed.
    reports_only = replay_nights(
        transactions, reported, truth, NIGHTS, lambda frame: np.zeros(len(frame)), RULES,
        use_verdicts=False,
    )  # fmt: skip
    pd.testing.assert_frame_equal(
        pd.concat(reports_only.features)[columns].reset_index(drop=True),
        pd.concat(without.features)[columns].reset_index(drop=True),
    )
    assert empty_verdicts().empty
