"""The pipeline's own counts sent through Airflow's metrics, after each task returns its result.

Airflow sends them the way it is configured to send its own (``[metrics] statsd_on`` or
``otel_on``), under its prefix (``statsd_prefix``, ``airflow`` by default): the StatsD line of
``fraud.validate.rows_validated`` is ``airflow.fraud.validate.rows_validated:5840|c``. Nothing is
sent when metrics are off. Counters add up every run that succeeds, re-runs included (the shares
of a night add up to the night); a gauge holds the last night's value.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskMetric:
    """One number of a task's XCom result, sent under ``name`` as a counter or a gauge."""

    name: str
    key: str
    kind: Literal["counter", "gauge"]


# What each task's result sends, by task id; a task not named here sends nothing.
TASK_METRICS: dict[str, tuple[TaskMetric, ...]] = {
    "validate_batch": (
        TaskMetric("fraud.validate.rows_extracted", "extracted_count", "counter"),
        TaskMetric("fraud.validate.rows_validated", "validated_count", "counter"),
        TaskMetric("fraud.validate.rows_quarantined", "quarantined_count", "counter"),
    ),
    "build_features": (TaskMetric("fraud.features.rows_built", "feature_rows", "counter"),),
    "score_partition": (TaskMetric("fraud.score.rows_scored", "scored_count", "counter"),),
    "mark_top_k": (TaskMetric("fraud.score.alerts", "alert_count", "counter"),),
    "compute_drift": (
        TaskMetric("fraud.drift.max_psi", "max_psi", "gauge"),
        TaskMetric("fraud.drift.rows_compared", "rows_compared", "counter"),
    ),
}


def task_metrics(task_id: str, result: Any) -> list[tuple[TaskMetric, float]]:
    """The metrics of a task's result and their values; a missing or non-finite value is left out."""
    if not isinstance(result, dict):
        return []
    measured = []
    for metric in TASK_METRICS.get(task_id, ()):
        value = result.get(metric.key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            measured.append((metric, float(value)))
    return measured


def send_task_metrics(context: Any, result: Any) -> None:
    """Send the task's metrics through Airflow's Stats (``post_execute``); never fail the task."""
    from airflow.sdk.observability.stats import Stats

    ti = context["ti"]
    tags = {"dag_id": ti.dag_id, "task_id": ti.task_id}
    try:
        for metric, value in task_metrics(ti.task_id, result):
            if metric.kind == "counter":
                Stats.incr(metric.name, count=int(value), tags=tags)
            else:
                Stats.gauge(metric.name, value, tags=tags)
    except Exception as error:  # metrics are for people: a broken exporter must not fail a night
        logger.warning("metrics of %s.%s not sent: %s", ti.dag_id, ti.task_id, error)
