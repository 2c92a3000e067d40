"""The money of the alerts on hand-computed tiny cases: a night's stored alerts, and a window's
days alerted within the review capacity, weighted as CP@k weights a sampled frame."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from fraud.model.metrics import card_precision_at_k
from fraud.model.money import (
    CARD_REPORTED_AT,
    FIGURES,
    Money,
    fraud_cards,
    money_within_capacity,
    night_money,
    prevented_amount,
    review_moment,
)

REVIEW_DELAY = timedelta(hours=10)


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    if "tx_datetime" in frame:
        frame["tx_datetime"] = pd.to_datetime(frame["tx_datetime"], utc=True, format="ISO8601")
    if CARD_REPORTED_AT in frame:
        frame[CARD_REPORTED_AT] = pd.to_datetime(frame[CARD_REPORTED_AT], utc=True)
    return frame


# One night (5 January) with its stored alerts: (customer_id, tx_amount, is_fraud, is_alert,
# card_known).
NIGHT = _frame(
    [
        (1, 10.0, 1, True, False),  # alerted, confirmed fraud: 10 detected
        (1, 20.0, 0, True, False),  # its genuine payment: 20 genuine alerted
        (2, 5.0, 0, True, False),  # alerted, genuine: 5 genuine alerted
        (3, 40.0, 1, False, False),  # not alerted: 40 missed
        (4, 100.0, 1, True, True),  # known before the night: left out of every figure
    ],
    ["customer_id", "tx_amount", "is_fraud", "is_alert", "card_known"],
)
# The frauds after the night on its cards, each with its card's first report.
FRAUDS_AFTER = _frame(
    [
        (1, "2026-01-06 05:00", 7.0, "2026-01-07"),  # before the review at 10:00: not prevented
        (1, "2026-01-06 12:00", 30.0, "2026-01-07"),  # after the review, before the report
        (1, "2026-01-08 12:00", 50.0, "2026-01-07"),  # after the report: the known-card rule's
        (3, "2026-01-06 12:00", 60.0, None),  # card 3 was not alerted
        (2, "2026-01-06 12:00", 9.0, None),  # card 2 was alerted but genuine that night
    ],
    ["customer_id", "tx_datetime", "tx_amount", CARD_REPORTED_AT],
)


def test_night_money_counts_each_figure() -> None:
    money = night_money(NIGHT, FRAUDS_AFTER, review_moment(date(2026, 1, 5), REVIEW_DELAY))
    assert money.figures() == {
        "alerted_cards": 2.0,
        "alerted_cards_fraud": 1.0,
        "detected_amount": 10.0,
        "prevented_amount": 30.0,
        "missed_amount": 40.0,
        "genuine_amount_alerted": 25.0,
        "value_detection_rate": 10.0 / 50.0,
        "fraud_amount": 50.0,
    }


def test_review_moment_is_the_nights_end_plus_the_delay() -> None:
    assert review_moment(date(2026, 1, 5), REVIEW_DELAY) == datetime(2026, 1, 6, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reported_at", "expected"),
    [
        pytest.param(None, 30.0 + 50.0, id="never-reported-every-later-fraud"),
        pytest.param("2026-01-06 09:00", 0.0, id="reported-before-the-review-nothing"),
        pytest.param("2026-01-08 12:00", 30.0, id="the-report-moment-itself-is-stopped"),
    ],
)
def test_prevented_stops_at_the_first_report(reported_at: str | None, expected: float) -> None:
    frauds = FRAUDS_AFTER[FRAUDS_AFTER["customer_id"] == 1].assign(
        **{CARD_REPORTED_AT: pd.to_datetime(reported_at, utc=True)}
    )
    caught = pd.Series({1: 1.0})
    review_at = datetime(2026, 1, 6, 10, tzinfo=UTC)
    assert prevented_amount(frauds, caught, review_at) == expected


def test_a_night_without_fraud_has_no_detection_rate() -> None:
    night = NIGHT.assign(is_fraud=0)
    money = night_money(night, FRAUDS_AFTER.head(0), datetime(2026, 1, 6, 10, tzinfo=UTC))
    assert money.alerted_cards_fraud == 0.0
    assert math.isnan(money.value_detection_rate)


# A window of two days scored without stored alerts: (tx_datetime, customer_id, tx_amount,
# is_fraud, score, weight, card_known, card_reported_at).
WINDOW = _frame(
    [
        # 5 January, capacity 1: card 1 ranks first and is caught; card 2 missed; card 3 is
        # known before the day (left out, though it scores highest).
        ("2026-01-05 09:00", 1, 10.0, 1, 0.9, 1.0, False, None),
        ("2026-01-05 10:00", 2, 20.0, 1, 0.8, 1.0, False, None),
        ("2026-01-05 11:00", 3, 1000.0, 1, 0.95, 1.0, True, "2026-01-01"),
        # 6 January: card 1 was caught, so it leaves the ranking; its fraud after the review
        # (10:00) is prevented (30), the one before is not (3).
        ("2026-01-06 08:00", 1, 3.0, 1, 0.99, 1.0, False, None),
        ("2026-01-06 12:00", 1, 30.0, 1, 0.99, 1.0, False, None),
        # Card 4 is a sampled genuine card standing for 10: it takes the whole review capacity of 1 card
        # (a tenth of its weight), so a tenth of its 10 x 8 genuine amount is alerted.
        ("2026-01-06 09:00", 4, 8.0, 0, 0.6, 10.0, False, None),
        ("2026-01-06 12:00", 2, 15.0, 1, 0.5, 1.0, False, None),
    ],
    [
        "tx_datetime",
        "customer_id",
        "tx_amount",
        "is_fraud",
        "score",
        "weight",
        "card_known",
        CARD_REPORTED_AT,
    ],
)


def test_money_within_capacity_alerts_the_top_cards_of_each_day() -> None:
    money = money_within_capacity(WINDOW, capacity=1, review_delay=REVIEW_DELAY)
    assert money.figures() == pytest.approx(
        {
            "alerted_cards": 2.0,
            "alerted_cards_fraud": 1.0,
            "detected_amount": 10.0,
            "prevented_amount": 30.0,
            "missed_amount": 20.0 + 15.0,
            "genuine_amount_alerted": 8.0,
            "value_detection_rate": 10.0 / 45.0,
            "fraud_amount": 45.0,
        }
    )


def test_capacity_alerts_confirmed_match_card_precision() -> None:
    money = money_within_capacity(WINDOW, capacity=1, review_delay=REVIEW_DELAY)
    days = 2
    assert money.alerted_cards_fraud / days == card_precision_at_k(WINDOW, k=1)


def test_capacity_counts_a_caught_cards_prevented_fraud_once() -> None:
    money = money_within_capacity(WINDOW, capacity=5, review_delay=REVIEW_DELAY)
    # Day 1 catches cards 1 and 2: card 1's fraud after its review (30) and card 2's (15) are
    # prevented; neither is ranked again on day 2, where card 4 (standing for 10) fills the
    # capacity of 5 with half its weight.
    assert money.prevented_amount == 45.0
    assert money.detected_amount == 30.0
    assert money.alerted_cards == 2.0 + 5.0


def test_without_reports_every_later_fraud_counts() -> None:
    window = WINDOW.drop(columns=[CARD_REPORTED_AT])
    assert money_within_capacity(window, 1, REVIEW_DELAY).prevented_amount == 30.0


def test_a_cheap_fraud_ranked_first_catches_less_money() -> None:
    better = WINDOW.assign(score=WINDOW["customer_id"].map({1: 0.1, 2: 0.9, 3: 0.0, 4: 0.0}))
    money = money_within_capacity(better, capacity=1, review_delay=REVIEW_DELAY)
    # Card 2 caught on day 1 (20 detected, 15 prevented); day 2 alerts card 1 (33 detected).
    assert (money.detected_amount, money.prevented_amount) == (20.0 + 33.0, 15.0)


def test_fraud_cards_leave_out_known_cards() -> None:
    assert fraud_cards(WINDOW) == 2


def test_money_sums_and_names_every_figure() -> None:
    total = Money(alerted_cards=1, fraud_amount=4, detected_amount=1) + Money(
        alerted_cards=2, fraud_amount=6, detected_amount=4
    )
    figures = total.figures("_within_capacity")
    assert set(figures) == {f"{name}_within_capacity" for name in (*FIGURES, "fraud_amount")}
    assert figures["value_detection_rate_within_capacity"] == 0.5


def test_a_frame_without_amounts_is_named() -> None:
    with pytest.raises(ValueError, match="frame lacks the column\\(s\\) tx_amount"):
        money_within_capacity(WINDOW.drop(columns=["tx_amount"]), 1, REVIEW_DELAY)


def test_a_frame_with_repeated_index_labels_counts_the_same() -> None:
    repeated = WINDOW.set_axis([0] * len(WINDOW))
    assert money_within_capacity(repeated, 1, REVIEW_DELAY) == money_within_capacity(
        WINDOW, 1, REVIEW_DELAY
    )
