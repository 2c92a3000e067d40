"""The review budget's policy in memory: per card, within the capacity, by rule and rank."""

from __future__ import annotations

import pandas as pd
import pytest

from fraud.config import load_settings
from fraud.model.alert_policy import AlertPolicy, card_frame, flag_payments, select_alerts


def _payments(rows: list[tuple[int, int, float, float, float]]) -> pd.DataFrame:
    """(transaction_id, customer_id, score, customer_tx_count_30d, customer_mean_amount_30d)."""
    return pd.DataFrame(
        rows,
        columns=[
            "transaction_id",
            "customer_id",
            "score",
            "customer_tx_count_30d",
            "customer_mean_amount_30d",
        ],
    )


NIGHT = _payments(
    [
        (1, 10, 0.20, 30.0, 50.0),
        (2, 10, 0.90, 31.0, 52.0),
        (3, 20, 0.90, 60.0, 400.0),
        (4, 30, 0.50, 15.0, 20.0),
        (5, 40, 0.05, 90.0, 280.0),
        (6, 40, 0.04, 91.0, 320.0),
    ]
)


def test_cards_ranked_by_their_highest_score_ties_by_customer_id() -> None:
    alerts = select_alerts(NIGHT, AlertPolicy(capacity=2))
    assert alerts["customer_id"].tolist() == [10, 20]
    assert alerts["alert_rank"].tolist() == [1, 2]
    assert alerts["alert_rule"].tolist() == ["budget", "budget"]
    assert alerts["card_score"].tolist() == [0.9, 0.9]


def test_every_payment_of_an_alerted_card_is_flagged() -> None:
    flagged = flag_payments(NIGHT, select_alerts(NIGHT, AlertPolicy(capacity=1)))
    assert flagged.loc[flagged["is_alert"], "transaction_id"].tolist() == [1, 2]
    assert flagged.loc[flagged["is_alert"], "alert_rank"].tolist() == [1, 1]
    assert flagged.loc[~flagged["is_alert"], "alert_rule"].isna().all()


def test_known_and_cooled_cards_are_no_candidates() -> None:
    known = NIGHT.assign(card_known=NIGHT["customer_id"] == 10)
    alerts = select_alerts(known, AlertPolicy(capacity=2), left_out={20})
    assert alerts["customer_id"].tolist() == [30, 40]
    assert alerts["alert_rank"].tolist() == [1, 2]


def test_the_threshold_adds_cards_beyond_the_budget_marked_as_such() -> None:
    alerts = select_alerts(NIGHT, AlertPolicy(capacity=1, threshold=0.5))
    assert alerts[["customer_id", "alert_rule", "alert_rank"]].values.tolist() == [
        [10, "budget", 1],
        [20, "threshold", 2],
        [30, "threshold", 3],
    ]


def test_without_capacity_or_threshold_nothing_is_alerted() -> None:
    assert select_alerts(NIGHT, AlertPolicy(capacity=0)).empty


def test_expected_loss_weighs_the_probability_by_the_cards_habitual_spend() -> None:
    cards = card_frame(NIGHT).set_index("customer_id")
    # The lowest 30-day spend per day among the card's payments of the night.
    assert cards.loc[10, "daily_spend"] == pytest.approx(30 * 50 / 30)
    alerts = select_alerts(NIGHT, AlertPolicy(ranking="expected_loss", capacity=4, horizon_days=7))
    # Card 20: 0.9 x 800 a day; card 10: 0.9 x 50; card 40, a big genuine spender: 0.05 x 840;
    # card 30: 0.5 x 10. A small spender with a high score still beats a big spender with a
    # low one; the big spender beats a card with a middling score and a tiny habit.
    assert alerts["customer_id"].tolist() == [20, 10, 40, 30]
    assert alerts["expected_loss"].tolist() == pytest.approx(
        [0.9 * 7 * 800, 0.9 * 7 * 50, 0.05 * 7 * 840, 0.5 * 7 * 10]
    )


def test_expected_loss_needs_the_spend_columns() -> None:
    with pytest.raises(ValueError, match="customer_tx_count_30d"):
        select_alerts(
            NIGHT[["transaction_id", "customer_id", "score"]], AlertPolicy("expected_loss")
        )
    with pytest.raises(ValueError, match="lack score"):
        select_alerts(NIGHT.drop(columns="score"), AlertPolicy())


def test_the_policy_of_the_settings() -> None:
    policy = AlertPolicy.of(
        load_settings({"FRAUD_ALERT_TOP_K": "7", "FRAUD_ALERT_RANKING": "expected_loss"})
    )
    assert policy == AlertPolicy("expected_loss", capacity=7, threshold=None, horizon_days=7)
    with pytest.raises(ValueError, match="spend"):
        AlertPolicy(ranking="spend")
