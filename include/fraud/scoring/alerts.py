"""A night's alerts beyond the threshold: its ``alert_top_k`` highest scores (the review
capacity), marked with reason codes as the night's next generation is published.

The top k is a property of the whole night, so it is marked once every share is scored
(:func:`fraud.scoring.score.score_share`), by a holder of the whole night's lock.

Cards reviewed recently are not sent back to the investigators unless new evidence arrives: a
card with a verdict known within ``review_cooldown_days`` before the night's end is left out of
the top k, unless one of its payments of the night scores higher than every reviewed payment of
it. A card with a fraud verdict is compromised and left to the known-card rule; an unreachable
cardholder's card comes back once (it is cooled down from its second unreachable review, on
another day). Verdicts known after the night's end change nothing, so a re-run gives the same
alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.bulk import read_frame
from fraud.model.registry import RegisteredModel
from fraud.scoring.generations import publish_next, scored_day, scoring_lock_key
from fraud.scoring.predict import REASON_SLOTS, explain, reason_columns
from fraud.shares import WHOLE
from fraud.timing import Stopwatch

logger = logging.getLogger(__name__)
_PUBLISHED = "published %s (generation %d) with its top %d: %d new alerts, %d in all, %.1f s"

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

# The day's top k by score, ties broken by transaction id, as the single-batch ranking did,
# without the cards cooled down: reviewed recently, and no payment of the night scoring above
# every reviewed one.
_TOP_K_OF_INTERVAL_SQL = f"""
with reviewed as ({_REVIEWED_CARDS_SQL}),

cooled as (
    select reviewed.customer_id
    from reviewed
    where not exists (
        select 1 from scoring.transaction_scores as s
        where s.tx_datetime >= :start and s.tx_datetime < :end and s.generation = :generation
          and s.customer_id = reviewed.customer_id and s.score > reviewed.reviewed_score
    )
)

select transaction_id, is_alert
from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and customer_id not in (select customer_id from cooled)
order by score desc, transaction_id
limit :top_k
"""

# Alerts only the top k made, which a re-scored share may have pushed out of it.
_CLEAR_STALE_TOP_K_SQL = """
update scoring.transaction_scores
set is_alert = false,
    reason_1 = null, reason_1_contribution = null,
    reason_2 = null, reason_2_contribution = null,
    reason_3 = null, reason_3_contribution = null
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and is_alert and score < :threshold and transaction_id <> all(:keep)
"""

_FEATURES_OF_IDS_SQL = """
select * from staging.transaction_features
where tx_datetime >= :start and tx_datetime < :end and transaction_id = any(:ids)
order by transaction_id
"""

_MARK_ALERT_SQL = """
update scoring.transaction_scores
set is_alert = true,
    reason_1 = :reason_1, reason_1_contribution = :reason_1_contribution,
    reason_2 = :reason_2, reason_2_contribution = :reason_2_contribution,
    reason_3 = :reason_3, reason_3_contribution = :reason_3_contribution
where tx_datetime >= :start and tx_datetime < :end and generation = :generation
  and transaction_id = :transaction_id
"""

_COUNT_ALERTS_SQL = """
select count(*) from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation = :generation and is_alert
"""


@dataclass(frozen=True)
class TopKOutcome:
    """The day's alerts once its top k are marked."""

    alert_count: int
    model_version: int


def mark_top_k(
    connection: Connection,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    alert_threshold: float,
    alert_top_k: int,
    review_cooldown_days: int = 0,
) -> int:
    """Publish the day's next generation, its ``alert_top_k`` highest scores made alerts with
    reason codes, leaving out the cards reviewed within ``review_cooldown_days`` without new
    evidence; count alerts.

    Without rows of a next generation (the top k of a published day marked again), the
    published generation is marked again.
    """
    watch = Stopwatch()
    day = scored_day(interval_start, interval_end)
    WHOLE.lock(connection, scoring_lock_key(interval_start))
    window = {
        "start": interval_start,
        "end": interval_end,
        "generation": publish_next(connection, day, interval_start, interval_end),
    }
    top = connection.execute(
        sa.text(_TOP_K_OF_INTERVAL_SQL),
        {**window, "top_k": alert_top_k, "cooldown_days": review_cooldown_days},
    )
    ranked = top.fetchall()
    keep = [row.transaction_id for row in ranked]
    connection.execute(
        sa.text(_CLEAR_STALE_TOP_K_SQL), {**window, "threshold": alert_threshold, "keep": keep}
    )
    new_ids = [row.transaction_id for row in ranked if not row.is_alert]
    if new_ids:
        frame = read_frame(connection, _FEATURES_OF_IDS_SQL, {**window, "ids": new_ids})
        reasons = explain(model, frame, REASON_SLOTS)
        connection.execute(
            sa.text(_MARK_ALERT_SQL),
            [
                {**window, "transaction_id": int(transaction_id), **reason_columns(row_reasons)}
                for transaction_id, row_reasons in zip(
                    frame["transaction_id"], reasons, strict=True
                )
            ],
        )
    alerts = int(connection.execute(sa.text(_COUNT_ALERTS_SQL), window).scalar_one())
    logger.info(
        _PUBLISHED, day, window["generation"], alert_top_k, len(new_ids), alerts, watch.stop()
    )
    return alerts
