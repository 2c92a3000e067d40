"""The promotion gate, declared as data."""

from __future__ import annotations

import math

import pytest

from fraud.gates import MetricGate
from fraud.model.promotion import apply_gate

GATE = (
    MetricGate("average_precision", min_improvement=0.01),
    MetricGate("auc_roc", max_regression=0.02),
)


@pytest.mark.parametrize(
    ("challenger", "champion", "passed"),
    [
        (
            {"average_precision": 0.72, "auc_roc": 0.90},
            {"average_precision": 0.70, "auc_roc": 0.90},
            True,
        ),
        (
            {"average_precision": 0.705, "auc_roc": 0.90},
            {"average_precision": 0.70, "auc_roc": 0.90},
            False,
        ),
        (
            {"average_precision": 0.80, "auc_roc": 0.85},
            {"average_precision": 0.70, "auc_roc": 0.90},
            False,
        ),
        (
            {"average_precision": 0.80, "auc_roc": 0.885},
            {"average_precision": 0.70, "auc_roc": 0.90},
            True,
        ),
        (
            {"average_precision": math.nan, "auc_roc": 0.9},
            {"average_precision": 0.70, "auc_roc": 0.90},
            False,
        ),
    ],
)
def test_gate(challenger: dict, champion: dict, passed: bool) -> None:
    outcome = apply_gate(GATE, challenger, champion)
    assert outcome.passed is passed
    assert len(outcome.reasons) == len(GATE)


def test_gate_reason_names_metric_and_values() -> None:
    outcome = apply_gate(
        GATE, {"average_precision": 0.6, "auc_roc": 0.9}, {"average_precision": 0.7, "auc_roc": 0.9}
    )
    assert "average_precision 0.6000 does not beat champion 0.7000" in outcome.reasons[0]
