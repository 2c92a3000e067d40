"""Entry points of the pipeline's tasks: one function per task, shared by the DAGs and the CLI.

Every task keeps one contract, declared by :func:`task`:

- its inputs are typed, and the data interval, in whatever datetime type Airflow, the command
  line or a test hands over, becomes an :class:`Interval` of UTC instants once, here: stages take
  those instants as they are;
- it reads the settings and the warehouse once (:func:`_warehouse`) and makes one call into a
  stage, with the few values that stage reads;
- a database failure anywhere in it surfaces as one ``DatabaseError`` line naming the server;
- it returns the stage's outcome as the plain JSON of :func:`fraud.xcom.to_xcom`, typed by a
  ``TypedDict`` of :mod:`fraud.results`, and takes an upstream outcome back through
  :func:`fraud.xcom.from_xcom`.

Stages are imported inside the functions, so that importing this module (as every DAG file
does when a task runs) costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.engine import Engine

from fraud.config import Settings, load_settings
from fraud.dates import day_interval, parse_moment, utc, utc_interval
from fraud.db import one_line_errors, warehouse_engine
from fraud.results import (
    ChallengerResult,
    DriftReportResult,
    DriftResult,
    FeatureResult,
    PerformanceResult,
    PromotionResult,
    RetentionResult,
    RetrainingRequestResult,
    ScoreResult,
    TopKResult,
    ValidationResult,
    VersionResult,
)
from fraud.xcom import from_xcom, to_xcom

P = ParamSpec("P")
R = TypeVar("R")
# The names of the task functions, in the order they are declared: each keeps the contract.
TASKS: list[str] = []


def task(function: Callable[P, R]) -> Callable[P, R]:
    """Declare a task: any database failure inside it becomes one ``DatabaseError`` line that
    names the (masked) server, whichever stage raised it."""

    @wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_line_errors(load_settings().database_url or ""):
            return function(*args, **kwargs)

    TASKS.append(function.__name__)
    return run


@dataclass(frozen=True)
class Interval:
    """A task's data interval ``[start, end)`` as UTC instants, normalised once at the edge."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Interval:
        """The interval of two moments of any datetime type; an empty one is an error."""
        return cls(*utc_interval(start, end))


def _warehouse() -> tuple[Settings, Engine]:
    """The settings and the warehouse's engine (one per process), read once per task."""
    settings = load_settings()
    return settings, warehouse_engine(settings.require_database_url())


class FailedBatch(RuntimeError):
    """The quality gate failed the batch: final, so not retried. ``result`` is the recorded run."""

    def __init__(self, message: str, result: ValidationResult) -> None:
        super().__init__(message)
        self.result = result


@task
def validate_batch(
    interval_start: datetime, interval_end: datetime, run_id: str
) -> ValidationResult:
    """Run the quality gate over the interval; raises :class:`FailedBatch` on a failed batch."""
    from fraud.quality.validate import BatchValidationError, validate_interval

    interval = Interval.of(interval_start, interval_end)
    settings, engine = _warehouse()
    try:
        outcome = validate_interval(
            engine,
            interval_start=interval.start,
            interval_end=interval.end,
            run_id=run_id,
            gate=settings.quality_gate,
            artifact_dir=settings.artifact_dir,
        )
    except BatchValidationError as error:
        raise FailedBatch(str(error), to_xcom(error.outcome)) from error
    return to_xcom(outcome)


@task
def build_features(
    interval_start: datetime, interval_end: datetime, run_id: str, share: int = 0, shares: int = 1
) -> FeatureResult:
    """Build the point-in-time features of one share of the interval's validated payments."""
    from fraud.features.nightly import build_share_features
    from fraud.shares import Share

    interval = Interval.of(interval_start, interval_end)
    settings, engine = _warehouse()
    outcome = build_share_features(
        engine,
        interval_start=interval.start,
        interval_end=interval.end,
        run_id=run_id,
        label_delay_days=settings.label_delay_days,
        share=Share(share, shares),
        chunk_rows=settings.feature_chunk_rows,
    )
    return to_xcom(outcome)


@task
def resolve_champion(model_version: int | None = None) -> VersionResult:
    """The version every share of a run scores with: the one a manual trigger chose (it must be
    registered), else the champion's now."""
    from fraud.model.registry import VersionRef, registered_version, require_champion_version

    settings = load_settings()
    if model_version is None:
        version = require_champion_version(settings)
    else:
        version = registered_version(settings, model_version)
    return to_xcom(VersionRef(version, f"models:/{settings.model_name}/{version}"))


def scoring_interval(
    day: str | None, interval_start: datetime, interval_end: datetime
) -> tuple[datetime, datetime]:
    """The day a manual trigger chose to rescore (``YYYY-MM-DD``), else the run's data interval
    as it came (the task it goes to normalises it)."""
    return day_interval(day) if day else (interval_start, interval_end)


@task
def score_partition(
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    share: int,
    shares: int,
    model_version: int,
) -> ScoreResult:
    """Score one share of the interval's cards with one model version, in one transaction.

    The name is the task id's, kept from before the glossary: the task scores one share.
    """
    from fraud.model.registry import load_version
    from fraud.scoring.compiled import for_scoring
    from fraud.scoring.score import score_share
    from fraud.shares import Share

    interval = Interval.of(interval_start, interval_end)
    settings, engine = _warehouse()
    outcome = score_share(
        engine,
        for_scoring(load_version(settings, model_version), settings),
        interval_start=interval.start,
        interval_end=interval.end,
        run_id=run_id,
        share=Share(share, shares),
        chunk_rows=settings.score_chunk_rows,
    )
    return to_xcom(outcome)


@task
def mark_top_k(interval_start: datetime, interval_end: datetime, model_version: int) -> TopKResult:
    """Choose the night's alerted cards by the review budget's policy, with reason codes, once
    every share is in, and publish the night's generation."""
    from fraud.model.alert_policy import AlertPolicy
    from fraud.model.registry import load_version
    from fraud.scoring.score import TopKOutcome
    from fraud.scoring.score import mark_top_k as mark

    interval = Interval.of(interval_start, interval_end)
    settings, engine = _warehouse()
    model = load_version(settings, model_version)
    with engine.begin() as connection:
        alerts = mark(
            connection,
            model,
            interval_start=interval.start,
            interval_end=interval.end,
            policy=AlertPolicy.of(settings),
            review_cooldown_days=settings.review_cooldown_days,
        )
    return to_xcom(TopKOutcome(alert_count=alerts, model_version=model_version))


@task
def score_day(interval_start: datetime, interval_end: datetime, run_id: str) -> ScoreResult:
    """Every share, then the night's alerts, with the champion, as ``fraud_score`` does, in one
    transaction."""
    from fraud.model.alert_policy import AlertPolicy
    from fraud.model.registry import load_champion
    from fraud.scoring.compiled import for_scoring
    from fraud.scoring.score import score_day as score

    interval = Interval.of(interval_start, interval_end)
    settings, engine = _warehouse()
    outcome = score(
        engine,
        for_scoring(load_champion(settings), settings),
        interval_start=interval.start,
        interval_end=interval.end,
        run_id=run_id,
        policy=AlertPolicy.of(settings),
        shares=settings.score_shares,
        chunk_rows=settings.score_chunk_rows,
        review_cooldown_days=settings.review_cooldown_days,
    )
    return to_xcom(outcome)


@task
def compute_drift(interval_start: datetime, interval_end: datetime, run_id: str) -> DriftResult:
    """PSI per feature and for the score against the model version's reference, stored."""
    from fraud.monitoring.drift import DriftConfig, nightly_drift

    interval = Interval.of(interval_start, interval_end)
    settings, engine = _warehouse()
    outcome = nightly_drift(
        engine,
        DriftConfig.of(settings),
        interval_start=interval.start,
        interval_end=interval.end,
        run_id=run_id,
    )
    return to_xcom(outcome)


@task
def write_drift_report(interval_start: datetime, interval_end: datetime) -> DriftReportResult:
    """The night's Evidently data-drift report, beside the stored PSI."""
    from fraud.monitoring.drift import DriftConfig, nightly_drift_report

    interval = Interval.of(interval_start, interval_end)
    settings, engine = _warehouse()
    report = nightly_drift_report(
        engine, DriftConfig.of(settings), interval_start=interval.start, interval_end=interval.end
    )
    return to_xcom(report)


@task
def compute_performance(
    interval_start: datetime, interval_end: datetime, run_id: str
) -> PerformanceResult:
    """Metrics of the days whose labels reached each configured maturity by the interval's end."""
    from fraud.monitoring.performance import PerformanceConfig, nightly_performance

    interval = Interval.of(interval_start, interval_end)
    settings, engine = _warehouse()
    outcome = nightly_performance(
        engine,
        PerformanceConfig.of(settings),
        interval_start=interval.start,
        interval_end=interval.end,
    )
    return to_xcom(outcome)


@task
def request_retraining(
    drift: Mapping[str, Any], performance: Mapping[str, Any] | None = None
) -> RetrainingRequestResult | None:
    """Open a retraining request for persistent drift or a performance drop, if none is pending."""
    from fraud.monitoring.drift import DriftOutcome
    from fraud.monitoring.performance import PerformanceOutcome
    from fraud.monitoring.retraining import RetrainingConfig
    from fraud.monitoring.retraining import request_retraining as open_request

    measured = from_xcom(PerformanceOutcome, performance) if performance else None
    settings, engine = _warehouse()
    opened = open_request(
        engine, RetrainingConfig.of(settings), from_xcom(DriftOutcome, drift), measured
    )
    return to_xcom(opened) if opened is not None else None


@dataclass(frozen=True)
class RetentionOutcome:
    """The derived day partitions a night dropped, and the oldest day it kept."""

    kept_from: str | None
    dropped: tuple[str, ...]


@task
def drop_expired_partitions(interval_start: datetime) -> RetentionResult:
    """Drop the derived tables' day partitions older than ``FRAUD_RETENTION_DAYS`` (never raw.*)."""
    from fraud.partitions import drop_partitions_before, retention_cutoff

    night = utc(interval_start).date()
    settings = load_settings()
    if settings.retention_days is None:
        return to_xcom(RetentionOutcome(kept_from=None, dropped=()))
    keep_from = retention_cutoff(night, settings.retention_days)
    with warehouse_engine(settings.require_database_url()).begin() as connection:
        dropped = drop_partitions_before(connection, keep_from)
    return to_xcom(RetentionOutcome(kept_from=keep_from.isoformat(), dropped=tuple(dropped)))


def requested_drift_dates(events: list[Mapping[str, Any]]) -> list[str]:
    """The drifted nights named by the retraining requests (Asset events' extras) of a run."""
    return [str(extra["drift_date"]) for extra in events if "drift_date" in extra]


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


def retrain_trigger(events: list[Mapping[str, Any]], run_type: object) -> str:
    """Why a retraining runs: the drift reasons of its Asset events, else its run type's value."""
    reasons = "; ".join(str(extra.get("reason")) for extra in events)
    return reasons or str(getattr(run_type, "value", run_type))


@task
def train_challenger(label_cutoff: datetime, trigger: str) -> ChallengerResult:
    """Train and register a challenger with labels reported before ``label_cutoff``."""
    from fraud.model.challenger import train_challenger as train

    cutoff = utc(label_cutoff)
    settings, engine = _warehouse()
    return to_xcom(train(engine, settings, cutoff, trigger))


@dataclass(frozen=True)
class PromotionOutcome:
    """The gate's decision on a challenger and the retraining requests the run answered."""

    decision: str
    version: int
    answered_requests: tuple[str, ...]


@task
def decide_promotion(challenger: Mapping[str, Any], run_id: str) -> PromotionResult:
    """Apply the promotion gate; close the retraining requests this run answered."""
    from fraud.model.challenger import Challenger
    from fraud.model.promotion import decide_promotion as decide
    from fraud.monitoring.retraining import complete_retraining_requests

    candidate = from_xcom(Challenger, challenger)
    settings, engine = _warehouse()
    decision = decide(engine, settings, candidate)
    answered = complete_retraining_requests(engine, settings.model_name, run_id)
    return to_xcom(PromotionOutcome(decision, candidate.version, tuple(answered)))
