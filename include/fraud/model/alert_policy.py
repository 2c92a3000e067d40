"""The review budget as data: which cards of a night become alerts, by which rule and rank.

A night's alerts are chosen per card (``customer_id``): at most ``capacity`` cards within the
budget (``FRAUD_REVIEW_CAPACITY``), ranked by the policy's ``ranking``, and, when a threshold is
set, every other card with a payment scoring at least it. Cards already known as fraud before the
night began (the known-card rule) and cards cooled down after a review are left out of both.
Every payment of an alerted card that night is flagged.

Two rankings (``FRAUD_ALERT_RANKING``, docs/alerts.md gives the reasoning):

* ``score``: the card's highest score of the night, as CP@100 counts it;
* ``expected_loss``: the fraud an alert would prevent from the review on,
  ``card_score * horizon_days * daily_spend``, where ``daily_spend`` is the card's spend per day
  over the 30 days before each of its payments of the night (``customer_tx_count_30d *
  customer_mean_amount_30d / 30``), the lowest of the night's payments, and ``horizon_days`` the
  label delay.

Ties are broken by customer id. :func:`select_alerts` is the policy on a frame of scored payments,
in memory (the offline evaluation); the nightly step runs the same policy in SQL
(:mod:`fraud.scoring.alerts`), and a test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraud.config import ALERT_RANKINGS, Settings

RULE_BUDGET = "budget"
RULE_THRESHOLD = "threshold"
ALERT_RULES = (RULE_BUDGET, RULE_THRESHOLD)
# The columns expected_loss reads, point in time: the features of each payment.
SPEND_COLUMNS = ("customer_tx_count_30d", "customer_mean_amount_30d")
SPEND_WINDOW_DAYS = 30
ALERT_COLUMNS = ("customer_id", "alert_rule", "alert_rank", "card_score", "expected_loss")


@dataclass(frozen=True)
class AlertPolicy:
    """How a night's alerts are chosen: the ranking, the budget, the optional threshold."""

    ranking: str = "score"
    capacity: int = 100
    threshold: float | None = None
    # Days an undetected compromise runs until a chargeback would stop it: the label delay.
    horizon_days: int = 7

    def __post_init__(self) -> None:
        if self.ranking not in ALERT_RANKINGS:
            raise ValueError(f"alert ranking {self.ranking!r} is not one of {ALERT_RANKINGS}")
        if self.capacity < 0 or self.horizon_days < 0:
            raise ValueError("alert policy: capacity and horizon_days must be at least 0")

    @classmethod
    def of(cls, settings: Settings) -> AlertPolicy:
        """The policy the settings name."""
        return cls(
            ranking=settings.alert_ranking,
            capacity=settings.review_capacity,
            threshold=settings.alert_threshold,
            horizon_days=settings.label_delay_days,
        )

    @property
    def needs_spend(self) -> bool:
        """Whether the ranking reads the cards' spend (the features of their payments)."""
        return self.ranking == "expected_loss"


def card_frame(payments: pd.DataFrame) -> pd.DataFrame:
    """Per card of a night's payments: ``card_score`` (its highest score) and, when the frame has
    the spend columns, ``daily_spend`` (the lowest 30-day spend per day among its payments)."""
    grouped = payments.groupby("customer_id", sort=True)
    cards = pd.DataFrame({"card_score": grouped["score"].max()})
    if all(column in payments for column in SPEND_COLUMNS):
        spend = (
            payments["customer_tx_count_30d"].to_numpy(dtype=np.float64)
            * payments["customer_mean_amount_30d"].to_numpy(dtype=np.float64)
            / SPEND_WINDOW_DAYS
        )
        cards["daily_spend"] = (
            pd.Series(spend, index=payments.index).groupby(payments["customer_id"]).min()
        )
    return cards.rename_axis("customer_id").reset_index()


def rank_cards(
    cards: pd.DataFrame, policy: AlertPolicy, left_out: Collection[int] = ()
) -> pd.DataFrame:
    """The alerted cards of ``cards`` (:func:`card_frame`), budget first, in rank order.

    ``left_out`` are the cards that are not candidates (known as fraud, cooled down); the rank is
    the card's place among the candidates by the policy's ranking, ties by customer id.
    """
    candidates = cards.loc[~cards["customer_id"].isin(list(left_out))].copy()
    if policy.needs_spend:
        if "daily_spend" not in candidates:
            raise ValueError(
                f"expected_loss ranking needs the payments' {', '.join(SPEND_COLUMNS)}"
            )
        candidates["expected_loss"] = (
            candidates["card_score"] * float(policy.horizon_days) * candidates["daily_spend"]
        )
        key = "expected_loss"
    else:
        candidates["expected_loss"] = np.nan
        key = "card_score"
    ordered = candidates.sort_values([key, "customer_id"], ascending=[False, True], kind="stable")
    ordered["alert_rank"] = np.arange(1, len(ordered) + 1, dtype=np.int64)
    in_budget = ordered["alert_rank"] <= policy.capacity
    over_threshold = (
        ordered["card_score"] >= policy.threshold
        if policy.threshold is not None
        else pd.Series(False, index=ordered.index)
    )
    alerted = ordered.loc[in_budget | over_threshold].copy()
    alerted["alert_rule"] = np.where(
        alerted["alert_rank"] <= policy.capacity, RULE_BUDGET, RULE_THRESHOLD
    )
    return alerted[list(ALERT_COLUMNS)].reset_index(drop=True)


def select_alerts(
    payments: pd.DataFrame, policy: AlertPolicy, left_out: Collection[int] = ()
) -> pd.DataFrame:
    """The policy on one night's scored payments, in memory: the alerted cards with their rule
    and rank (:data:`ALERT_COLUMNS`).

    ``payments`` has ``transaction_id``, ``customer_id`` and ``score``, the spend columns for
    ``expected_loss``, and optionally ``card_known`` (the card had a fraud known before the night
    began, as the offline protocol marks it): such cards are left out, as are ``left_out``.
    """
    missing = [c for c in ("transaction_id", "customer_id", "score") if c not in payments]
    if missing:
        raise ValueError(f"select_alerts: the payments lack {', '.join(missing)}")
    known: set[int] = set(left_out)
    if "card_known" in payments:
        known |= set(payments.loc[payments["card_known"].astype(bool), "customer_id"].tolist())
    return rank_cards(card_frame(payments), policy, known)


def flag_payments(payments: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    """``payments`` with ``is_alert``, ``alert_rule`` and ``alert_rank``: every payment of an
    alerted card is flagged."""
    by_card = alerts.set_index("customer_id")
    flagged = payments.copy()
    flagged["alert_rule"] = flagged["customer_id"].map(by_card["alert_rule"])
    flagged["alert_rank"] = flagged["customer_id"].map(by_card["alert_rank"]).astype("Int64")
    flagged["is_alert"] = flagged["alert_rule"].notna()
    return flagged
