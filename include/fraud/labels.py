"""Labels as every stage reads them: the SQL that names them, in one place.

A label comes from two sources (``sql/V032__cases_alert_outcomes.sql``): a reported chargeback
or dispute outcome (``raw.fraud_labels``, source ``reported``) and an investigator's verdict
(``cases.alert_outcomes``, source ``investigator``). As of a moment, a report known by then wins
over any verdict; otherwise the latest verdict known by then counts; an unreachable verdict is no
label. Two functions of the warehouse apply that rule, and the stages read labels through the
fragments below only:

* :func:`frauds_known_before`: the payments known as fraud before a moment, each with the moment
  since which it has been (``cases.frauds_known``, inlined by the planner and bounded by the
  payments' earliest time). Point-in-time features, training labels and the known-card rule.
* :func:`reported_labels_before`: the reported labels alone. The sampling of training cards and
  the matured chargeback figures of monitoring read them: a verdict exists only for top-ranked
  cards, so it may change a row's label, never which rows are read or how they are weighted.

The stages' cut-offs are exclusive (known *before* the cut-off); the functions' moments are
inclusive (known *as of* the moment, as ``cases.labels_as_of``). Timestamps are kept to the
microsecond, so known before T is known as of the microsecond before T.
"""

from __future__ import annotations

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


def reported_labels_before(before: str) -> str:
    """A from-item of ``(transaction_id, is_fraud, known_at)``: the labels reported before
    ``before`` (an SQL expression), fraud or genuine, one row per payment."""
    return (
        "(select transaction_id, is_fraud, reported_at as known_at"
        f" from raw.fraud_labels where reported_at < {before})"
    )
