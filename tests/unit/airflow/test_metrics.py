"""The metrics a task's result sends: which names, which values, and that each one reads a field
its stage's outcome has (a renamed field would otherwise silence a metric)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from fraud.config import REPOSITORY_ROOT
from fraud.features.nightly import FeatureOutcome
from fraud.monitoring.drift import DriftOutcome
from fraud.quality.validate import ValidationOutcome
from fraud.scoring.score import ScoreOutcome, TopKOutcome
from fraud_airflow.metrics import TASK_METRICS, task_metrics

OUTCOMES = {
    "validate_batch": ValidationOutcome,
    "build_features": FeatureOutcome,
    "score_partition": ScoreOutcome,
    "mark_top_k": TopKOutcome,
    "compute_drift": DriftOutcome,
}


@pytest.mark.parametrize(
    ("task_id", "result", "expected"),
    [
        (
            "validate_batch",
            {"extracted_count": 5849, "validated_count": 5840, "quarantined_count": 9},
            [
                ("fraud.validate.rows_extracted", "counter", 5849.0),
                ("fraud.validate.rows_validated", "counter", 5840.0),
                ("fraud.validate.rows_quarantined", "counter", 9.0),
            ],
        ),
        ("build_features", {"feature_rows": 18}, [("fraud.features.rows_built", "counter", 18.0)]),
        (
            "score_partition",
            {"scored_count": 100_000, "alert_count": 3, "model_version": 2},
            [("fraud.score.rows_scored", "counter", 100_000.0)],
        ),
        ("mark_top_k", {"alert_count": 104}, [("fraud.score.alerts", "counter", 104.0)]),
        (
            "compute_drift",
            {"max_psi": 0.31, "rows_compared": 5840, "alert_columns": ["score"]},
            [
                ("fraud.drift.max_psi", "gauge", 0.31),
                ("fraud.drift.rows_compared", "counter", 5840.0),
            ],
        ),
        (
            "compute_drift",
            {"max_psi": float("nan"), "rows_compared": 0},
            [("fraud.drift.rows_compared", "counter", 0.0)],
        ),
        ("validate_batch", {"validated_count": True}, []),
        ("validate_batch", {"validated_count": "5840"}, []),
        ("validate_batch", None, []),
        ("request_retraining", {"drift_date": "2026-02-27"}, []),
    ],
)
def test_task_metrics(task_id: str, result: object, expected: list[tuple[str, str, float]]) -> None:
    measured = task_metrics(task_id, result)
    assert [(metric.name, metric.kind, value) for metric, value in measured] == expected


@pytest.mark.parametrize("task_id", sorted(TASK_METRICS))
def test_each_metric_reads_a_field_of_its_stage_outcome(task_id: str) -> None:
    fields = {field.name for field in dataclasses.fields(OUTCOMES[task_id])}
    assert {metric.key for metric in TASK_METRICS[task_id]} <= fields


def test_metric_names_share_one_prefix_and_are_unique() -> None:
    names = [metric.name for metrics in TASK_METRICS.values() for metric in metrics]
    assert len(names) == len(set(names))
    assert all(name.startswith("fraud.") for name in names)


def test_operations_doc_lists_every_metric_with_its_type_and_task() -> None:
    text = (REPOSITORY_ROOT / "docs" / "operations.md").read_text()
    section = text.split("### Metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(fraud\.[\w.]+)` \| (\w+) \| `(\w+)` \|", section, re.M))
    declared = {
        (metric.name, metric.kind, task_id)
        for task_id, metrics in TASK_METRICS.items()
        for metric in metrics
    }
    assert documented == declared
