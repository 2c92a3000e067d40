"""Labels as every stage reads and records them: the SQL that names them, in one place.

A label comes from two sources (``sql/V032__cases_alert_outcomes.sql``): a reported chargeback
or dispute outcome (``raw.fraud_labels``, source ``reported``) and an investigator's verdict
(``cases.alert_outcomes``, source ``investigator``). As of a moment, a report known by then wins
over any verdict; otherwise the latest verdict known by then counts; an unreachable verdict is no
label. Three functions of the warehouse apply that rule, and the stages read labels through the
fragments below only:

* :func:`frauds_known_before`: the payments known as fraud before a moment, each with the moment
  since which it has been (``cases.frauds_known``, inlined by the planner and bounded by the
  payments' earliest time). Point-in-time features, training labels and the known-card rule.
* :func:`cards_known_before`: the same rule asked of a few cards (``cases.cards_known``, through
  the card index): the known-card rule of the night's alerts.
* :func:`reported_labels_before`: the reported labels alone. The sampling of training cards and
  the matured chargeback figures of monitoring read them: a verdict exists only for top-ranked
  cards, so it may change a row's label, never which rows are read or how they are weighted.

Verdicts go in through :func:`record_verdicts` only, whether an investigator's export or the
simulated investigators wrote them.

The stages' cut-offs are exclusive (known *before* the cut-off); the functions' moments are
inclusive (known *as of* the moment, as ``cases.labels_as_of``). Timestamps are kept to the
microsecond, so known before T is known as of the microsecond before T.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Verdicts appended; one identical to a stored verdict (the same export twice) is skipped. A
# null recorded_at is the database's now(); the database itself sets it for every login but the
# owner (sql/V032__cases_alert_outcomes.sql), so only the simulator writes simulated time.
RECORD_VERDICTS_SQL = """
insert into cases.alert_outcomes (
    transaction_id, outcome, decided_by, decided_at, note, recorded_at
)
select
    verdict.transaction_id,
    verdict.outcome,
    verdict.decided_by,
    verdict.decided_at,
    verdict.note,
    coalesce(verdict.recorded_at, now())
from unnest(
    cast(:transaction_ids as bigint[]),
    cast(:outcomes as text[]),
    cast(:decided_by as text[]),
    cast(:decided_at as timestamptz[]),
    cast(:notes as text[]),
    cast(:recorded_at as timestamptz[])
) as verdict (transaction_id, outcome, decided_by, decided_at, note, recorded_at)
on conflict (transaction_id, outcome, decided_by, decided_at, coalesce(note, '')) do nothing
returning outcome_id
"""

REPORTED = "reported"
INVESTIGATOR = "investigator"
LABEL_SOURCES = (REPORTED, INVESTIGATOR)

_JUST_BEFORE = "interval '1 microsecond'"


def frauds_known_before(since: str, before: str) -> str:
    """A from-item of ``(transaction_id, known_at, source)``: the payments known as fraud before
    ``before``, whole for those made at or after ``since`` (both SQL expressions, e.g. bind
    parameters)."""
    return (
        f"cases.frauds_known(cast({since} as timestamptz),"
        f" cast({before} as timestamptz) - {_JUST_BEFORE})"
    )


def cards_known_before(cards: str, since: str, before: str) -> str:
    """A from-item of ``(customer_id)``: the cards among ``cards`` (an SQL bigint[] expression)
    with a payment made since ``since`` known as fraud before ``before``, by the rule of
    :func:`frauds_known_before`, looked up card by card (``cases.cards_known``)."""
    return (
        f"cases.cards_known(cast({cards} as bigint[]), cast({since} as timestamptz),"
        f" cast({before} as timestamptz) - {_JUST_BEFORE})"
    )


def reported_labels_before(before: str) -> str:
    """A from-item of ``(transaction_id, is_fraud, known_at)``: the labels reported before
    ``before`` (an SQL expression), fraud or genuine, one row per payment."""
    return (
        "(select transaction_id, is_fraud, reported_at as known_at"
        f" from raw.fraud_labels where reported_at < {before})"
    )


@dataclass(frozen=True)
class VerdictRow:
    """One verdict to record: the columns an investigator's export carries."""

    transaction_id: int
    outcome: str
    decided_by: str
    decided_at: datetime
    note: str | None = None


def record_verdicts(
    connection: Connection, verdicts: Sequence[VerdictRow], *, recorded_at: datetime | None = None
) -> int:
    """Append the verdicts in the connection's transaction; return how many went in (the rest
    were identical to stored ones). ``recorded_at`` is simulated time, the owner's only."""
    if not verdicts:
        return 0
    inserted = connection.execute(
        sa.text(RECORD_VERDICTS_SQL),
        {
            "transaction_ids": [verdict.transaction_id for verdict in verdicts],
            "outcomes": [verdict.outcome for verdict in verdicts],
            "decided_by": [verdict.decided_by for verdict in verdicts],
            "decided_at": [verdict.decided_at for verdict in verdicts],
            "notes": [verdict.note for verdict in verdicts],
            "recorded_at": [recorded_at] * len(verdicts),
        },
    )
    return len(inserted.fetchall())
