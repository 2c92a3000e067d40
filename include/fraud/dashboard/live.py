"""The live model over the last 30 nights, and the latest night's alert queue, for the page.

Read from the ``analytics`` views as ``fraud_analyst`` (``fraud.dashboard.data`` opens the
connection). Every query is bounded to the window: scores by a ``tx_datetime`` range, which
prunes the day partitions and uses the alerts' partial index; the small monitoring and quality
tables by their leading key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.config import Settings
from fraud.dashboard.charts import Series
from fraud.dates import midnight

LIVE_NIGHTS = 30
QUEUE_CARDS = 20
DRIFTED_FEATURES = 5
SCORE = "score"
# The matured measures the page charts, each per maturity.
PERFORMANCE_METRICS = ("average_precision", "alert_precision", "card_precision_at_100")
# The money of the alerts the page charts at the oldest maturity (fraud.model.money), by name.
MONEY_AMOUNTS = {
    "detected_amount": "detected",
    "prevented_amount": "prevented",
    "missed_amount": "missed",
    "genuine_amount_alerted": "genuine alerted",
}

# Performance by the night that measured it: the days measured in the window lie up to the
# largest maturity before it.
_PERFORMANCE_SQL = """
select measured_on, maturity_days, average_precision, alert_precision, card_precision_at_100,
       detected_amount, prevented_amount, missed_amount, genuine_amount_alerted, fraud_amount
from analytics.model_performance_matured
where model_name = :model_name and tx_date >= :measured_from and tx_date <= :last
  and measured_on >= :first and measured_on <= :last
"""

_ALERTS_SQL = """
select tx_date, count(*) as alerts, count(*) filter (where is_fraud_reported) as confirmed
from analytics.scored_transactions
where tx_datetime >= :start and tx_datetime < :end and is_alert and model_name = :model_name
group by tx_date
"""

_DRIFT_SQL = """
select drift_date, feature, psi
from analytics.feature_drift_daily
where drift_date >= :first and drift_date <= :last and model_name = :model_name
"""

_QUARANTINED_SQL = """
select tx_date, quarantined_count
from analytics.quality_daily
where tx_date >= :first and tx_date <= :last
"""

# The night's alerts, one row per card: its highest-scored alert, with how many alerts the card
# had and their amount.
_QUEUE_SQL = """
with alerts as (
    select
        customer_id, transaction_id, tx_datetime, terminal_id, tx_amount, score, model_version,
        reason_1, reason_2, reason_3, is_fraud_reported,
        count(*) over (partition by customer_id) as card_alerts,
        sum(tx_amount) over (partition by customer_id) as card_amount,
        row_number() over (
            partition by customer_id order by score desc, transaction_id
        ) as card_rank
    from analytics.scored_transactions
    where tx_datetime >= :start and tx_datetime < :end and is_alert and model_name = :model_name
)
select
    customer_id, transaction_id, tx_datetime, terminal_id, tx_amount, score, model_version,
    reason_1, reason_2, reason_3, is_fraud_reported, card_alerts, card_amount,
    count(*) over () as cards
from alerts
where card_rank = 1
order by score desc, customer_id
limit :limit
"""


# One value per night of the window, oldest first (``None`` where nothing was measured): a
# chart's series as it is drawn.
Trend = Series


@dataclass(frozen=True)
class QueuedCard:
    """One card of the alert queue: its highest-scored alert of the night and its total."""

    customer_id: int
    transaction_id: int
    tx_datetime: datetime
    terminal_id: int
    tx_amount: Decimal
    score: float
    model_version: int
    reasons: tuple[str, ...]
    is_fraud_reported: bool
    card_alerts: int
    card_amount: Decimal


@dataclass(frozen=True)
class LiveModel:
    """The page's charts and the alert queue; every trend has one value per night."""

    nights: tuple[date, ...]
    average_precision: tuple[Trend, ...]
    alert_precision: tuple[Trend, ...]
    card_precision: tuple[Trend, ...]
    alerts: Trend
    confirmed: Trend
    psi: tuple[Trend, ...]
    quarantined: Trend
    # The money of the alerts at the oldest maturity, and the value detection rate per maturity.
    money: tuple[Trend, ...] = ()
    value_detection_rate: tuple[Trend, ...] = ()
    queue_night: date | None = None
    queue_cards: int = 0
    queue: tuple[QueuedCard, ...] = ()


def window(today: date, nights: int = LIVE_NIGHTS) -> tuple[date, ...]:
    """The ``nights`` nights before ``today``, oldest first."""
    return tuple(today - timedelta(days=back) for back in range(nights, 0, -1))


def aligned(nights: Sequence[date], values: Mapping[date, float]) -> tuple[float | None, ...]:
    """One value per night, ``None`` where ``values`` has none."""
    return tuple(values.get(night) for night in nights)


def performance_trends(
    rows: Iterable[Mapping[str, Any]], nights: Sequence[date], maturities: Sequence[int]
) -> tuple[tuple[Trend, ...], ...]:
    """Average precision, alert precision and card precision at 100 per maturity, by the night
    that measured them, in the order of :data:`PERFORMANCE_METRICS`.

    A night scored by two versions has a row per version; their mean stands for the night.
    """
    sums: dict[tuple[str, int, date], list[float]] = {}
    for row in rows:
        night, maturity = row["measured_on"], int(str(row["maturity_days"]))
        assert isinstance(night, date)
        for metric in PERFORMANCE_METRICS:
            if (value := row[metric]) is not None:
                sums.setdefault((metric, maturity, night), []).append(float(str(value)))

    def trends(metric: str) -> tuple[Trend, ...]:
        return tuple(
            Trend(
                f"{maturity} days of labels",
                aligned(
                    nights,
                    {
                        night: sum(found) / len(found)
                        for (name, days, night), found in sums.items()
                        if name == metric and days == maturity
                    },
                ),
            )
            for maturity in sorted(set(maturities))
        )

    return tuple(trends(metric) for metric in PERFORMANCE_METRICS)


def _sums(rows: Iterable[Mapping[str, Any]], column: str) -> dict[tuple[int, date], float]:
    """A column summed per maturity and measuring night (a night scored by two versions has a
    row per version: amounts add up); rows without the figure are left out."""
    sums: dict[tuple[int, date], float] = {}
    for row in rows:
        if row.get(column) is None:
            continue
        key = (int(str(row["maturity_days"])), row["measured_on"])
        sums[key] = sums.get(key, 0.0) + float(str(row[column]))
    return sums


def money_trends(
    rows: Sequence[Mapping[str, Any]], nights: Sequence[date], maturities: Sequence[int]
) -> tuple[tuple[Trend, ...], tuple[Trend, ...]]:
    """The detected, prevented, missed and genuine amounts alerted at the oldest maturity, and
    the value detection rate per maturity (the sum detected over the sum of fraud: a ratio of
    sums), by the night that measured them."""
    oldest = max(maturities, default=0)
    amounts = tuple(
        Trend(
            name,
            aligned(
                nights,
                {
                    night: value
                    for (days, night), value in _sums(rows, column).items()
                    if days == oldest
                },
            ),
        )
        for column, name in MONEY_AMOUNTS.items()
    )
    detected, fraud = _sums(rows, "detected_amount"), _sums(rows, "fraud_amount")
    rates = tuple(
        Trend(
            f"{maturity} days of labels",
            aligned(
                nights,
                {
                    night: detected[(days, night)] / total
                    for (days, night), total in fraud.items()
                    if days == maturity and total > 0
                },
            ),
        )
        for maturity in sorted(set(maturities))
    )
    return amounts, rates


def psi_trends(
    rows: Iterable[Mapping[str, Any]],
    nights: Sequence[date],
    features: int = DRIFTED_FEATURES,
) -> tuple[Trend, ...]:
    """The score's PSI, then the ``features`` features with the largest PSI in the window."""
    by_column: dict[str, dict[date, float]] = {}
    for row in rows:
        night = row["drift_date"]
        assert isinstance(night, date)
        by_column.setdefault(str(row["feature"]), {})[night] = float(str(row["psi"]))
    drifted = sorted(
        (column for column in by_column if column != SCORE),
        key=lambda column: (-max(by_column[column].values()), column),
    )[:features]
    columns = ([SCORE] if SCORE in by_column else []) + drifted
    return tuple(Trend(column, aligned(nights, by_column[column])) for column in columns)


def _rows(
    connection: Connection, query: str, parameters: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rows of one query as plain dictionaries."""
    return [dict(row) for row in connection.execute(sa.text(query), parameters).mappings()]


def _counts(
    name: str, nights: Sequence[date], rows: Iterable[Mapping[str, Any]], column: str
) -> Trend:
    """A count per night (the views sum into numeric), ``None`` for a night without a row."""
    return Trend(name, aligned(nights, {row["tx_date"]: float(str(row[column])) for row in rows}))


def _card(row: Mapping[str, Any]) -> QueuedCard:
    reasons = tuple(str(row[name]) for name in ("reason_1", "reason_2", "reason_3") if row[name])
    fields = {name: row[name] for name in QueuedCard.__dataclass_fields__ if name != "reasons"}
    return QueuedCard(reasons=reasons, **fields)


def load_live_model(connection: Connection, settings: Settings, today: date) -> LiveModel:
    """Read the window's performance, alerts, drift and quarantine, and the latest night's queue."""
    nights = window(today)
    first, last = nights[0], nights[-1]
    model = {"model_name": settings.model_name}
    days = {"first": first, "last": last}
    scores = {**model, "start": midnight(first), "end": midnight(today)}
    oldest = first - timedelta(days=max(settings.performance_maturity_days, default=0))
    performance = _rows(connection, _PERFORMANCE_SQL, {**model, **days, "measured_from": oldest})
    average_precision, alert_precision, card_precision = performance_trends(
        performance, nights, settings.performance_maturity_days
    )
    money, value_detection_rate = money_trends(
        performance, nights, settings.performance_maturity_days
    )
    alerts = _rows(connection, _ALERTS_SQL, scores)
    quarantined = _rows(connection, _QUARANTINED_SQL, days)
    live = LiveModel(
        nights=nights,
        average_precision=average_precision,
        alert_precision=alert_precision,
        card_precision=card_precision,
        money=money,
        value_detection_rate=value_detection_rate,
        alerts=_counts("alerts", nights, alerts, "alerts"),
        confirmed=_counts("confirmed fraud", nights, alerts, "confirmed"),
        psi=psi_trends(_rows(connection, _DRIFT_SQL, {**model, **days}), nights),
        quarantined=_counts("quarantined rows", nights, quarantined, "quarantined_count"),
    )
    if not alerts:
        return live
    night = max(row["tx_date"] for row in alerts)
    bounds = {"start": midnight(night), "end": midnight(night + timedelta(days=1))}
    queue = _rows(connection, _QUEUE_SQL, {**model, **bounds, "limit": QUEUE_CARDS})
    return replace(
        live,
        queue_night=night,
        queue_cards=int(queue[0]["cards"]) if queue else 0,
        queue=tuple(_card(row) for row in queue),
    )
