"""Performance of the live model once labels mature: each day measured again at 7, 14 and 30 days.

The figures are measured on the reported labels (``label_source`` = ``reported``): they reach
every payment, where an investigator's verdict reaches only the reviewed cards. CP@100 counts new
cards only, as the evaluation protocol and the promotion gate count it: a card with a fraud known
(reported, or confirmed by an investigator) before the day began, and before the measure's
cut-off, is known already and left out of it; the other metrics keep every payment.

Each row also holds the money of the night's alerts (:mod:`fraud.model.money`): alerted cards,
those confirmed fraud, the detected, prevented, missed and genuine amounts and the value
detection rate, on the same reported labels; the prevented amount reads the alerted cards' frauds
after the night, up to the cut-off.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import copy_frame, copy_out_table, inline
from fraud.config import Settings
from fraud.dates import midnight
from fraud.features.window import known_card_rows
from fraud.labels import REPORTED, reported_labels_before
from fraud.model.metrics import KNOWN_CARD_LOOKBACK_DAYS, ranking_metrics
from fraud.model.money import CARD_REPORTED_AT, FIGURES, night_money, review_moment

logger = logging.getLogger(__name__)

# The matured figures are the reported labels' (chargebacks and dispute outcomes): they reach
# every payment, where a verdict reaches only reviewed cards. A transaction without a fraud report
# before the cut-off counts as genuine as of the cut-off. Published scores only
# (sql/V025__publish_scored_days.sql). Streamed through COPY (%(name)s parameters): a day's
# scores are too many for row objects.
LABEL_SOURCE = REPORTED
_SCORES_WITH_LABELS_SQL = f"""
select (extract(epoch from s.tx_datetime) * 1000000)::bigint as tx_us,
       s.customer_id, s.model_version, s.score, s.is_alert, s.tx_amount::float8 as tx_amount,
       coalesce(l.is_fraud, false) as is_fraud
from scoring.transaction_scores as s
left join scoring.scored_day as d on d.tx_date = (s.tx_datetime at time zone 'UTC')::date
left join {reported_labels_before("%(cutoff)s")} as l on l.transaction_id = s.transaction_id
where s.tx_datetime >= %(start)s and s.tx_datetime < %(end)s and s.model_name = %(model_name)s
  and s.generation = coalesce(d.generation, 0)
"""
_SCORE_TYPES = {
    "tx_us": pa.int64(),
    "customer_id": pa.int64(),
    "model_version": pa.int64(),
    "score": pa.float64(),
    "is_alert": pa.bool_(),
    "tx_amount": pa.float64(),
    "is_fraud": pa.bool_(),
}
# The frauds reported before the cut-off on the night's alerted cards, made since the known-card
# lookback began, each with its card's first report among them: what the alerts could prevent
# after the review. A label follows its payment, so the reports' index bounds the read.
_FRAUDS_OF_CARDS_SQL = f"""
select t.customer_id, t.tx_datetime, t.tx_amount::float8 as tx_amount,
       min(l.known_at) over (partition by t.customer_id) as card_reported_at
from {reported_labels_before(":cutoff")} as l
join raw.transactions as t using (transaction_id)
where l.is_fraud and l.known_at >= :since and t.tx_datetime >= :since
  and t.customer_id = any(:cards)
"""


PERFORMANCE_METRICS = ("average_precision", "card_precision_at_100", "recall_top_decile")

_DELETE_MEASURED_SQL = """
delete from monitoring.model_performance
where date = :day and model_name = :name and maturity_days = :maturity
"""


@dataclass(frozen=True)
class FloorBreach:
    """A day on which a version's average precision, with mature labels, fell below the floor."""

    date: str
    model_version: int
    maturity_days: int
    average_precision: float
    floor: float

    def describe(self) -> str:
        """One line for the retraining reason and the alert."""
        return (
            f"performance: average precision {self.average_precision:.3f} below the floor"
            f" {self.floor:g} for version {self.model_version} on {self.date}"
            f" ({self.maturity_days} days of labels)"
        )


@dataclass(frozen=True)
class PerformanceOutcome:
    """What one night of performance monitoring measured; small enough for XCom."""

    night: str
    measured_dates: tuple[str, ...]
    rows_written: int
    floor_breaches: tuple[FloorBreach, ...]


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _money_columns(
    scored: pd.DataFrame, frauds_after: pd.DataFrame, review_at: datetime
) -> dict[str, object]:
    """The money of the night's alerts: counts as integers, amounts, null rates when undefined."""
    figures = night_money(scored, frauds_after, review_at).figures()
    return {
        name: (
            int(round(figures[name]))
            if name.startswith("alerted_cards")
            else _none_if_nan(figures[name])
        )
        for name in FIGURES
    }


def performance_rows(
    frame: pd.DataFrame,
    day: date,
    model_name: str,
    maturity_days: int,
    *,
    frauds_after: pd.DataFrame | None = None,
    review_delay: timedelta = timedelta(hours=10),
) -> pd.DataFrame:
    """Metrics and money of one day's scored and labelled transactions, one row per model
    version; ``frauds_after`` holds the frauds of its cards after the night (none if omitted)."""
    if frauds_after is None:
        frauds_after = pd.DataFrame(
            columns=["customer_id", "tx_datetime", "tx_amount", CARD_REPORTED_AT]
        )
    review_at = review_moment(day, review_delay)
    rows = []
    versions = frame["model_version"].unique()
    # A day is almost always scored by one version: measured in place, without a copy.
    groups = (
        [(versions[0], frame)]
        if len(versions) == 1
        else list(frame.groupby("model_version", sort=True))
    )
    for version, scored in groups:
        metrics = ranking_metrics(scored)
        alerts = scored.loc[scored["is_alert"].astype(bool), "is_fraud"]
        rows.append(
            {
                "date": day,
                "model_name": model_name,
                "model_version": int(version),
                "maturity_days": maturity_days,
                "label_source": LABEL_SOURCE,
                "transactions": len(scored),
                "frauds_known": int(scored["is_fraud"].sum()),
                **{name: _none_if_nan(metrics[name]) for name in PERFORMANCE_METRICS},
                "alert_precision": float(alerts.mean()) if len(alerts) else None,
                **_money_columns(scored, frauds_after, review_at),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PerformanceConfig:
    """The settings the performance monitoring reads."""

    model_name: str
    maturity_days: tuple[int, ...]
    floor_average_precision: float
    review_delay_hours: float = 10.0

    @classmethod
    def of(cls, settings: Settings) -> PerformanceConfig:
        """The performance monitoring's part of the settings."""
        return cls(
            settings.model_name,
            settings.performance_maturity_days,
            settings.performance_floor_average_precision,
            settings.review_delay_hours,
        )


def _labelled_scores(engine: Engine, model_name: str, day: date, cutoff: datetime) -> pd.DataFrame:
    """The day's scores with the labels reported before ``cutoff``, and ``card_known`` where
    the card had a fraud known before the day began (left out of CP@100)."""
    start = midnight(day)
    params = {
        "start": start,
        "end": start + timedelta(days=1),
        "cutoff": cutoff,
        "model_name": model_name,
    }
    with engine.connect() as connection:
        query = inline(connection, _SCORES_WITH_LABELS_SQL, params)
        frame = copy_out_table(connection, query, _SCORE_TYPES).to_pandas()
        frame["tx_datetime"] = pd.to_datetime(frame.pop("tx_us") * 1000, utc=True)
        frame["card_known"] = known_card_rows(
            connection, frame, cutoff=cutoff, lookback_days=KNOWN_CARD_LOOKBACK_DAYS
        )
    frame["is_fraud"] = frame["is_fraud"].astype(np.int8)
    return frame


def _frauds_of_alerted_cards(
    engine: Engine, scored: pd.DataFrame, day: date, cutoff: datetime
) -> pd.DataFrame:
    """The frauds reported before ``cutoff`` on the day's alerted cards, each with its card's
    first report (:data:`_FRAUDS_OF_CARDS_SQL`)."""
    cards = scored.loc[scored["is_alert"].to_numpy(dtype=bool), "customer_id"].unique()
    params = {
        "cutoff": cutoff,
        "since": midnight(day) - timedelta(days=KNOWN_CARD_LOOKBACK_DAYS),
        "cards": [int(card) for card in cards],
    }
    columns = ["customer_id", "tx_datetime", "tx_amount", CARD_REPORTED_AT]
    if not params["cards"]:
        return pd.DataFrame(columns=columns)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(_FRAUDS_OF_CARDS_SQL), params).fetchall()
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


def floor_breaches(rows: pd.DataFrame, config: PerformanceConfig) -> tuple[FloorBreach, ...]:
    """Rows at the largest maturity whose average precision fell below the configured floor."""
    floor = config.floor_average_precision
    if rows.empty:
        return ()
    mature = rows[
        (rows["maturity_days"] == max(config.maturity_days))
        & (rows["average_precision"].astype(float) < floor)
    ]
    return tuple(
        FloorBreach(
            date=row.date.isoformat(),
            model_version=int(row.model_version),
            maturity_days=int(row.maturity_days),
            average_precision=float(row.average_precision),
            floor=floor,
        )
        for row in mature.itertuples(index=False)
    )


def nightly_performance(
    engine: Engine, config: PerformanceConfig, *, interval_start: datetime, interval_end: datetime
) -> PerformanceOutcome:
    """Measure each day exactly one configured maturity old, with the labels reported before
    the interval's end; replace those days' rows."""
    started = time.perf_counter()
    night = interval_start.date()
    measured: list[pd.DataFrame] = []
    for maturity in sorted(set(config.maturity_days)):
        day = night - timedelta(days=maturity)
        scored = _labelled_scores(engine, config.model_name, day, interval_end)
        rows = performance_rows(
            scored,
            day,
            config.model_name,
            maturity,
            frauds_after=_frauds_of_alerted_cards(engine, scored, day, interval_end),
            review_delay=timedelta(hours=config.review_delay_hours),
        )
        with engine.begin() as connection:
            connection.execute(
                sa.text(_DELETE_MEASURED_SQL),
                {"day": day, "name": config.model_name, "maturity": maturity},
            )
            copy_frame(connection, rows, "monitoring.model_performance")
        measured.append(rows)
    written = pd.concat(measured, ignore_index=True)
    outcome = PerformanceOutcome(
        night=night.isoformat(),
        measured_dates=tuple(sorted({day.isoformat() for day in written.get("date", [])})),
        rows_written=len(written),
        floor_breaches=floor_breaches(written, config),
    )
    logger.info(
        "performance on %s: measured days %s, %d rows written, %d under the floor, %.1f s",
        night,
        list(outcome.measured_dates),
        outcome.rows_written,
        len(outcome.floor_breaches),
        time.perf_counter() - started,
    )
    return outcome
