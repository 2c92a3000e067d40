"""The Handbook protocol on frames: windows, which labels train and test, known cards dropped."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache

import numpy as np
import pandas as pd
import pytest

from fraud.config import Settings
from fraud.model.alert_policy import AlertPolicy
from fraud.model.protocol import (
    EXPECTED_LOSS_ROW,
    REPORTED_METRICS,
    Protocol,
    evaluate_frames,
    expected_loss_scores,
    judged_in_money,
    known_card_mask,
    protocol_datasets,
    with_card_reports,
)
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams

HANDBOOK = (date(2018, 7, 25), date(2018, 7, 31), 7, date(2018, 8, 8), date(2018, 8, 14))
SMALL = (date(2026, 1, 20), date(2026, 1, 26), 3, date(2026, 1, 30), date(2026, 2, 2))


@cache
def _simulation() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Five weeks of a small bank with labels exactly three days late."""
    params = SimulationParams(
        seed=5,
        n_customers=300,
        n_terminals=600,
        n_days=35,
        label_delay_days=3.0,
        label_delay_shape=None,
    )
    simulation = simulate(params)
    return simulation.transactions, simulation.labels


def test_handbook_dates_become_half_open_windows() -> None:
    protocol = Protocol.from_dates(*HANDBOOK)
    assert (protocol.train_start, protocol.train_end) == (
        datetime(2018, 7, 25, tzinfo=UTC),
        datetime(2018, 8, 1, tzinfo=UTC),
    )
    assert protocol.training_label_cutoff == datetime(2018, 8, 8, tzinfo=UTC)
    assert (protocol.test_start, protocol.test_end) == (
        datetime(2018, 8, 8, tzinfo=UTC),
        datetime(2018, 8, 15, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("known_cards_since", "expected"),
    [
        (None, datetime(2018, 7, 25, tzinfo=UTC)),
        (date(2018, 7, 4), datetime(2018, 7, 4, tzinfo=UTC)),
    ],
    ids=["train-start", "given"],
)
def test_known_cards_date_defaults_to_the_train_start(
    known_cards_since: date | None, expected: datetime
) -> None:
    assert Protocol.from_dates(*HANDBOOK, known_cards_since).cards_known_since == expected


@pytest.mark.parametrize(
    "dates",
    [
        (date(2018, 7, 31), date(2018, 7, 25), 7, date(2018, 8, 8), date(2018, 8, 14)),
        (date(2018, 7, 25), date(2018, 7, 31), 7, date(2018, 8, 7), date(2018, 8, 14)),
        (date(2018, 7, 25), date(2018, 7, 31), 7, date(2018, 8, 14), date(2018, 8, 8)),
        (date(2018, 7, 25), date(2018, 7, 31), -1, date(2018, 8, 8), date(2018, 8, 14)),
    ],
    ids=["train-reversed", "test-inside-gap", "test-reversed", "negative-delay"],
)
def test_inconsistent_windows_are_rejected(dates: tuple) -> None:
    with pytest.raises(ValueError, match="window"):
        Protocol.from_dates(*dates)


def _frame(rows: list[tuple[int, str, int]]) -> pd.DataFrame:
    """Transactions from (transaction_id, tx_datetime, customer_id) tuples."""
    frame = pd.DataFrame(rows, columns=["transaction_id", "tx_datetime", "customer_id"])
    frame["tx_datetime"] = pd.to_datetime(frame["tx_datetime"], utc=True)
    return frame


@pytest.mark.parametrize(
    ("fraud", "reported_at", "test_row", "dropped"),
    [
        ((1, "2018-07-26 10:00", 7), "2018-08-02 10:00", (9, "2018-08-08 09:00", 7), True),
        # Reported during the test day: the card was still unknown when the day began.
        ((1, "2018-08-01 10:00", 7), "2018-08-08 10:00", (9, "2018-08-08 12:00", 7), False),
        ((1, "2018-08-01 10:00", 7), "2018-08-08 10:00", (9, "2018-08-09 12:00", 7), True),
        # A fraud before the training window does not count, as in the Handbook.
        ((1, "2018-07-20 10:00", 7), "2018-07-27 10:00", (9, "2018-08-08 12:00", 7), False),
        ((1, "2018-07-26 10:00", 7), "2018-08-02 10:00", (9, "2018-08-08 12:00", 8), False),
    ],
    ids=["known", "reported-that-day", "known-next-day", "before-training", "other-card"],
)
def test_known_cards_are_dropped_from_the_test(
    fraud: tuple, reported_at: str, test_row: tuple, dropped: bool
) -> None:
    transactions = _frame([fraud, test_row])
    labels = pd.DataFrame(
        {"transaction_id": [fraud[0]], "is_fraud": [True], "reported_at": [reported_at]}
    )
    labels["reported_at"] = pd.to_datetime(labels["reported_at"], utc=True)
    test = transactions.iloc[[1]]
    since = datetime(2018, 7, 25, tzinfo=UTC)
    assert known_card_mask(test, transactions, labels, since).tolist() == [dropped]


def test_training_targets_only_use_labels_known_by_the_end_of_the_gap() -> None:
    transactions, labels = _simulation()
    protocol = Protocol.from_dates(*SMALL)
    # Delay every label of the last training day past the cut-off: those rows train as genuine.
    last_day = transactions.loc[
        transactions["tx_datetime"].dt.floor("D") == pd.Timestamp("2026-01-26", tz="UTC"),
        "transaction_id",
    ]
    late = labels.copy()
    late.loc[late["transaction_id"].isin(last_day), "reported_at"] = pd.Timestamp(
        protocol.training_label_cutoff
    )
    training, test = protocol_datasets(transactions, late, protocol, 3)
    frauds = set(labels.loc[labels["is_fraud"], "transaction_id"])
    on_last_day = training["transaction_id"].isin(last_day)
    assert training.loc[on_last_day, "transaction_id"].isin(frauds).any()
    assert training.loc[on_last_day, "is_fraud"].sum() == 0
    assert training.loc[~on_last_day, "is_fraud"].sum() > 0
    # Test targets are every label, however late.
    assert (test["is_fraud"] == test["transaction_id"].isin(frauds)).all()


def test_evaluate_frames_reports_the_model_and_both_baselines() -> None:
    transactions, labels = _simulation()
    results = evaluate_frames(
        transactions,
        labels,
        Protocol.from_dates(*SMALL),
        label_delay_days=3,
        seed=1,
        time_budget_seconds=30,
    )
    assert set(results) == {"model", "logistic_regression", "amount_rule"}
    for metrics in results.values():
        assert all(np.isfinite(metrics[name]) for name in REPORTED_METRICS)
    # The simulated frauds are learnable: the model must beat the amount rule.
    assert results["model"]["average_precision"] > results["amount_rule"]["average_precision"]


def _night(day: int, hour: int) -> pd.Timestamp:
    return pd.Timestamp(datetime(2018, 8, day, hour, tzinfo=UTC))


def _money_test_frame() -> pd.DataFrame:
    """Cards on 8 August: card 1 scores higher and spends little, card 2 scores lower and spends a
    lot; both are compromised, and each commits a fraud on the 9th after the review. Card 3 is
    genuine and scores lowest."""
    return pd.DataFrame(
        {
            "transaction_id": [1, 2, 3, 4, 5],
            "tx_datetime": [
                _night(8, 9),
                _night(8, 10),
                _night(9, 15),
                _night(9, 16),
                _night(8, 11),
            ],
            "customer_id": [1, 2, 1, 2, 3],
            "tx_amount": [5.0, 40.0, 7.0, 300.0, 20.0],
            "is_fraud": [1, 1, 1, 1, 0],
            # 30-day history: card 1 made 30 payments of 3.0 (3.0 a day), card 2 30 of 100.0,
            # card 3 (genuine) 30 of 1.0.
            "customer_tx_count_30d": [30.0, 30.0, 30.0, 30.0, 30.0],
            "customer_mean_amount_30d": [3.0, 100.0, 3.0, 100.0, 1.0],
        }
    )


def test_each_card_carries_its_first_fraud_report_since_the_cut() -> None:
    test = _money_test_frame()
    labels = pd.DataFrame(
        {
            "transaction_id": [1, 3, 2],
            "is_fraud": [True, True, False],
            "reported_at": [_night(15, 0), _night(12, 0), _night(10, 0)],
        }
    )
    reported = with_card_reports(test, labels, datetime(2018, 8, 1, tzinfo=UTC))
    # Card 1's earliest fraud report; card 2's only label is genuine, so it has none.
    assert list(reported["card_reported_at"].iloc[[0, 2]]) == [_night(12, 0)] * 2
    assert reported["card_reported_at"].iloc[[1, 3, 4]].isna().all()


def test_expected_loss_is_the_cards_score_times_its_daily_spend_over_the_horizon() -> None:
    test = _money_test_frame().assign(score=[0.9, 0.4, 0.2, 0.1, 0.05])
    values = expected_loss_scores(test, AlertPolicy("expected_loss", 1, None, 7))
    # Day 8: card 1 0.9 * 7 * 3.0, card 2 0.4 * 7 * 100.0; day 9 from that day's scores.
    assert values == pytest.approx([18.9, 280.0, 0.2 * 7 * 3.0, 0.1 * 7 * 100.0, 0.05 * 7 * 1.0])


def test_the_money_of_a_ranking_follows_the_cards_it_alerts_within_the_capacity() -> None:
    test = with_card_reports(
        _money_test_frame(), pd.DataFrame(columns=["transaction_id", "is_fraud", "reported_at"]),
        datetime(2018, 8, 1, tzinfo=UTC),
    )  # fmt: skip
    settings = Settings(review_capacity=1, review_delay_hours=10.0, label_delay_days=7)
    results = judged_in_money(test, {"model": np.array([0.9, 0.4, 0.2, 0.1, 0.05])}, settings)
    by_score, by_loss = results["model"], results[EXPECTED_LOSS_ROW]
    # By score, day 8 alerts card 1: 5.0 detected of 45.0, and its 7.0 on the 9th (after the
    # review at 10:00) prevented; day 9 alerts card 2, whose 300.0 is detected, nothing after.
    assert by_score["detected_amount_within_capacity"] == pytest.approx(5.0 + 300.0)
    assert by_score["prevented_amount_within_capacity"] == pytest.approx(7.0)
    # By expected loss, day 8 alerts the big spender: its 300.0 on the 9th is prevented.
    assert by_loss["detected_amount_within_capacity"] == pytest.approx(40.0 + 7.0)
    assert by_loss["prevented_amount_within_capacity"] == pytest.approx(300.0)
    # A card caught on the 8th is blocked on the 9th: its 300.0 is prevented, not in the 9th's
    # fraud amount, which is card 1's 7.0.
    assert by_loss["value_detection_rate_within_capacity"] == pytest.approx(47.0 / (45.0 + 7.0))
    assert by_loss["average_precision"] == by_score["average_precision"]
