"""A version's description: one paragraph with its windows, metrics and the gate's decision."""

from __future__ import annotations

import pytest

from fraud.model.registry import GateVerdict, version_description

PARAMS = {
    "train_start": "2026-01-04T00:00:00+00:00",
    "train_end": "2026-01-18T00:00:00+00:00",
    "validation_start": "2026-01-25T00:00:00+00:00",
    "validation_end": "2026-02-01T00:00:00+00:00",
    "label_cutoff": "2026-02-15T00:00:00+00:00",
    "training_rows": "12000",
    "training_frauds": "240",
    "validation_rows": "6000",
}
METRICS = {
    "auc_roc": 0.91234,
    "average_precision": 0.654,
    "card_precision_at_100": 0.12,
    "prevented_amount_within_capacity": 12345.678,
    "detected_amount_within_capacity": 2000.0,
    "baseline_logistic_regression_auc_roc": 0.85,
    "baseline_logistic_regression_average_precision": 0.4,
    "baseline_logistic_regression_card_precision_at_100": 0.09,
    "baseline_amount_rule_auc_roc": 0.6,
    "baseline_amount_rule_average_precision": 0.1,
    "baseline_amount_rule_card_precision_at_100": float("nan"),
}
WINDOWS = (
    "Version 7 was trained on the payments of 2026-01-04 to 2026-01-17 (12000 rows read,"
    " 240 known frauds) and validated on those of 2026-01-25 to 2026-01-31 (6000 rows),"
    " with the labels reported before 2026-02-15 00:00 UTC."
)
MONEY_NA = "prevented within the review capacity n/a, detected within the review capacity n/a"
FIGURES = (
    "it scores AUC 0.912, AP 0.654, CP@100 0.120, prevented within the review capacity"
    " 12,345.68, detected within the review capacity 2,000.00"
)
BASELINES = (
    f"the logistic-regression baseline AUC 0.850, AP 0.400, CP@100 0.090, {MONEY_NA};"
    f" the amount rule AUC 0.600, AP 0.100, CP@100 n/a, {MONEY_NA}."
)
PROMOTED = GateVerdict(
    "promoted",
    "average_precision 0.6540 vs champion 0.5000: ok",
    champion_version=6,
    champion_metrics={"auc_roc": 0.9, "average_precision": 0.5, "card_precision_at_100": 0.1},
)


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        pytest.param(
            None,
            [WINDOWS, f"On the validation window {FIGURES}; {BASELINES}", "has not decided"],
            id="before-the-gate",
        ),
        pytest.param(
            GateVerdict("bootstrapped", "no champion existed"),
            [WINDOWS, f"{FIGURES}; {BASELINES}", "Gate decision: bootstrapped (no champion"],
            id="bootstrapped",
        ),
        pytest.param(
            PROMOTED,
            [
                WINDOWS,
                f"{FIGURES}; champion version 6, on the same rows, AUC 0.900, AP 0.500,"
                f" CP@100 0.100, {MONEY_NA}; {BASELINES}",
                "Gate decision: promoted (average_precision 0.6540 vs champion 0.5000: ok).",
            ],
            id="promoted-beside-the-champion",
        ),
    ],
)
def test_description_says_windows_metrics_and_decision(
    verdict: GateVerdict | None, expected: list[str]
) -> None:
    text = version_description(7, PARAMS, METRICS, verdict)
    assert "\n" not in text
    for part in expected:
        assert part in text


def test_a_run_without_recorded_windows_still_gets_a_description() -> None:
    text = version_description(3, {}, {}, GateVerdict("rejected", "ap too low", 2, {}))
    assert "payments of days not recorded" in text
    assert "a cut-off not recorded" in text
    assert "AUC n/a, AP n/a, CP@100 n/a" in text
    assert text.endswith("Gate decision: rejected (ap too low).")
