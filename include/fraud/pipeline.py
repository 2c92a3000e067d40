"""Entry points of the pipeline's tasks: one function per task, shared by the DAGs and the CLI.

Each takes the data interval and a run id, reads the settings, opens the warehouse and calls
one stage; each returns a small dict (counts, versions, paths) fit for XCom.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

from sqlalchemy.engine import Engine

from fraud.config import Settings, load_settings
from fraud.db import create_warehouse_engine, one_line_errors


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return create_warehouse_engine(url)


def warehouse(settings: Settings | None = None) -> Engine:
    """The warehouse engine of the configured URL (one per process)."""
    settings = settings or load_settings()
    return _engine(settings.require_database_url())


def plain_utc(moment: datetime) -> datetime:
    """A standard-library UTC datetime, whatever datetime subclass (e.g. pendulum) came in."""
    return datetime.fromtimestamp(moment.timestamp(), tz=UTC)


def day_interval(day: str) -> tuple[datetime, datetime]:
    """The UTC data interval [day, day + 1) of a ``YYYY-MM-DD`` date."""
    start = datetime.combine(datetime.fromisoformat(day).date(), time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def validate_batch(interval_start: datetime, interval_end: datetime, run_id: str) -> dict:
    """Run the quality gate over the interval; raises ``BatchValidationError`` on a failed batch."""
    interval_start, interval_end = plain_utc(interval_start), plain_utc(interval_end)
    from fraud.validate import validate_interval

    settings = load_settings()
    outcome = validate_interval(
        warehouse(settings),
        interval_start=interval_start,
        interval_end=interval_end,
        run_id=run_id,
        gate=gate_config(settings),
        artifact_dir=settings.artifact_dir,
    )
    return outcome_summary(outcome)


def gate_config(settings: Settings) -> object:
    """The quality gate's thresholds from the settings."""
    from fraud.validate import GateConfig

    return GateConfig.from_settings(settings)


def outcome_summary(outcome: object) -> dict:
    """A validation outcome as plain JSON-able values."""
    summary = asdict(outcome)  # type: ignore[call-overload]
    summary["interval_start"] = str(summary["interval_start"])
    summary["interval_end"] = str(summary["interval_end"])
    summary["failures"] = [dict(failure) for failure in summary["failures"]]
    return summary


def build_features(interval_start: datetime, interval_end: datetime, run_id: str) -> dict:
    """Materialise the point-in-time features of the interval's validated rows."""
    interval_start, interval_end = plain_utc(interval_start), plain_utc(interval_end)
    from fraud.history import build_interval_features

    settings = load_settings()
    count = build_interval_features(
        warehouse(settings), interval_start, interval_end, run_id, settings.label_delay_days
    )
    return {"feature_rows": count}


def score_batch(interval_start: datetime, interval_end: datetime, run_id: str) -> dict:
    """Score the whole interval with the registry's champion in one process and one transaction."""
    interval_start, interval_end = plain_utc(interval_start), plain_utc(interval_end)
    from fraud.compiled import for_scoring
    from fraud.registry import load_champion
    from fraud.score import score_interval

    settings = load_settings()
    model = for_scoring(load_champion(settings), settings)
    with one_line_errors(settings.require_database_url()):
        outcome = score_interval(
            warehouse(settings),
            model,
            interval_start=interval_start,
            interval_end=interval_end,
            run_id=run_id,
            alert_threshold=settings.alert_threshold,
            alert_top_k=settings.alert_top_k,
            chunk_rows=settings.score_chunk_rows,
        )
    return {**asdict(outcome), "model_uri": f"models:/{model.name}/{model.version}"}


def resolve_champion() -> dict:
    """The champion's version now, so that every partition of a run scores with the same one."""
    from fraud.registry import require_champion_version

    settings = load_settings()
    version = require_champion_version(settings)
    return {"model_version": version, "model_uri": f"models:/{settings.model_name}/{version}"}


def score_partition(
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    partition: int,
    partitions: int,
    model_version: int,
) -> dict:
    """Score one share of the interval's customers with one model version, in one transaction."""
    interval_start, interval_end = plain_utc(interval_start), plain_utc(interval_end)
    from fraud.compiled import for_scoring
    from fraud.registry import load_version
    from fraud.score import Partition
    from fraud.score import score_partition as score

    settings = load_settings()
    model = for_scoring(load_version(settings, model_version), settings)
    with one_line_errors(settings.require_database_url()):
        outcome = score(
            warehouse(settings),
            model,
            interval_start=interval_start,
            interval_end=interval_end,
            run_id=run_id,
            alert_threshold=settings.alert_threshold,
            partition=Partition(partition, partitions),
            chunk_rows=settings.score_chunk_rows,
        )
    return {**asdict(outcome), "partition": partition, "partitions": partitions}


def mark_top_k(interval_start: datetime, interval_end: datetime, model_version: int) -> dict:
    """Mark the interval's top-k scores as alerts, with reason codes, once every share is in."""
    interval_start, interval_end = plain_utc(interval_start), plain_utc(interval_end)
    from fraud.registry import load_version
    from fraud.score import mark_top_k as mark

    settings = load_settings()
    model = load_version(settings, model_version)
    with (
        one_line_errors(settings.require_database_url()),
        warehouse(settings).begin() as connection,
    ):
        alerts = mark(
            connection,
            model,
            interval_start=interval_start,
            interval_end=interval_end,
            alert_threshold=settings.alert_threshold,
            alert_top_k=settings.alert_top_k,
        )
    return {"alert_count": alerts, "model_version": model_version}


def compute_drift(interval_start: datetime, interval_end: datetime, run_id: str) -> dict:
    """PSI per feature and for the score against the model version's reference, stored."""
    interval_start, interval_end = plain_utc(interval_start), plain_utc(interval_end)
    from fraud.monitor import nightly_drift

    settings = load_settings()
    outcome = nightly_drift(
        warehouse(settings),
        settings,
        interval_start=interval_start,
        interval_end=interval_end,
        run_id=run_id,
    )
    return asdict(outcome)


def write_drift_report(interval_start: datetime, interval_end: datetime) -> dict:
    """The night's Evidently data-drift report, beside the stored PSI."""
    interval_start, interval_end = plain_utc(interval_start), plain_utc(interval_end)
    from fraud.monitor import nightly_drift_report

    settings = load_settings()
    path = nightly_drift_report(
        warehouse(settings), settings, interval_start=interval_start, interval_end=interval_end
    )
    return {"report_path": str(path)}


def compute_performance(interval_start: datetime, interval_end: datetime, run_id: str) -> dict:
    """Metrics of the days whose labels reached each configured maturity by the interval's end."""
    interval_start, interval_end = plain_utc(interval_start), plain_utc(interval_end)
    from fraud.monitor import nightly_performance

    settings = load_settings()
    outcome = nightly_performance(
        warehouse(settings), settings, interval_start=interval_start, interval_end=interval_end
    )
    return asdict(outcome)


def request_retraining(drift: dict, performance: dict | None = None) -> dict | None:
    """Open a retraining request for persistent drift or a performance drop, if none is pending."""
    from fraud.monitor import DriftOutcome, PerformanceOutcome
    from fraud.monitor import request_retraining as open_request

    settings = load_settings()
    outcome = DriftOutcome.from_dict(drift)
    measured = PerformanceOutcome.from_dict(performance) if performance else None
    return open_request(warehouse(settings), settings, outcome, measured)


def retrain_cutoff(
    as_of: str | None, drift_dates: list[str], logical_date: datetime | None, run_after: datetime
) -> datetime:
    """Labels reported before this moment may be used: the explicit ``as_of``, else the end of the
    drifted night that triggered the run, else the run's logical date (or its run-after time)."""
    if as_of:
        moment = datetime.fromisoformat(as_of)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment
    if drift_dates:
        return day_interval(max(drift_dates))[1]
    return plain_utc(logical_date or run_after)


def retrain_trigger(events: list[dict], run_type: object) -> str:
    """Why a retraining runs: the drift reasons of its Asset events, else its run type's value."""
    reasons = "; ".join(str(extra.get("reason")) for extra in events)
    return reasons or str(getattr(run_type, "value", run_type))


def train_challenger(label_cutoff: datetime, trigger: str) -> dict:
    """Train and register a challenger with labels reported before ``label_cutoff``."""
    from fraud.retrain import challenger_to_xcom
    from fraud.retrain import train_challenger as train

    settings = load_settings()
    return challenger_to_xcom(train(warehouse(settings), settings, label_cutoff, trigger))


def decide_promotion(challenger: dict, run_id: str) -> dict:
    """Apply the promotion gate; close the retraining requests this run answered."""
    from fraud.monitor import complete_retraining_requests
    from fraud.retrain import challenger_from_xcom
    from fraud.retrain import decide_promotion as decide

    settings = load_settings()
    engine = warehouse(settings)
    decision = decide(engine, settings, challenger_from_xcom(challenger))
    answered = complete_retraining_requests(engine, settings, run_id)
    return {"decision": decision, "version": challenger["version"], "answered_requests": answered}
