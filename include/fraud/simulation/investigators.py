"""Simulated investigators: each morning they review the previous night's alerted cards.

Up to ``capacity`` cards a morning (the review capacity), strongest first, after the cards whose
cardholder could not be reached the morning before (each goes back to the queue once). A
reviewed card gets a verdict on every payment of its night: the payment's true status (fraud
whenever its chargeback will come, whatever its delay; genuine otherwise), wrong with a small
probability; or ``unreachable`` on all of them, more often for a card that was taken over. The
verdicts are decided and recorded ``delay_hours`` after the night's end, in simulated time, so a
night scored after that moment sees them and none before it does.

Every draw is seeded by ``(seed, night, card)``: a card's verdict does not depend on which other
cards were alerted, and re-running a morning writes nothing new (identical verdicts are skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.bulk import read_frame
from fraud.dates import day_interval
from fraud.labels import VerdictRow, record_verdicts

INVESTIGATOR = "simulated-investigator"

# The night's queue (cases.alert_queue_of: every payment of each alerted card, published
# generation only) with each card's top score and each payment's truth.
ALERTED_CARDS_SQL = """
select
    queue.transaction_id,
    queue.customer_id,
    max(queue.score) over (partition by queue.customer_id) as card_score,
    coalesce(fraud_labels.is_fraud, false) as is_fraud
from cases.alert_queue_of(:night) as queue
left join raw.fraud_labels on fraud_labels.transaction_id = queue.transaction_id
"""
# Cards of the night before whose only review so far found nobody to talk to.
UNREACHED_CARDS_SQL = """
with verdicts as (
    select
        alert_outcomes.transaction_id,
        alert_outcomes.outcome,
        alert_outcomes.decided_at
    from cases.alert_outcomes
    where alert_outcomes.known_at <= :as_of
),

night as (
    select transactions.transaction_id, transactions.customer_id
    from raw.transactions
    where transactions.tx_datetime >= :night_start and transactions.tx_datetime < :night_end
),

cards as (
    select night.customer_id
    from night
    inner join verdicts on verdicts.transaction_id = night.transaction_id
    group by night.customer_id
    having bool_and(verdicts.outcome = 'unreachable')
        and count(distinct verdicts.decided_at) = 1
)

select night.transaction_id, night.customer_id, 0.0 as card_score,
    coalesce(fraud_labels.is_fraud, false) as is_fraud
from night
inner join cards on cards.customer_id = night.customer_id
left join raw.fraud_labels on fraud_labels.transaction_id = night.transaction_id
"""

# The night's cards reviewed already, on any morning: they leave the night's queue.
REVIEWED_CARDS_SQL = """
select distinct transactions.customer_id
from cases.alert_outcomes
inner join raw.transactions on transactions.transaction_id = alert_outcomes.transaction_id
where transactions.tx_datetime >= :night_start and transactions.tx_datetime < :night_end
    and alert_outcomes.known_at <= :morning
"""

# The cards this morning has reviewed already, whatever their night: a re-run adds nothing.
REVIEWED_THIS_MORNING_SQL = """
select distinct transactions.customer_id
from cases.alert_outcomes
inner join raw.transactions on transactions.transaction_id = alert_outcomes.transaction_id
where alert_outcomes.decided_at = :morning and alert_outcomes.decided_by = :investigator
"""


@dataclass(frozen=True)
class InvestigatorParams:
    """How the simulated team works: its capacity, its pace, who it reaches, how often it errs."""

    capacity: int = 100
    delay_hours: float = 10.0
    unreachable_fraud: float = 0.15
    unreachable_genuine: float = 0.05
    error_rate: float = 0.01
    seed: int = 42

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise ValueError("capacity must not be negative")
        if self.delay_hours < 0:
            raise ValueError("delay_hours must not be negative")
        for name in ("unreachable_fraud", "unreachable_genuine", "error_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")


@dataclass(frozen=True)
class MorningOutcome:
    """What one simulated morning reviewed and recorded."""

    night: str
    cards_in_queue: int
    cards_reviewed: int
    cards_unreachable: int
    verdicts_recorded: int
    decided_at: str


def review_moment(night: date, params: InvestigatorParams) -> datetime:
    """When the morning's verdicts are decided and recorded: the night's end plus the delay."""
    return day_interval(night)[1] + timedelta(hours=params.delay_hours)


def choose_cards(
    queue: pd.DataFrame, retries: pd.DataFrame, capacity: int
) -> tuple[list[int], list[int]]:
    """The cards reviewed this morning: the retries first, then the night's by their top score."""
    retry_cards = sorted(set(retries["customer_id"].astype(int)))[:capacity]
    ranked = (
        queue.groupby("customer_id")["card_score"]
        .max()
        .reset_index()
        .sort_values(["card_score", "customer_id"], ascending=[False, True])
    )
    room = max(capacity - len(retry_cards), 0)
    fresh = [int(card) for card in ranked["customer_id"] if int(card) not in retry_cards][:room]
    return retry_cards, fresh


def card_verdicts(payments: pd.DataFrame, night: date, params: InvestigatorParams) -> pd.DataFrame:
    """The verdict on each payment of the reviewed cards, ``transaction_id`` and ``outcome``.

    ``payments`` holds ``transaction_id``, ``customer_id`` and the true ``is_fraud``.
    """
    ordered = payments.sort_values(["customer_id", "transaction_id"])
    cards, first = np.unique(ordered["customer_id"].to_numpy(dtype=np.int64), return_index=True)
    truth = ordered["is_fraud"].to_numpy(dtype=bool)
    outcome = np.empty(len(ordered), dtype=object)
    stops = np.append(first[1:], len(ordered))[: len(first)]
    for card, start, stop in zip(cards, first, stops, strict=True):
        rng = np.random.default_rng((params.seed, night.toordinal(), int(card)))
        taken_over = bool(truth[start:stop].any())
        unreachable_share = params.unreachable_fraud if taken_over else params.unreachable_genuine
        if rng.random() < unreachable_share:
            outcome[start:stop] = "unreachable"
            continue
        said_fraud = truth[start:stop] ^ (rng.random(stop - start) < params.error_rate)
        outcome[start:stop] = np.where(said_fraud, "fraud_confirmed", "genuine_confirmed")
    return pd.DataFrame(
        {
            "transaction_id": ordered["transaction_id"].to_numpy(dtype=np.int64),
            "outcome": outcome.astype(str) if len(outcome) else np.array([], dtype=str),
        }
    )


def review_morning(
    connection: Connection, night: date, params: InvestigatorParams
) -> MorningOutcome:
    """Play the morning after ``night``: review its alerted cards, record the verdicts."""
    night_start, night_end = day_interval(night)
    decided_at = review_moment(night, params)
    window = {"night": night, "night_start": night_start, "night_end": night_end}
    queue = read_frame(connection, ALERTED_CARDS_SQL, window)
    previous_start, previous_end = day_interval(night - timedelta(days=1))
    retries = read_frame(
        connection,
        UNREACHED_CARDS_SQL,
        {"as_of": decided_at, "night_start": previous_start, "night_end": previous_end},
    )
    already = set(
        connection.execute(
            sa.text(REVIEWED_THIS_MORNING_SQL),
            {"morning": decided_at, "investigator": INVESTIGATOR},
        ).scalars()
    )
    reviewed_before = set(
        connection.execute(sa.text(REVIEWED_CARDS_SQL), {**window, "morning": decided_at}).scalars()
    )
    queue = queue[~queue["customer_id"].isin(already | reviewed_before)]
    retries = retries[~retries["customer_id"].isin(already)]
    capacity_left = max(params.capacity - len(already), 0)
    retry_cards, fresh_cards = choose_cards(queue, retries, capacity_left)
    reviewed = pd.concat(
        [
            frame
            for frame in (
                retries[retries["customer_id"].isin(retry_cards)],
                # A retried card alerted again tonight: one call covers both nights.
                queue[queue["customer_id"].isin([*retry_cards, *fresh_cards])],
            )
            if not frame.empty
        ]
        or [queue.iloc[0:0]],
        ignore_index=True,
    )
    verdicts = card_verdicts(reviewed, night, params)
    recorded = _record(connection, verdicts, decided_at)
    unreachable = verdicts.merge(reviewed[["transaction_id", "customer_id"]], on="transaction_id")
    unreachable_cards = unreachable.loc[unreachable["outcome"] == "unreachable", "customer_id"]
    return MorningOutcome(
        night=night.isoformat(),
        cards_in_queue=int(queue["customer_id"].nunique()) + len(set(retries["customer_id"])),
        cards_reviewed=len(retry_cards) + len(fresh_cards),
        cards_unreachable=int(unreachable_cards.nunique()),
        verdicts_recorded=recorded,
        decided_at=decided_at.isoformat(),
    )


def _record(connection: Connection, verdicts: pd.DataFrame, decided_at: datetime) -> int:
    """Insert the verdicts as decided and recorded at ``decided_at``; return how many went in."""
    rows = [
        VerdictRow(int(transaction_id), str(outcome), INVESTIGATOR, decided_at)
        for transaction_id, outcome in zip(
            verdicts["transaction_id"], verdicts["outcome"], strict=True
        )
    ]
    return record_verdicts(connection, rows, recorded_at=decided_at)
