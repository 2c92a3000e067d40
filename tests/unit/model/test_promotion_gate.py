"""The promotion gate, declared as data."""

from __future__ import annotations

import math

import pytest

from fraud.gates import MetricGate, RatioGate
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


RATIO = RatioGate("prevented_amount_within_capacity", min_ratio=0.98, min_fraud_cards=50)
PASSING = {"average_precision": 0.72, "auc_roc": 0.90}


@pytest.mark.parametrize(
    ("challenger", "champion", "fraud_cards", "passed", "reason"),
    [
        pytest.param(980.0, 1000.0, 50, True, "980.00 vs champion 1,000.00", id="at-the-ratio"),
        pytest.param(979.0, 1000.0, 50, False, "979.00 is less than 0.98 of champion", id="below"),
        pytest.param(
            0.0, 1000.0, 49, True, "rule skipped, the window holds 49 fraudulent", id="few"
        ),
        pytest.param(math.nan, 1000.0, 60, False, "challenger value is missing", id="missing"),
        pytest.param(5.0, 0.0, 60, True, "5.00 vs champion 0.00", id="champion-prevented-none"),
    ],
)
def test_ratio_rule_on_prevented_money(
    challenger: float, champion: float, fraud_cards: int, passed: bool, reason: str
) -> None:
    name = RATIO.metric
    outcome = apply_gate(
        GATE,
        {**PASSING, name: challenger, "fraud_cards": fraud_cards},
        {"average_precision": 0.70, "auc_roc": 0.90, name: champion, "fraud_cards": fraud_cards},
        RATIO,
    )
    assert outcome.passed is passed
    assert reason in outcome.reasons[-1]
    assert len(outcome.reasons) == len(GATE) + 1


def test_ratio_rule_does_not_rescue_a_failed_metric_rule() -> None:
    outcome = apply_gate(
        GATE,
        {"average_precision": 0.6, "auc_roc": 0.9, RATIO.metric: 2000.0, "fraud_cards": 80},
        {"average_precision": 0.7, "auc_roc": 0.9, RATIO.metric: 1000.0},
        RATIO,
    )
    assert not outcome.passed
    assert outcome.reasons[-1].endswith(": ok")
