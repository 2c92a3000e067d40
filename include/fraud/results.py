"""What each task of :mod:`fraud.tasks` returns through XCom, typed for its readers.

A task's stage returns a frozen dataclass; the task hands it on as the plain JSON values of
:func:`fraud.xcom.to_xcom` (tuples as lists, dates as ISO text), and these ``TypedDict`` say which
keys and types a reader (a DAG, the command line, a test) finds there. Each mirrors its stage's
dataclass field for field: ``tests/unit/core/test_task_contract.py`` holds the two together.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ValidationResult(TypedDict):
    """The quality gate's run over an interval (``quality.validate.ValidationOutcome``)."""

    run_id: str
    interval_start: str
    interval_end: str
    status: str
    extracted_count: int
    validated_count: int
    quarantined_count: int
    failures: list[dict[str, str]]
    data_docs_path: str | None
    phase_seconds: dict[str, float]


class FeatureResult(TypedDict):
    """One share's features (``features.nightly.FeatureOutcome``)."""

    feature_rows: int
    share_index: int
    share_count: int
    chunks: int
    history_rows: int
    seconds: float


class VersionResult(TypedDict):
    """The version a run scores with (``model.registry.VersionRef``)."""

    model_version: int
    model_uri: str


class ScoreResult(TypedDict):
    """One share, or a whole night, scored (``scoring.score.ScoreOutcome``)."""

    scored_count: int
    alert_count: int
    model_version: int


class TopKResult(TypedDict):
    """The night's alerts, chosen per card, its generation published (``scoring.score.TopKOutcome``)."""

    alert_count: int
    model_version: int


class DriftResult(TypedDict):
    """A night's PSI (``monitoring.drift.DriftOutcome``)."""

    drift_date: str
    model_version: int
    rows_compared: int
    max_psi: float
    alert_columns: list[str]
    monitored_columns: list[str]
    report_path: str


class DriftReportResult(TypedDict):
    """Where a night's Evidently report was written (``monitoring.drift.DriftReport``)."""

    drift_date: str
    report_path: str


class PerformanceResult(TypedDict):
    """The days measured as their labels matured (``monitoring.performance.PerformanceOutcome``)."""

    night: str
    measured_dates: list[str]
    rows_written: int
    floor_breaches: list[dict[str, Any]]


class RetrainingRequestResult(TypedDict):
    """An opened retraining request, the Asset event's extra
    (``monitoring.retraining.RetrainingRequest``)."""

    request_id: int
    drift_date: str
    reason: str


class RetentionResult(TypedDict):
    """The day partitions a night dropped (``tasks.RetentionOutcome``)."""

    kept_from: str | None
    dropped: list[str]


class ChallengerResult(TypedDict):
    """A trained and registered challenger (``model.challenger.Challenger``)."""

    version: int
    run_id: str
    label_cutoff: str
    validation_start: str
    validation_end: str
    trigger: str
    training_rows: int
    training_frauds: int
    validation_rows: int
    genuine_fraction: float
    seconds: dict[str, float]
    experiment_id: str


class PromotionResult(TypedDict):
    """The promotion gate's decision (``tasks.PromotionOutcome``)."""

    decision: str
    version: int
    answered_requests: list[str]
