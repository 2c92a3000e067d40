"""A night's alerts, chosen per card by the review budget's policy once every share is scored
(:mod:`fraud.model.alert_policy`, docs/alerts.md), by a holder of the whole night's lock, and
marked with reason codes as the night's next generation is published.

At most ``FRAUD_REVIEW_CAPACITY`` cards by ``FRAUD_ALERT_RANKING`` (rule ``budget``) and, when
``FRAUD_ALERT_THRESHOLD`` is set, the other cards with a payment at or above it (``threshold``);
every payment of an alerted card is flagged with the card's rule and rank and explained; the
night's policy goes into ``scoring.alert_nights``. Cards known as fraud before the night began
are left out (the known-card rule), and so are cards in their review cool-down: a verdict known
within ``review_cooldown_days`` before the night's end and no payment of the night scoring above
every reviewed one (a fraud verdict is left to the known-card rule; an unreachable cardholder's
card is cooled down from its second review day). Verdicts known after the night's end change
nothing, so a re-run gives the same alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.bulk import read_frame
from fraud.labels import cards_known_before
from fraud.model.alert_policy import (
    ALERT_COLUMNS,
    RULE_BUDGET,
    RULE_THRESHOLD,
    AlertPolicy,
)
from fraud.model.metrics import KNOWN_CARD_LOOKBACK_DAYS
from fraud.model.registry import RegisteredModel
from fraud.scoring.generations import publish_next, scored_day, scoring_lock_key
from fraud.scoring.predict import REASON_SLOTS, explain, reason_columns
from fraud.shares import WHOLE
from fraud.timing import Stopwatch

logger = logging.getLogger(__name__)
_PUBLISHED = (
    "published %s (generation %d), alerts by %s: %d budget cards of %d, %d threshold cards,"
    " %d payments explained, %d alerts in all, %.1f s"
)

# The cards reviewed within the cool-down before the night's end, with the highest published
# score among their reviewed payments; a card with a fraud verdict is not cooled down (the
# known-card rule handles it), an unreachable one only from its second day of review.
_REVIEWED_CARDS_SQL = """
select s.customer_id, max(s.score) as reviewed_score
from cases.alert_outcomes as v
join scoring.transaction_scores as s on s.transaction_id = v.transaction_id
join scoring.scored_day as d
    on d.tx_date = (s.tx_datetime at time zone 'UTC')::date and d.generation = s.generation
where v.known_at >= :end - make_interval(days => :cooldown_days) and v.known_at < :end
group by s.customer_id
having not bool_or(v.outcome = 'fraud_confirmed')
   and (
       bool_or(v.outcome = 'genuine_confirmed')
       or count(distinct (v.decided_at at time zone 'UTC')::date)
          filter (where v.outcome = 'unreachable') > 1
   )
"""

# A night's cards, each with its highest score and, for expected_loss, its lowest 30-day spend
# per day of the night (fraud.model.alert_policy); cards cooled down or known are no candidates.
_NIGHT_SQL = """
with night as (
    select customer_id, score, null::double precision as daily_spend
    from scoring.transaction_scores
    where tx_datetime >= :start and tx_datetime < :end and generation = :generation
),
"""
_NIGHT_WITH_SPEND_SQL = """
with night as (
    select s.customer_id, s.score,
        f.customer_tx_count_30d * f.customer_mean_amount_30d / 30 as daily_spend
    from scoring.transaction_scores as s
    join staging.transaction_features as f
        on f.transaction_id = s.transaction_id and f.tx_datetime = s.tx_datetime
    where s.tx_datetime >= :start and s.tx_datetime < :end and s.generation = :generation
      and f.tx_datetime >= :start and f.tx_datetime < :end
),
"""
_CANDIDATES_SQL = f"""
reviewed as ({_REVIEWED_CARDS_SQL}),

cards as (
    select customer_id, max(score) as card_score, min(daily_spend) as daily_spend
    from night
    group by customer_id
),

candidates as (
    select cards.customer_id, cards.card_score,
        cards.card_score * :horizon_days * cards.daily_spend as expected_loss
    from cards
    where not exists (
        select 1 from reviewed
        where reviewed.customer_id = cards.customer_id
          and cards.card_score <= reviewed.reviewed_score
    )
      and cards.customer_id <> all(cast(:known as bigint[]))
)
"""
# Which of the given cards are known as fraud before the night began (the known-card rule):
# asked of the cards near the top only, through the card index of raw.transactions, rather than
# of every fraud of the last 30 days.
_KNOWN_AMONG_SQL = f"""
select known.customer_id from {cards_known_before(":cards", ":since", ":start")} as known
"""
# The ranking's order and the night's cards it reads, by ranking.
_ORDER = {
    "score": "card_score desc, customer_id",
    "expected_loss": "expected_loss desc nulls last, customer_id",
}
_NIGHTS = {"score": _NIGHT_SQL, "expected_loss": _NIGHT_WITH_SPEND_SQL}
# By (ranking, with a threshold). The budget alone: the first cards in the ranking's order (a
# top-N sort, not a full one). With a threshold: every candidate ranked, those up to the budget's
# last and the last over the threshold returned (the known among them are then ranked out).
_RANKING_SQL = {
    **{
        (ranking, False): f"""{night}{_CANDIDATES_SQL}
select customer_id, card_score, expected_loss
from candidates
order by {_ORDER[ranking]}
limit :capacity
"""
        for ranking, night in _NIGHTS.items()
    },
    **{
        (ranking, True): f"""{night}{_CANDIDATES_SQL},

ranked as (
    select customer_id, card_score, expected_loss,
        row_number() over (order by {_ORDER[ranking]}) as alert_rank
    from candidates
)

select customer_id, card_score, expected_loss, alert_rank
from ranked
where alert_rank <= greatest(
    :capacity,
    (select coalesce(max(alert_rank), 0) from ranked where card_score >= :threshold)
)
order by alert_rank
"""
        for ranking, night in _NIGHTS.items()
    },
}

# Alerts of cards no longer alerted (a re-run, a re-scored share, another policy).
_CLEAR_STALE_SQL = """
update scoring.transaction_scores
set is_alert = false, alert_rule = null, alert_rank = null,
    reason_1 = null, reason_1_contribution = null, reason_1_value = null,
    reason_2 = null, reason_2_contribution = null, reason_2_value = null,
    reason_3 = null, reason_3_contribution = null, reason_3_value = null
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and is_alert and customer_id <> all(:customer_ids)
"""

# The alerted payments not yet explained (through the alerts' index): reasons are computed once.
_UNEXPLAINED_SQL = """
select transaction_id from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and is_alert and reason_1 is null
"""

# Every payment of an alerted card that night, with its card's rule and rank, in one pass.
_MARK_CARDS_SQL = """
update scoring.transaction_scores as s
set is_alert = true,
    alert_rule = (cast(:rules as text[]))[array_position(cast(:customer_ids as bigint[]), s.customer_id)],
    alert_rank = (cast(:ranks as integer[]))[array_position(cast(:customer_ids as bigint[]), s.customer_id)]
where s.tx_datetime >= :start and s.tx_datetime < :end and s.generation = :generation
  and s.customer_id = any(cast(:customer_ids as bigint[]))
"""

_FEATURES_OF_IDS_SQL = """
select * from staging.transaction_features
where tx_datetime >= :start and tx_datetime < :end and transaction_id = any(:ids)
order by transaction_id
"""

_MARK_REASONS_SQL = """
update scoring.transaction_scores
set reason_1 = :reason_1, reason_1_contribution = :reason_1_contribution,
    reason_1_value = :reason_1_value,
    reason_2 = :reason_2, reason_2_contribution = :reason_2_contribution,
    reason_2_value = :reason_2_value,
    reason_3 = :reason_3, reason_3_contribution = :reason_3_contribution,
    reason_3_value = :reason_3_value
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and transaction_id = :transaction_id
"""

_COUNT_ALERTS_SQL = """
select count(*) from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation = :generation and is_alert
"""

# The policy and capacity the night's alerts ran with, one row per published generation.
_DELETE_NIGHT_POLICY_SQL = """
delete from scoring.alert_nights where tx_date = :day and generation = :generation
"""
_RECORD_NIGHT_POLICY_SQL = """
insert into scoring.alert_nights (
    tx_date, generation, model_version, alert_ranking, review_capacity, alert_threshold,
    horizon_days, review_cooldown_days, budget_cards, threshold_cards, alerts
)
values (
    :day, :generation, :model_version, :alert_ranking, :review_capacity, :alert_threshold,
    :horizon_days, :review_cooldown_days, :budget_cards, :threshold_cards, :alerts
)
"""


@dataclass(frozen=True)
class TopKOutcome:
    """The day's alerts once its cards are chosen."""

    alert_count: int
    model_version: int


def ranked_cards(
    connection: Connection,
    window: dict[str, object],
    policy: AlertPolicy,
    review_cooldown_days: int,
) -> pd.DataFrame:
    """The night's alerted cards by the policy, in SQL: :data:`ALERT_COLUMNS`, rank order."""
    start = window["start"]
    assert isinstance(start, datetime)
    params = {
        **window,
        "capacity": policy.capacity,
        "threshold": policy.threshold,
        "horizon_days": policy.horizon_days,
        "cooldown_days": review_cooldown_days,
        "since": start - timedelta(days=KNOWN_CARD_LOOKBACK_DAYS),
    }
    rows = _rows_without_known(connection, params, policy)
    cards = pd.DataFrame(
        [(row.customer_id, row.card_score, row.expected_loss) for row in rows],
        columns=["customer_id", "card_score", "expected_loss"],
    ).astype({"customer_id": np.int64, "card_score": np.float64, "expected_loss": np.float64})
    cards["alert_rank"] = [getattr(row, "alert_rank", n) for n, row in enumerate(rows, 1)]
    cards["alert_rule"] = np.where(
        cards["alert_rank"] <= policy.capacity, RULE_BUDGET, RULE_THRESHOLD
    )
    return cards[list(ALERT_COLUMNS)]


def _known_among(connection: Connection, params: dict[str, object], cards: list[int]) -> set[int]:
    """The cards of ``cards`` known as fraud before the night began."""
    found = connection.execute(sa.text(_KNOWN_AMONG_SQL), {**params, "cards": cards}).scalars()
    return {int(card) for card in found}


def _rows_without_known(
    connection: Connection, params: dict[str, object], policy: AlertPolicy
) -> list[Any]:
    """The policy's rows in rank order, known cards left out.

    Without a threshold, the ranking is asked for four times the budget's cards, the known ones
    among them are dropped, and it is asked again for four times as many while the budget is not
    full and cards remain. With one, every candidate up to the last card over the threshold is
    ranked in SQL, and ranked again without the known cards found among them until none is.
    """
    sql = _RANKING_SQL[(policy.ranking, policy.threshold is not None)]
    if policy.threshold is None:
        fetch = max(4 * policy.capacity, 16)
        while True:
            rows = connection.execute(
                sa.text(sql), {**params, "capacity": fetch, "known": []}
            ).fetchall()
            known = _known_among(connection, params, [int(row.customer_id) for row in rows])
            kept = [row for row in rows if int(row.customer_id) not in known]
            if len(kept) >= policy.capacity or len(rows) < fetch:
                return kept[: policy.capacity]
            fetch *= 4
    excluded: set[int] = set()
    while True:
        rows = connection.execute(sa.text(sql), {**params, "known": sorted(excluded)}).fetchall()
        known = _known_among(connection, params, [int(row.customer_id) for row in rows])
        if not known:
            return [
                row
                for row in rows
                if row.alert_rank <= policy.capacity or row.card_score >= policy.threshold
            ]
        excluded |= known


def _explain_new(
    connection: Connection, model: RegisteredModel, window: dict[str, object], ids: list[int]
) -> None:
    """Reason codes, with the values of the reason features, of the payments ``ids``."""
    frame = read_frame(connection, _FEATURES_OF_IDS_SQL, {**window, "ids": ids})
    reasons = explain(model, frame, REASON_SLOTS)
    rows = []
    for position, (transaction_id, row_reasons) in enumerate(
        zip(frame["transaction_id"], reasons, strict=True)
    ):
        values = reason_columns(row_reasons)
        for slot in range(1, REASON_SLOTS + 1):
            name = values[f"reason_{slot}"]
            values[f"reason_{slot}_value"] = (
                None if name is None else float(frame[str(name)].iloc[position])
            )
        rows.append({**window, "transaction_id": int(transaction_id), **values})
    if rows:
        connection.execute(sa.text(_MARK_REASONS_SQL), rows)


def mark_top_k(
    connection: Connection,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    policy: AlertPolicy,
    review_cooldown_days: int = 0,
) -> int:
    """Publish the day's next generation with its alerts chosen by ``policy``: every payment of
    an alerted card flagged with the card's rule and rank, reason codes on each; record the
    policy the night ran with; count alerts.

    Without rows of a next generation (the alerts of a published day chosen again), the
    published generation is marked again.
    """
    watch = Stopwatch()
    day = scored_day(interval_start, interval_end)
    WHOLE.lock(connection, scoring_lock_key(interval_start))
    window: dict[str, object] = {
        "start": interval_start,
        "end": interval_end,
        "generation": publish_next(connection, day, interval_start, interval_end),
    }
    cards = ranked_cards(connection, window, policy, review_cooldown_days)
    ids = [int(card) for card in cards["customer_id"]]
    connection.execute(sa.text(_CLEAR_STALE_SQL), {**window, "customer_ids": ids})
    if ids:
        connection.execute(
            sa.text(_MARK_CARDS_SQL),
            {
                **window,
                "customer_ids": ids,
                "rules": cards["alert_rule"].tolist(),
                "ranks": [int(rank) for rank in cards["alert_rank"]],
            },
        )
    new_ids = [
        int(row.transaction_id) for row in connection.execute(sa.text(_UNEXPLAINED_SQL), window)
    ]
    if new_ids:
        _explain_new(connection, model, window, new_ids)
    alerts = int(connection.execute(sa.text(_COUNT_ALERTS_SQL), window).scalar_one())
    budget = int((cards["alert_rule"] == RULE_BUDGET).sum())
    night = {"day": day, "generation": window["generation"]}
    connection.execute(sa.text(_DELETE_NIGHT_POLICY_SQL), night)
    connection.execute(
        sa.text(_RECORD_NIGHT_POLICY_SQL),
        {
            **night,
            "model_version": model.version,
            "alert_ranking": policy.ranking,
            "review_capacity": policy.capacity,
            "alert_threshold": policy.threshold,
            "horizon_days": policy.horizon_days,
            "review_cooldown_days": review_cooldown_days,
            "budget_cards": budget,
            "threshold_cards": len(cards) - budget,
            "alerts": alerts,
        },
    )
    logger.info(
        _PUBLISHED,
        day,
        window["generation"],
        policy.ranking,
        budget,
        policy.capacity,
        len(cards) - budget,
        len(new_ids),
        alerts,
        watch.stop(),
    )
    return alerts
