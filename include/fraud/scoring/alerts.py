"""A night's alerts, chosen per card by the review budget's policy
(:mod:`fraud.model.alert_policy`) and marked with reason codes as the night's next generation is
published.

The budget is a property of the whole night, so it is chosen once every share is scored
(:func:`fraud.scoring.score.score_share`), by a holder of the whole night's lock: at most
``FRAUD_REVIEW_CAPACITY`` cards, ranked by ``FRAUD_ALERT_RANKING``, and, when
``FRAUD_ALERT_THRESHOLD`` is set, the other cards with a payment scoring at least it. Every
payment of an alerted card that night is flagged with the card's rule (``budget`` or
``threshold``) and rank, and explained by its three reasons with their features' values; the
night's policy and capacity go into ``scoring.alert_nights``.

Cards known as fraud before the night began are left out (the known-card rule: already blocked).
Cards reviewed recently are not sent back to the investigators unless new evidence arrives: a
card with a verdict known within ``review_cooldown_days`` before the night's end is left out,
unless one of its payments of the night scores higher than every reviewed payment of it. A card
with a fraud verdict is compromised and left to the known-card rule; an unreachable
cardholder's card comes back once (it is cooled down from its second unreachable review, on
another day). Verdicts known after the night's end change nothing, so a re-run gives the same
alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.bulk import read_frame
from fraud.labels import frauds_known_before
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
# per day among its payments of the night (fraud.model.alert_policy); a card cooled down
# (reviewed recently, no payment of the night scoring above every reviewed one) or known as fraud
# before the night began (the known-card rule) is no candidate.
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

known as (
    select distinct t.customer_id
    from {frauds_known_before(":since", ":start")} as known
    join raw.transactions as t using (transaction_id)
    where t.tx_datetime >= :since
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
      and not exists (select 1 from known where known.customer_id = cards.customer_id)
)
"""
# The budget alone: the first cards in the ranking's order (a top-N sort, not a full one).
_BY_SCORE_SQL = f"""{_NIGHT_SQL}{_CANDIDATES_SQL}
select customer_id, card_score, expected_loss
from candidates
order by card_score desc, customer_id
limit :capacity
"""
_BY_EXPECTED_LOSS_SQL = f"""{_NIGHT_WITH_SPEND_SQL}{_CANDIDATES_SQL}
select customer_id, card_score, expected_loss
from candidates
order by expected_loss desc nulls last, customer_id
limit :capacity
"""
# With a threshold: every candidate ranked, the budget's and those over the threshold kept.
_BY_SCORE_WITH_THRESHOLD_SQL = f"""{_NIGHT_SQL}{_CANDIDATES_SQL},

ranked as (
    select customer_id, card_score, expected_loss,
        row_number() over (order by card_score desc, customer_id) as alert_rank
    from candidates
)

select customer_id, card_score, expected_loss, alert_rank
from ranked
where alert_rank <= :capacity or card_score >= :threshold
order by alert_rank
"""
_BY_EXPECTED_LOSS_WITH_THRESHOLD_SQL = f"""{_NIGHT_WITH_SPEND_SQL}{_CANDIDATES_SQL},

ranked as (
    select customer_id, card_score, expected_loss,
        row_number() over (order by expected_loss desc nulls last, customer_id) as alert_rank
    from candidates
)

select customer_id, card_score, expected_loss, alert_rank
from ranked
where alert_rank <= :capacity or card_score >= :threshold
order by alert_rank
"""
_RANKING_SQL = {
    ("score", False): _BY_SCORE_SQL,
    ("score", True): _BY_SCORE_WITH_THRESHOLD_SQL,
    ("expected_loss", False): _BY_EXPECTED_LOSS_SQL,
    ("expected_loss", True): _BY_EXPECTED_LOSS_WITH_THRESHOLD_SQL,
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

# Every payment of an alerted card that night, with the card's rule and rank.
_MARK_CARDS_SQL = """
update scoring.transaction_scores as s
set is_alert = true, alert_rule = card.alert_rule, alert_rank = card.alert_rank
from unnest(cast(:customer_ids as bigint[]), cast(:rules as text[]), cast(:ranks as integer[]))
    as card (customer_id, alert_rule, alert_rank)
where s.tx_datetime >= :start and s.tx_datetime < :end and s.generation = :generation
  and s.customer_id = card.customer_id
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
    sql = _RANKING_SQL[(policy.ranking, policy.threshold is not None)]
    rows = connection.execute(sa.text(sql), params).fetchall()
    cards = pd.DataFrame(
        {
            "customer_id": np.array([row.customer_id for row in rows], dtype=np.int64),
            "card_score": np.array([row.card_score for row in rows], dtype=np.float64),
            "expected_loss": np.array(
                [np.nan if row.expected_loss is None else row.expected_loss for row in rows],
                dtype=np.float64,
            ),
            "alert_rank": np.array(
                [getattr(row, "alert_rank", number) for number, row in enumerate(rows, 1)],
                dtype=np.int64,
            ),
        }
    )
    cards["alert_rule"] = np.where(
        cards["alert_rank"] <= policy.capacity, RULE_BUDGET, RULE_THRESHOLD
    )
    return cards[list(ALERT_COLUMNS)]


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
