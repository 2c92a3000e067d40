"""Entry points of the pipeline's tasks: one function per task, shared by the DAGs and the CLI.

Each takes the data interval and a run id (whatever datetime type Airflow hands over), reads the
settings, opens the warehouse and calls one stage; each returns the stage's outcome through
:func:`fraud.xcom.to_xcom`, and takes an upstream outcome back through :func:`fraud.xcom.from_xcom`.
Stages are imported inside the functions, so that importing this module (as every DAG file
does when a task runs) costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from fraud.config import Settings, load_settings
from fraud.dates import day_interval, parse_moment, utc
from fraud.db import one_line_errors, warehouse_engine
from fraud.xcom import from_xcom, to_xcom

XCom = dict[str, Any]


def warehouse(settings: Settings | None = None) -> Engine:
    """The warehouse engine of the configured URL (one per process)."""
    settings = settings or load_settings()
    return warehouse_engine(settings.require_database_url())


def validate_batch(interval_start: datetime, interval_end: datetime, run_id: str) -> XCom:
    """Run the quality gate over the interval; raises ``BatchValidationError`` on a failed batch."""
    from fraud.quality.validate import validate_interval

    settings = load_settings()
    outcome = validate_interval(
        warehouse(settings),
        interval_start=utc(interval_start),
        interval_end=utc(interval_end),
        run_id=run_id,
        gate=settings.quality_gate,
        artifact_dir=settings.artifact_dir,
    )
    return to_xcom(outcome)


def build_features(
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    partition: int = 0,
    partitions: int = 1,
) -> XCom:
    """Build the point-in-time features of one share of the interval's validated rows."""
    from fraud.features.nightly import build_share_features
    from fraud.shares import Share

    settings = load_settings()
    with one_line_errors(settings.require_database_url()):
        outcome = build_share_features(
            warehouse(settings),
            interval_start=utc(interval_start),
            interval_end=utc(interval_end),
            run_id=run_id,
            label_delay_days=settings.label_delay_days,
            share=Share(partition, partitions),
            chunk_rows=settings.feature_chunk_rows,
        )
    return to_xcom(outcome)


def resolve_champion(model_version: int | None = None) -> XCom:
    """The version every share of a run scores with: the one a manual trigger chose (it must be
    registered), else the champion's now."""
    from fraud.model.registry import (
        VersionRef,
        client,
        registry_errors,
        require_champion_version,
    )

    settings = load_settings()
    if model_version is None:
        version = require_champion_version(settings)
    else:
        with registry_errors(settings):
            client(settings).get_model_version(settings.model_name, str(model_version))
        version = model_version
    return to_xcom(VersionRef(version, f"models:/{settings.model_name}/{version}"))


def scoring_interval(
    day: str | None, interval_start: datetime, interval_end: datetime
) -> tuple[datetime, datetime]:
    """The day a manual trigger chose to rescore (``YYYY-MM-DD``), else the run's data interval."""
    return day_interval(day) if day else (utc(interval_start), utc(interval_end))


def score_partition(
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    partition: int,
    partitions: int,
    model_version: int,
) -> XCom:
    """Score one share of the interval's customers with one model version, in one transaction."""
    from fraud.model.registry import load_version
    from fraud.scoring.compiled import for_scoring
    from fraud.scoring.score import score_share
    from fraud.shares import Share

    settings = load_settings()
    model = for_scoring(load_version(settings, model_version), settings)
    with one_line_errors(settings.require_database_url()):
        outcome = score_share(
            warehouse(settings),
            model,
            interval_start=utc(interval_start),
            interval_end=utc(interval_end),
            run_id=run_id,
            alert_threshold=settings.alert_threshold,
            share=Share(partition, partitions),
            chunk_rows=settings.score_chunk_rows,
        )
    return to_xcom(outcome)


def mark_top_k(interval_start: datetime, interval_end: datetime, model_version: int) -> XCom:
    """Mark the interval's top-k scores as alerts, with reason codes, once every share is in."""
    from fraud.model.registry import load_version
    from fraud.scoring.score import TopKOutcome
    from fraud.scoring.score import mark_top_k as mark

    settings = load_settings()
    model = load_version(settings, model_version)
    with (
        one_line_errors(settings.require_database_url()),
        warehouse(settings).begin() as connection,
    ):
        alerts = mark(
            connection,
            model,
            interval_start=utc(interval_start),
            interval_end=utc(interval_end),
            alert_threshold=settings.alert_threshold,
            alert_top_k=settings.alert_top_k,
        )
    return to_xcom(TopKOutcome(alert_count=alerts, model_version=model_version))


def score_day(interval_start: datetime, interval_end: datetime, run_id: str) -> XCom:
    """Every share, then the top k, with the champion, as ``fraud_score`` does, in one transaction."""
    from fraud.model.registry import load_champion
    from fraud.scoring.compiled import for_scoring
    from fraud.scoring.score import score_day as score

    settings = load_settings()
    model = for_scoring(load_champion(settings), settings)
    with one_line_errors(settings.require_database_url()):
        outcome = score(
            warehouse(settings),
            model,
            interval_start=utc(interval_start),
            interval_end=utc(interval_end),
            run_id=run_id,
            alert_threshold=settings.alert_threshold,
            alert_top_k=settings.alert_top_k,
            shares=settings.score_shares,
            chunk_rows=settings.score_chunk_rows,
        )
    return to_xcom(outcome)


def compute_drift(interval_start: datetime, interval_end: datetime, run_id: str) -> XCom:
    """PSI per feature and for the score against the model version's reference, stored."""
    from fraud.monitoring.drift import nightly_drift

    settings = load_settings()
    outcome = nightly_drift(
        warehouse(settings),
        settings,
        interval_start=utc(interval_start),
        interval_end=utc(interval_end),
        run_id=run_id,
    )
    return to_xcom(outcome)


def write_drift_report(interval_start: datetime, interval_end: datetime) -> XCom:
    """The night's Evidently data-drift report, beside the stored PSI."""
    from fraud.monitoring.drift import nightly_drift_report

    settings = load_settings()
    report = nightly_drift_report(
        warehouse(settings),
        settings,
        interval_start=utc(interval_start),
        interval_end=utc(interval_end),
    )
    return to_xcom(report)


def compute_performance(interval_start: datetime, interval_end: datetime, run_id: str) -> XCom:
    """Metrics of the days whose labels reached each configured maturity by the interval's end."""
    from fraud.monitoring.performance import nightly_performance

    settings = load_settings()
    outcome = nightly_performance(
        warehouse(settings),
        settings,
        interval_start=utc(interval_start),
        interval_end=utc(interval_end),
    )
    return to_xcom(outcome)


def request_retraining(drift: XCom, performance: XCom | None = None) -> XCom | None:
    """Open a retraining request for persistent drift or a performance drop, if none is pending."""
    from fraud.monitoring.drift import DriftOutcome
    from fraud.monitoring.performance import PerformanceOutcome
    from fraud.monitoring.retraining import request_retraining as open_request

    settings = load_settings()
    measured = from_xcom(PerformanceOutcome, performance) if performance else None
    opened = open_request(warehouse(settings), settings, from_xcom(DriftOutcome, drift), measured)
    return to_xcom(opened) if opened is not None else None


@dataclass(frozen=True)
class RetentionOutcome:
    """The derived day partitions a night dropped, and the oldest day it kept."""

    kept_from: str | None
    dropped: tuple[str, ...]


def drop_expired_partitions(interval_start: datetime) -> XCom:
    """Drop the derived tables' partitions older than ``FRAUD_RETENTION_DAYS`` (never raw.*)."""
    from fraud.partitions import drop_partitions_before, retention_cutoff

    settings = load_settings()
    if settings.retention_days is None:
        return to_xcom(RetentionOutcome(kept_from=None, dropped=()))
    keep_from = retention_cutoff(utc(interval_start).date(), settings.retention_days)
    with one_line_errors(settings.require_database_url()):
        with warehouse(settings).begin() as connection:
            dropped = drop_partitions_before(connection, keep_from)
    return to_xcom(RetentionOutcome(kept_from=keep_from.isoformat(), dropped=tuple(dropped)))


def retrain_cutoff(
    as_of: str | None, drift_dates: list[str], logical_date: datetime | None, run_after: datetime
) -> datetime:
    """Labels reported before this moment may be used: the explicit ``as_of``, else the end of the
    drifted night that triggered the run, else the run's logical date (or its run-after time)."""
    if as_of:
        return parse_moment(as_of)
    if drift_dates:
        return day_interval(max(drift_dates))[1]
    return utc(logical_date or run_after)


def retrain_trigger(events: list[dict[str, Any]], run_type: object) -> str:
    """Why a retraining runs: the drift reasons of its Asset events, else its run type's value."""
    reasons = "; ".join(str(extra.get("reason")) for extra in events)
    return reasons or str(getattr(run_type, "value", run_type))


def train_challenger(label_cutoff: datetime, trigger: str) -> XCom:
    """Train and register a challenger with labels reported before ``label_cutoff``."""
    from fraud.model.challenger import train_challenger as train

    settings = load_settings()
    return to_xcom(train(warehouse(settings), settings, utc(label_cutoff), trigger))


@dataclass(frozen=True)
class PromotionOutcome:
    """The gate's decision on a challenger and the retraining requests the run answered."""

    decision: str
    version: int
    answered_requests: tuple[str, ...]


def decide_promotion(challenger: XCom, run_id: str) -> XCom:
    """Apply the promotion gate; close the retraining requests this run answered."""
    from fraud.model.challenger import Challenger
    from fraud.model.promotion import decide_promotion as decide
    from fraud.monitoring.retraining import complete_retraining_requests

    settings = load_settings()
    engine = warehouse(settings)
    candidate = from_xcom(Challenger, challenger)
    decision = decide(engine, settings, candidate)
    answered = complete_retraining_requests(engine, settings, run_id)
    return to_xcom(PromotionOutcome(decision, candidate.version, tuple(answered)))
