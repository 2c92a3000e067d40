"""Monitoring's pure parts: performance rows, the floor, retraining reasons, drift alert text."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from fraud.config import Settings
from fraud.model.money import FIGURES
from fraud.monitoring.alerts import drift_alert_message
from fraud.monitoring.drift import DriftOutcome
from fraud.monitoring.performance import (
    FloorBreach,
    PerformanceConfig,
    PerformanceOutcome,
    floor_breaches,
    performance_rows,
)
from fraud.monitoring.retraining import performance_reason
from fraud.xcom import from_xcom, to_xcom

DAY = date(2026, 3, 1)


def scored(scores: list[float], frauds: list[int], alerts: list[bool], version: int = 1):
    """A day of scored transactions, one card each."""
    return pd.DataFrame(
        {
            "transaction_id": range(len(scores)),
            "tx_datetime": datetime(2026, 3, 1, 12, tzinfo=UTC),
            "customer_id": range(len(scores)),
            "model_version": version,
            "score": scores,
            "is_alert": alerts,
            "is_fraud": frauds,
            "tx_amount": [10.0 * (index + 1) for index in range(len(scores))],
        }
    )


def outcome(alert_columns: tuple[str, ...], version: int = 3) -> DriftOutcome:
    return DriftOutcome(
        drift_date="2026-03-01",
        model_version=version,
        rows_compared=800,
        max_psi=0.4,
        alert_columns=alert_columns,
        monitored_columns=("score", "tx_amount"),
        report_path="/reports/2026-03-01.html",
    )


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        # Frauds ranked 1st and 3rd: AP = (1/1 + 2/3) / 2; one of the two alerts is a fraud.
        (
            scored([0.9, 0.8, 0.2, 0.1], [1, 0, 1, 0], [True, True, False, False]),
            {"frauds_known": 2, "average_precision": 5 / 6, "alert_precision": 0.5},
        ),
        # Both frauds on top and no alert: perfect ranking, alert precision undefined.
        (
            scored([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], [False] * 4),
            {"frauds_known": 2, "average_precision": 1.0, "alert_precision": None},
        ),
        # No fraud known yet: the ranking metrics are undefined, stored as null.
        (
            scored([0.9, 0.8, 0.2, 0.1], [0, 0, 0, 0], [True, False, False, False]),
            {"frauds_known": 0, "average_precision": None, "alert_precision": 0.0},
        ),
    ],
)
def test_performance_rows(frame: pd.DataFrame, expected: dict[str, object]) -> None:
    (row,) = performance_rows(frame, DAY, "fraud", 7).to_dict("records")
    assert row["transactions"] == len(frame)
    assert (row["date"], row["model_name"], row["maturity_days"]) == (DAY, "fraud", 7)
    for key, value in expected.items():
        assert row[key] == pytest.approx(value) if value is not None else row[key] is None


def test_performance_rows_hold_the_money_of_the_alerts() -> None:
    # Amounts 10, 20, 30, 40; cards 0 (fraud) and 1 (genuine) alerted, card 2's fraud missed.
    frame = scored([0.9, 0.8, 0.2, 0.1], [1, 0, 1, 0], [True, True, False, False])
    frauds_after = pd.DataFrame(
        {
            "customer_id": [0, 0, 2],
            # Card 0 pays fraud before the review (09:00), after it, and after its report.
            "tx_datetime": pd.to_datetime(
                ["2026-03-02 09:00", "2026-03-02 11:00", "2026-03-04 11:00"], utc=True
            ),
            "tx_amount": [1.0, 2.0, 4.0],
            "card_reported_at": pd.to_datetime(["2026-03-03"] * 2 + [None], utc=True),
        }
    )
    (row,) = performance_rows(frame, DAY, "fraud", 7, frauds_after=frauds_after).to_dict("records")
    assert {key: row[key] for key in FIGURES} == {
        "alerted_cards": 2,
        "alerted_cards_fraud": 1,
        "detected_amount": 10.0,
        "prevented_amount": 2.0,
        "missed_amount": 30.0,
        "genuine_amount_alerted": 20.0,
        "value_detection_rate": 0.25,
    }


def test_performance_rows_split_by_model_version() -> None:
    frame = pd.concat(
        [
            scored([0.9, 0.1], [1, 0], [True, False], version=1),
            scored([0.7, 0.6, 0.5], [0, 1, 0], [True, True, False], version=2),
        ]
    )
    rows = performance_rows(frame, DAY, "fraud", 14)
    assert rows[["model_version", "transactions", "frauds_known"]].values.tolist() == [
        [1, 2, 1],
        [2, 3, 1],
    ]


def test_performance_rows_of_an_unscored_day_are_empty() -> None:
    assert performance_rows(scored([], [], []), DAY, "fraud", 7).empty


@pytest.mark.parametrize(
    ("maturity", "average_precision", "breached"),
    [
        (30, 0.29, True),
        (30, 0.30, False),
        (30, math.nan, False),  # no fraud known: nothing to judge
        (14, 0.10, False),  # not the largest maturity: labels still arriving
    ],
)
def test_floor_applies_at_the_largest_maturity_only(
    maturity: int, average_precision: float, breached: bool
) -> None:
    settings = Settings(performance_maturity_days=(7, 14, 30))
    rows = pd.DataFrame(
        {
            "date": [DAY],
            "model_version": [4],
            "maturity_days": [maturity],
            "average_precision": [average_precision],
        }
    )
    breaches = floor_breaches(rows, PerformanceConfig.of(settings))
    assert bool(breaches) is breached
    if breached:
        assert breaches == (FloorBreach(DAY.isoformat(), 4, 30, average_precision, 0.3),)


@pytest.mark.parametrize(
    ("breach_versions", "scoring_version", "expected_lines"),
    [((3,), 3, 1), ((2,), 3, 0), ((2, 3), 3, 1), ((), 3, 0)],
)
def test_only_the_scoring_versions_breaches_are_a_reason(
    breach_versions: tuple[int, ...], scoring_version: int, expected_lines: int
) -> None:
    performance = PerformanceOutcome(
        night="2026-03-01",
        measured_dates=("2026-01-30",),
        rows_written=len(breach_versions),
        floor_breaches=tuple(
            FloorBreach("2026-01-30", version, 30, 0.1, 0.3) for version in breach_versions
        ),
    )
    reason = performance_reason(outcome(("score",), scoring_version), performance)
    lines = reason.split("; ") if reason else []
    assert len(lines) == expected_lines
    assert all(line.startswith("performance: average precision 0.100") for line in lines)


@pytest.mark.parametrize(
    ("alert_columns", "named"),
    [
        (("score", "tx_amount"), ("score", "tx_amount")),
        (("tx_amount", "customer_tx_count_1d"), ("tx_amount",)),
        (("customer_tx_count_1d",), ()),  # in the alert band but not monitored: no alert
        ((), ()),
    ],
)
def test_drift_alert_names_the_monitored_columns_in_the_alert_band(
    alert_columns: tuple[str, ...], named: tuple[str, ...]
) -> None:
    message = drift_alert_message(Settings(), outcome(alert_columns))
    if not named:
        assert message is None
        return
    assert message is not None
    assert message.startswith("Drift on 2026-03-01 (fraud-lightgbm v3): PSI >= 0.25 on ")
    assert f"on {', '.join(named)};" in message
    assert message.endswith(
        " Report: http://localhost:8080/fraud-monitoring/reports/2026-03-01.html"
    )


def test_a_drift_alert_links_the_report_under_the_base_url_and_the_task_log() -> None:
    log_url = "https://af.example.org/dags/fraud_drift/runs/r/tasks/compute_drift?try_number=1"
    settings = Settings(base_url="https://af.example.org")
    message = drift_alert_message(settings, outcome(("score",)), log_url)
    assert message is not None
    assert message.endswith(
        f" Report: https://af.example.org/fraud-monitoring/reports/2026-03-01.html; log: {log_url}"
    )
    assert "file:" not in message


def test_outcomes_survive_the_trip_through_xcom() -> None:
    drift = outcome(("score",))
    performance = PerformanceOutcome(
        "2026-03-01", ("2026-01-30",), 1, (FloorBreach("2026-01-30", 3, 30, 0.1, 0.3),)
    )
    assert from_xcom(DriftOutcome, json.loads(json.dumps(to_xcom(drift)))) == drift
    assert (
        from_xcom(PerformanceOutcome, json.loads(json.dumps(to_xcom(performance)))) == performance
    )
