"""``fraud features`` and ``fraud train``: each stage for one date from the command line, with
what it read, how long it took and its peak memory."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from fraud.cli import main
from fraud.dates import day_interval
from fraud.db import create_warehouse_engine
from fraud.tasks import validate_batch
from tests.support.bank import simulated_bank

pytestmark = pytest.mark.integration

FIRST_DAY = date(2029, 1, 1)
DAYS = 60
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def bank(warehouse_url: str) -> str:
    engine = create_warehouse_engine(warehouse_url)
    simulated_bank(engine, seed=8, customers=300, first_day=FIRST_DAY, days=DAYS)
    engine.dispose()
    start, _ = day_interval(FIRST_DAY)
    validate_batch(start, start + timedelta(days=DAYS), "seed__all")
    return warehouse_url


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> dict:
    capsys.readouterr()
    assert main([*arguments, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_features_of_one_date_report_rows_seconds_and_memory(
    bank: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_FEATURE_SHARES", "3")
    report = _run(capsys, "features", "--date", LAST_DAY.isoformat())
    start, end = day_interval(LAST_DAY)
    engine = create_warehouse_engine(bank)
    with engine.connect() as connection:
        validated, built = connection.execute(
            sa.text(
                "select (select count(*) from staging.transactions"
                "        where tx_datetime >= :start and tx_datetime < :end),"
                "       (select count(*) from staging.transaction_features"
                "        where tx_datetime >= :start and tx_datetime < :end and run_id = :run)"
            ),
            {"start": start, "end": end, "run": report["run_id"]},
        ).one()
    engine.dispose()
    assert report["feature_rows"] == validated == built > 0
    assert [share["share_index"] for share in report["shares"]] == [0, 1, 2]
    assert report["history_rows"] > report["feature_rows"]
    assert report["seconds"] > 0 and report["peak_rss_mib"] > 100


def test_train_reports_what_it_read_each_phase_and_the_decision(
    bank: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_TRAIN_DAYS", "14")
    monkeypatch.setenv("FRAUD_VALIDATION_DAYS", "7")
    monkeypatch.setenv("FRAUD_TRAINING_GENUINE_FRACTION", "1.0")
    first = _run(capsys, "train", "--as-of", LAST_DAY.isoformat())
    assert first["decision"] == "bootstrapped"
    assert first["genuine_fraction"] == 1.0
    assert first["training_rows"] > first["training_frauds"] > 0
    assert set(first["seconds"]) >= {"datasets", "fit", "evaluate_and_log", "decide", "total"}
    assert first["peak_rss_mib"] > 100

    monkeypatch.setenv("FRAUD_TRAINING_GENUINE_FRACTION", "0.4")
    monkeypatch.setenv("FRAUD_TRAINING_MIN_GENUINE_ROWS", "0")
    second = _run(capsys, "train", "--as-of", LAST_DAY.isoformat())
    assert second["version"] == first["version"] + 1
    assert second["decision"] in {"promoted", "rejected"}
    assert second["genuine_fraction"] == 0.4
    assert second["training_frauds"] == first["training_frauds"]
    assert second["training_rows"] < first["training_rows"]


def test_evaluate_replays_the_nights_without_and_with_the_investigators_verdicts(
    bank: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_TRAINING_TIME_BUDGET_SECONDS", "2")
    days = {
        "--train-start": FIRST_DAY + timedelta(days=42),
        "--train-end": FIRST_DAY + timedelta(days=48),
        "--test-start": FIRST_DAY + timedelta(days=52),
        "--test-end": LAST_DAY,
    }
    arguments = [item for option, day in days.items() for item in (option, day.isoformat())]
    report = _run(
        capsys, "evaluate", *arguments, "--delay-days", "3", "--feedback-capacity", "5",
        "--feedback-split",
    )  # fmt: skip
    runs = ("delayed_only", "with_feedback", "with_feedback_split")
    assert report["capacity"] == 5
    # The same test payments in every run: the delayed-only run's known-card rule.
    assert len({report[run]["test_payments"] for run in runs}) == 1
    assert report["delayed_only"]["training_rows_with_verdict"] == 0
    assert report["with_feedback"]["training_rows_with_verdict"] > 0
    for run in runs:
        outcome = report[run]
        assert 0.0 <= outcome["metrics"]["model"]["average_precision"] <= 1.0
        nights = {night for night, _, _ in outcome["alerts"]}
        assert nights <= {(days["--test-start"] + timedelta(days=n)).isoformat() for n in range(8)}
        for night in nights:
            ranks = [rank for alerted, _, rank in outcome["alerts"] if alerted == night]
            assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) <= 5
        assert outcome["stopped_fraud_amount"] >= 0.0
        assert sum(outcome["test_verdicts"].values()) > 0
    assert set(report["with_feedback"]["metrics"]) == {
        "model",
        "logistic_regression",
        "amount_rule",
    }


def test_feedback_split_needs_a_capacity(bank: str, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["evaluate", "--train-start", "2029-02-12", "--train-end", "2029-02-18"]
    arguments += ["--delay-days", "3", "--test-start", "2029-02-22", "--test-end", "2029-03-01"]
    assert main([*arguments, "--feedback-split"]) != 0
    assert "--feedback-split needs --feedback-capacity" in capsys.readouterr().err
