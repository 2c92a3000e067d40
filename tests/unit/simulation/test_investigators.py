"""Simulated investigators: who they review, and what they say about each payment."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from fraud.simulation.investigators import (
    InvestigatorParams,
    card_verdicts,
    choose_cards,
    review_moment,
)

NIGHT = date(2026, 3, 1)


def _queue(scores: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": list(scores), "card_score": list(scores.values()), "transaction_id": 0}
    )


@pytest.mark.parametrize(
    ("scores", "retries", "capacity", "expected"),
    [
        ({1: 0.2, 2: 0.9, 3: 0.5}, [], 2, ([], [2, 3])),
        ({1: 0.2, 2: 0.9, 3: 0.5}, [7], 2, ([7], [2])),
        ({1: 0.5, 2: 0.5}, [], 1, ([], [1])),
        ({1: 0.5}, [7, 8], 1, ([7], [])),
        ({1: 0.5}, [], 0, ([], [])),
    ],
)
def test_retries_come_first_then_the_strongest_cards(
    scores: dict[int, float], retries: list[int], capacity: int, expected: tuple[list, list]
) -> None:
    retry_frame = pd.DataFrame({"customer_id": retries})
    assert choose_cards(_queue(scores), retry_frame, capacity) == expected


def _payments(cards: int, frauds_per_card: int, payments_per_card: int = 4) -> pd.DataFrame:
    rows = [
        {
            "transaction_id": card * 100 + index,
            "customer_id": card,
            "is_fraud": index < frauds_per_card,
        }
        for card in range(1, cards + 1)
        for index in range(payments_per_card)
    ]
    return pd.DataFrame(rows)


def test_a_perfect_team_says_the_truth() -> None:
    params = InvestigatorParams(unreachable_fraud=0, unreachable_genuine=0, error_rate=0)
    payments = _payments(cards=5, frauds_per_card=2)
    verdicts = card_verdicts(payments, NIGHT, params).merge(payments, on="transaction_id")
    expected = verdicts["is_fraud"].map({True: "fraud_confirmed", False: "genuine_confirmed"})
    assert verdicts["outcome"].tolist() == expected.tolist()


def test_an_unreached_cardholder_leaves_every_payment_unreachable() -> None:
    params = InvestigatorParams(unreachable_fraud=1, unreachable_genuine=0, error_rate=0)
    payments = pd.concat([_payments(1, frauds_per_card=1), _payments(1, 0).assign(customer_id=2)])
    payments["transaction_id"] = range(len(payments))
    verdicts = card_verdicts(payments, NIGHT, params).merge(payments, on="transaction_id")
    by_card = verdicts.groupby("customer_id")["outcome"].unique().map(sorted).to_dict()
    assert by_card == {1: ["unreachable"], 2: ["genuine_confirmed"]}


def test_shares_unreachable_and_errors_follow_the_parameters() -> None:
    params = InvestigatorParams(unreachable_fraud=0.3, unreachable_genuine=0.05, error_rate=0.1)
    frauds = _payments(cards=1000, frauds_per_card=4)
    genuine = _payments(cards=1000, frauds_per_card=0).assign(
        customer_id=lambda frame: frame["customer_id"] + 10_000,
        transaction_id=lambda frame: frame["transaction_id"] + 10_000_000,
    )
    verdicts = card_verdicts(pd.concat([frauds, genuine]), NIGHT, params)
    verdicts = verdicts.merge(pd.concat([frauds, genuine]), on="transaction_id")
    unreachable = verdicts.groupby("customer_id").first()
    fraud_cards = unreachable.index < 10_000
    share_fraud = (unreachable.loc[fraud_cards, "outcome"] == "unreachable").mean()
    share_genuine = (unreachable.loc[~fraud_cards, "outcome"] == "unreachable").mean()
    assert share_fraud == pytest.approx(0.3, abs=0.05)
    assert share_genuine == pytest.approx(0.05, abs=0.025)
    reached = verdicts[verdicts["outcome"] != "unreachable"]
    wrong = (reached["outcome"] == "fraud_confirmed") != reached["is_fraud"]
    assert wrong.mean() == pytest.approx(0.1, abs=0.015)


def test_a_cards_verdicts_do_not_depend_on_the_other_cards() -> None:
    params = InvestigatorParams(unreachable_fraud=0.5, unreachable_genuine=0.5, error_rate=0.3)
    payments = _payments(cards=30, frauds_per_card=2)
    alone = card_verdicts(payments[payments["customer_id"] == 17], NIGHT, params)
    together = card_verdicts(payments, NIGHT, params)
    assert (
        together[together["transaction_id"].isin(alone["transaction_id"])]
        .reset_index(drop=True)
        .equals(alone)
    )


def test_verdicts_are_decided_the_morning_after_the_night() -> None:
    assert review_moment(NIGHT, InvestigatorParams(delay_hours=9.5)) == datetime(
        2026, 3, 2, 9, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "change",
    [{"capacity": -1}, {"delay_hours": -1}, {"error_rate": 1.5}, {"unreachable_fraud": -0.1}],
)
def test_impossible_parameters_are_refused(change: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        InvestigatorParams(**change)  # type: ignore[arg-type]
