"""A night's generations of scores, and publishing the next one: readers never see a day half
scored (``sql/V025__publish_scored_days.sql``).

Shares write the day's next generation of rows beside the published one; publishing points
``scoring.scored_day`` at it and deletes the rows it supersedes, in one transaction.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.dates import checked_interval, day_interval
from fraud.locks import night_lock_key

# The generation readers see; 0, the rows' default, for a day never published.
_PUBLISHED_GENERATION_SQL = """
select coalesce(max(generation), 0) from scoring.scored_day where tx_date = :day
"""

_HAS_GENERATION_SQL = """
select exists (
    select 1 from scoring.transaction_scores
    where tx_datetime >= :start and tx_datetime < :end and generation = :generation
)
"""

# Published rows that no share of the next generation replaced: a run of the same day that
# published in between took a share's rows of this run with it, and kept its own for them.
_CARRY_OVER_SQL = """
update scoring.transaction_scores as published
set generation = :generation
where published.tx_datetime >= :start and published.tx_datetime < :end
  and published.generation = :published
  and not exists (
      select 1 from scoring.transaction_scores as next
      where next.tx_datetime >= :start and next.tx_datetime < :end
        and next.generation = :generation
        and next.transaction_id = published.transaction_id
        and next.tx_datetime = published.tx_datetime
  )
"""

_DELETE_SUPERSEDED_SQL = """
delete from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end and generation <> :generation
"""

_PUBLISH_SQL = """
insert into scoring.scored_day (tx_date, generation, published_at)
values (:day, :generation, now())
on conflict (tx_date) do update
set generation = excluded.generation, published_at = excluded.published_at
"""


def scoring_lock_key(interval_start: datetime) -> str:
    """The advisory-lock key of a night's scores; a share adds its own key beneath it.

    Marking the top k rewrites rows of every share, so it holds the whole night before it
    touches a row: a lock of its own would deadlock with a whole-night run that holds the night
    and its new rows while it waits to mark its own top k. (Runs of one night with different
    share counts at once are not serialised.)
    """
    return night_lock_key("scoring", interval_start)


def scored_day(interval_start: datetime, interval_end: datetime) -> date:
    """The UTC day an interval scores: a day is published whole, so an interval is one day."""
    interval_start, interval_end = checked_interval(interval_start, interval_end)
    day = interval_start.date()
    if (interval_start, interval_end) != day_interval(day):
        raise ValueError(
            f"scores are published by UTC day: [{interval_start.isoformat()},"
            f" {interval_end.isoformat()}) is not one"
        )
    return day


def published_generation(connection: Connection, day: date) -> int:
    """The generation of the day's scores that readers see (0 for a day never published)."""
    return int(connection.execute(sa.text(_PUBLISHED_GENERATION_SQL), {"day": day}).scalar_one())


def publish_next(
    connection: Connection, day: date, interval_start: datetime, interval_end: datetime
) -> int:
    """Make the day's next generation the one readers see, if it has rows; return the visible one.

    The caller holds the whole day. Published rows that the next generation lacks join it, then
    the rows it supersedes are deleted, all in the caller's transaction.
    """
    published = published_generation(connection, day)
    window = {"start": interval_start, "end": interval_end, "generation": published + 1}
    if not connection.execute(sa.text(_HAS_GENERATION_SQL), window).scalar_one():
        return published
    connection.execute(sa.text(_CARRY_OVER_SQL), {**window, "published": published})
    connection.execute(sa.text(_DELETE_SUPERSEDED_SQL), window)
    connection.execute(sa.text(_PUBLISH_SQL), {"day": day, "generation": published + 1})
    return published + 1
