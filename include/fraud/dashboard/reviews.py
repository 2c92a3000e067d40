"""What the investigators found, for the page: alert precision by verdict the morning after each
night, the open queue and the verdicts a later chargeback contradicts.

Read through ``analytics.alert_reviews(first, last)`` (``analytics.alert_reviews_daily`` for a
range of nights, reading only those nights) as ``fraud_analyst``. A night's precision by verdict
is known the morning after it, so its point stands on the next night, as the chargebacks' alert
precision stands on the night that measured it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.dashboard.charts import Series

VERDICT_SERIES = "1 day of investigator verdicts"

# The window's nights, each read from its own day partitions only.
REVIEWS_SQL = """
select
    tx_date,
    cards_alerted,
    cards_reached_within_a_day,
    cards_confirmed_fraud_within_a_day,
    cards_reviewed_within_a_day,
    cards_open,
    verdicts_contradicted,
    alert_precision_by_verdict
from analytics.alert_reviews(cast(:first as date), cast(:last as date))
"""


@dataclass(frozen=True)
class Reviews:
    """The investigators' side of the window: precision by verdict, open queue, disagreements."""

    precision: Series
    cards_alerted: int
    cards_reached: int
    cards_confirmed: int
    cards_reviewed: int
    cards_open: int
    oldest_open_night: date | None
    verdicts_contradicted: int
    window_end: date

    @property
    def unreachable_rate(self) -> float | None:
        """Cards not reached over the cards reviewed within a day, over the window."""
        if not self.cards_reviewed:
            return None
        return (self.cards_reviewed - self.cards_reached) / self.cards_reviewed

    @property
    def open_age_days(self) -> int | None:
        """Whole days from the end of the oldest night with an open card to the window's end."""
        if self.oldest_open_night is None:
            return None
        return max((self.window_end - self.oldest_open_night).days - 1, 0)


def summarise(rows: Iterable[Mapping[str, Any]], nights: Sequence[date]) -> Reviews:
    """The window's reviews from the view's rows: sums of counts, one precision per night."""
    rows = list(rows)
    by_measuring_night = {
        row["tx_date"] + timedelta(days=1): float(row["alert_precision_by_verdict"])
        for row in rows
        if row["alert_precision_by_verdict"] is not None
    }
    open_nights = [row["tx_date"] for row in rows if int(row["cards_open"]) > 0]

    def total(column: str) -> int:
        return sum(int(row[column]) for row in rows)

    return Reviews(
        precision=Series(VERDICT_SERIES, tuple(by_measuring_night.get(n) for n in nights)),
        cards_alerted=total("cards_alerted"),
        cards_reached=total("cards_reached_within_a_day"),
        cards_confirmed=total("cards_confirmed_fraud_within_a_day"),
        cards_reviewed=total("cards_reviewed_within_a_day"),
        cards_open=total("cards_open"),
        oldest_open_night=min(open_nights) if open_nights else None,
        verdicts_contradicted=total("verdicts_contradicted"),
        window_end=nights[-1] + timedelta(days=1),
    )


def load_reviews(connection: Connection, nights: Sequence[date]) -> Reviews:
    """Read the window's nights (and the night before it, whose point stands on the first)."""
    bounds = {"first": nights[0] - timedelta(days=1), "last": nights[-1]}
    rows = connection.execute(sa.text(REVIEWS_SQL), bounds).mappings()
    return summarise([dict(row) for row in rows], nights)
