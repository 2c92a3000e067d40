"""The money of the alerts: what they caught, what they stopped, what slipped through.

One set of definitions, over pandas frames, for the nightly monitoring, the promotion gate, the
retraining's validation run and the offline evaluation (``docs/monitoring.md``, "Money"):

* a night's **alerted cards** and the **alerted cards confirmed fraud** (a fraud on the card's
  payments of that night);
* the **detected amount**: the fraud of the night's payments on the alerted cards;
* the **prevented amount**: the fraud on the alerted cards confirmed fraud, made from the review
  on (the night's end plus the review delay: the night is scored after it ended, so an alert can
  only stop later payments) until the card's first fraud report (from the report on, the known-
  card rule blocks the card, alert or not);
* the **missed amount**: the fraud of the night's payments on the cards not alerted;
* the **genuine amount alerted**: the genuine payments of the night on the alerted cards;
* the **value detection rate**: the detected amount over the night's fraud amount.

Cards known as fraud before the night began (``card_known``) are left out of every figure, as
CP@100 leaves them out: they are blocked already, so their fraud is neither caught nor missed.
Rows weigh what their ``weight`` column says (a sampled genuine card stands for 1/fraction
cards); a card counts in an alert with the fraction of its weight the review capacity took, as CP@k takes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from fraud.dates import day_interval

# The figures' names, as stored (monitoring.model_performance) and logged (MLflow).
FIGURES = (
    "alerted_cards",
    "alerted_cards_fraud",
    "detected_amount",
    "prevented_amount",
    "missed_amount",
    "genuine_amount_alerted",
    "value_detection_rate",
)
# The suffix of the figures measured with the review capacity on a window without stored alerts.
WITHIN_CAPACITY = "_within_capacity"
# The column carrying each row's card's first fraud report (NaT when none is known).
CARD_REPORTED_AT = "card_reported_at"


@dataclass(frozen=True)
class Money:
    """Counts and sums of one night or of a window (the sum of its nights)."""

    alerted_cards: float = 0.0
    alerted_cards_fraud: float = 0.0
    fraud_amount: float = 0.0
    detected_amount: float = 0.0
    prevented_amount: float = 0.0
    genuine_amount_alerted: float = 0.0

    @property
    def missed_amount(self) -> float:
        """The fraud of the night on the cards not alerted."""
        return self.fraud_amount - self.detected_amount

    @property
    def value_detection_rate(self) -> float:
        """Detected over all fraud amount; NaN when there was no fraud."""
        return self.detected_amount / self.fraud_amount if self.fraud_amount else float("nan")

    def __add__(self, other: Money) -> Money:
        return Money(
            **{
                item.name: getattr(self, item.name) + getattr(other, item.name)
                for item in fields(self)
            }
        )

    def figures(self, suffix: str = "") -> dict[str, float]:
        """The seven figures (:data:`FIGURES`) and the fraud amount, by name with ``suffix``."""
        values = {**asdict(self), "missed_amount": self.missed_amount}
        values["value_detection_rate"] = self.value_detection_rate
        return {f"{name}{suffix}": float(values[name]) for name in (*FIGURES, "fraud_amount")}


def review_moment(night: date, delay: timedelta) -> datetime:
    """When a night's alerts are reviewed: the night's end plus the review delay."""
    return day_interval(night)[1] + delay


def _weights(frame: pd.DataFrame) -> np.ndarray:
    if "weight" in frame:
        return frame["weight"].to_numpy(dtype=np.float64)
    return np.ones(len(frame))


def _unknown(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows whose card was not known as fraud before their day began."""
    if "card_known" not in frame:
        return frame
    return frame[~frame["card_known"].to_numpy(dtype=bool)]


def _required(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [column for column in columns if column not in frame]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {', '.join(missing)}")


def prevented_amount(
    frauds: pd.DataFrame, caught: pd.Series, review_at: datetime | pd.Timestamp
) -> float:
    """The fraud on the ``caught`` cards (customer id -> the fraction of the card alerted) made from
    ``review_at`` until the card's first report (``card_reported_at``, NaT when none)."""
    if frauds.empty or caught.empty:
        return 0.0
    _required(frauds, ("customer_id", "tx_datetime", "tx_amount", CARD_REPORTED_AT), "frauds")
    fraction = frauds["customer_id"].map(caught).fillna(0.0).to_numpy(dtype=np.float64)
    moment = pd.to_datetime(frauds["tx_datetime"], utc=True)
    reported = pd.to_datetime(frauds[CARD_REPORTED_AT], utc=True)
    after = (moment >= pd.Timestamp(review_at)) & (reported.isna() | (moment < reported))
    amounts = frauds["tx_amount"].to_numpy(dtype=np.float64) * _weights(frauds) * fraction
    return float(amounts[after.to_numpy()].sum())


def _card_money(night: pd.DataFrame, taken: pd.Series) -> tuple[Money, pd.Series]:
    """The night's figures but the prevented amount, with ``taken`` each alerted card's fraction
    (by customer id); and the fractions of the alerted cards confirmed fraud."""
    fraud = night["is_fraud"].to_numpy().astype(bool)
    weights = _weights(night)
    amounts = night["tx_amount"].to_numpy(dtype=np.float64) * weights
    fraction = night["customer_id"].map(taken).fillna(0.0).to_numpy(dtype=np.float64)
    # A card weighs as its least-weighted row, as in CP@k: a card with a fraud weighs 1.
    card_weight = pd.Series(weights, index=night["customer_id"].to_numpy()).groupby(level=0).min()
    alerted = taken * card_weight.reindex(taken.index).fillna(1.0)
    fraud_cards = pd.Index(night.loc[fraud, "customer_id"].unique())
    confirmed = taken[taken.index.isin(fraud_cards)]
    money = Money(
        alerted_cards=float(alerted.sum()),
        alerted_cards_fraud=float(alerted[alerted.index.isin(fraud_cards)].sum()),
        fraud_amount=float(amounts[fraud].sum()),
        detected_amount=float((amounts * fraction)[fraud].sum()),
        genuine_amount_alerted=float((amounts * fraction)[~fraud].sum()),
    )
    return money, confirmed


def night_money(
    night: pd.DataFrame, frauds_after: pd.DataFrame, review_at: datetime | pd.Timestamp
) -> Money:
    """A scored night's money from its stored alerts (``is_alert``: every payment of an alerted
    card) and ``frauds_after``: the frauds made after the night on its cards, each with its
    card's first report (``card_reported_at``)."""
    _required(night, ("customer_id", "tx_amount", "is_fraud", "is_alert"), "the night")
    night = _unknown(night)
    alerted = night.loc[night["is_alert"].to_numpy(dtype=bool), "customer_id"].unique()
    taken = pd.Series(1.0, index=pd.Index(alerted, dtype=np.int64))
    money, confirmed = _card_money(night, taken)
    prevented = prevented_amount(frauds_after, confirmed, review_at)
    return Money(**{**asdict(money), "prevented_amount": prevented})


def _capacity_take(day: pd.DataFrame, capacity: int, score_column: str) -> pd.Series:
    """The day's cards alerted within the review capacity, each with the fraction of it taken: the highest
    scores first up to a weight of ``capacity`` cards, ties in card order (as CP@k)."""
    cards = (
        pd.DataFrame(
            {
                "customer_id": day["customer_id"].to_numpy(dtype=np.int64),
                "score": day[score_column].to_numpy(dtype=np.float64),
                "weight": _weights(day),
            }
        )
        .groupby("customer_id", sort=True)
        .agg(score=("score", "max"), weight=("weight", "min"))
    )
    ranked = cards.iloc[np.argsort(-cards["score"].to_numpy(), kind="stable")]
    weight = ranked["weight"].to_numpy()
    taken = np.clip(capacity - (np.cumsum(weight) - weight), 0.0, weight)
    fraction = pd.Series(taken / weight, index=ranked.index)
    return fraction[fraction > 0]


def money_within_capacity(
    frame: pd.DataFrame,
    capacity: int,
    review_delay: timedelta,
    score_column: str = "score",
) -> Money:
    """The money of a scored window without stored alerts, had each day alerted its top
    ``capacity`` cards by highest score, leaving out the cards known before the day and those
    caught on an earlier day (:func:`fraud.model.metrics.card_precision_at_k`'s days).

    The prevented amount reaches only the window's payments: a card caught on its last day
    prevents nothing yet. Without a ``card_reported_at`` column no card has a report.
    """
    _required(frame, ("customer_id", "tx_datetime", "tx_amount", "is_fraud", score_column), "frame")
    if CARD_REPORTED_AT not in frame:
        frame = frame.assign(**{CARD_REPORTED_AT: pd.NaT})
    frame = frame.reset_index(drop=True)
    frauds = frame[frame["is_fraud"].to_numpy().astype(bool)]
    eligible = _unknown(frame)
    moments = pd.to_datetime(eligible["tx_datetime"], utc=True).dt.tz_convert(None)
    eligible_days = moments.dt.floor("D").to_numpy()
    caught: set[int] = set()
    total = Money()
    for start in sorted(pd.unique(eligible_days)):
        day = eligible[eligible_days == start]
        if caught:
            day = day[~day["customer_id"].isin(caught).to_numpy()]
        taken = _capacity_take(day, capacity, score_column)
        money, confirmed = _card_money(day, taken)
        review_at = review_moment(pd.Timestamp(start).date(), review_delay)
        prevented = prevented_amount(frauds, confirmed, review_at)
        total = total + Money(**{**asdict(money), "prevented_amount": prevented})
        caught |= {int(card) for card in confirmed.index}
    return total


def fraud_cards(frame: pd.DataFrame) -> int:
    """The cards with a fraud in the frame, leaving out the rows of cards known before their day:
    how many cards a comparison of prevented amounts rests on."""
    rows = _unknown(frame)
    return int(rows.loc[rows["is_fraud"].to_numpy().astype(bool), "customer_id"].nunique())


def capacity_metrics(
    frame: pd.DataFrame, capacity: int, review_delay: timedelta, score_column: str = "score"
) -> dict[str, float]:
    """The figures within the review capacity (named ``..._within_capacity``) and the window's
    fraudulent cards (``fraud_cards``), as the gate and the retraining runs log them."""
    money = money_within_capacity(frame, capacity, review_delay, score_column)
    return {**money.figures(WITHIN_CAPACITY), "fraud_cards": float(fraud_cards(frame))}
