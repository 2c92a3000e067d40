"""Settings come from the environment in one place, typed, with one-line errors."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fraud.config import ConfigError, load_settings
from fraud.gates import GateConfig, PsiBands


@pytest.mark.parametrize(
    ("environ", "attribute", "expected"),
    [
        ({}, "review_capacity", 100),
        ({"FRAUD_REVIEW_CAPACITY": "20"}, "review_capacity", 20),
        ({"FRAUD_ALERT_TOP_K": "20"}, "review_capacity", 20),
        ({"FRAUD_ALERT_TOP_K": "20", "FRAUD_REVIEW_CAPACITY": "20"}, "review_capacity", 20),
        ({}, "alert_ranking", "score"),
        ({"FRAUD_ALERT_RANKING": "expected_loss"}, "alert_ranking", "expected_loss"),
        ({"FRAUD_ALERT_THRESHOLD": "0.7"}, "alert_threshold", 0.7),
        ({"FRAUD_SCHEDULE_START": "2026-03-01"}, "schedule_start", date(2026, 3, 1)),
        ({"FRAUD_DATABASE_URL": "postgresql://h/db"}, "database_url", "postgresql://h/db"),
        ({"FRAUD_DATABASE_URL": "  "}, "database_url", None),
        ({"FRAUD_DRIFT_CONSECUTIVE_NIGHTS": "3"}, "drift_consecutive_nights", 3),
        ({}, "mlflow_request_max_retries", 2),
        ({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}, "mlflow_request_max_retries", 0),
        ({"MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}, "mlflow_request_timeout_seconds", 5),
        ({}, "feature_shares", 2),
        ({"FRAUD_FEATURE_SHARES": "8"}, "feature_shares", 8),
        ({"FRAUD_FEATURE_PARTITIONS": "8"}, "feature_shares", 8),
        ({}, "score_shares", 2),
        ({"FRAUD_SCORE_SHARES": "3"}, "score_shares", 3),
        ({"FRAUD_SCORE_PARTITIONS": "3"}, "score_shares", 3),
        ({"FRAUD_SCORE_PARTITIONS": "3", "FRAUD_SCORE_SHARES": "3"}, "score_shares", 3),
        ({"FRAUD_FEATURE_CHUNK_ROWS": "50000"}, "feature_chunk_rows", 50_000),
        ({}, "retention_days", None),
        ({"FRAUD_RETENTION_DAYS": "90"}, "retention_days", 90),
        ({"FRAUD_TRAINING_GENUINE_FRACTION": "0.5"}, "training_genuine_share", 0.5),
        ({}, "training_genuine_share", 0.1),
        (
            {"FRAUD_TRAINING_MAX_GENUINE_ROWS": "1000", "FRAUD_TRAINING_MIN_GENUINE_ROWS": "0"},
            "training_max_genuine_rows",
            1000,
        ),
        ({"FRAUD_TRAINING_MIN_GENUINE_ROWS": "0"}, "training_min_genuine_rows", 0),
        ({}, "base_url", "http://localhost:8080"),
        ({"FRAUD_BASE_URL": "https://fraud.example.org/"}, "base_url", "https://fraud.example.org"),
        (
            {"AIRFLOW__API__BASE_URL": "https://af.example.org/air"},
            "base_url",
            "https://af.example.org/air",
        ),
        (
            {"FRAUD_BASE_URL": "https://fraud.example.org", "AIRFLOW__API__BASE_URL": "http://a"},
            "base_url",
            "https://fraud.example.org",
        ),
    ],
)
def test_values_are_typed(environ: dict[str, str], attribute: str, expected: object) -> None:
    value = getattr(load_settings(environ), attribute)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FRAUD_REVIEW_CAPACITY": "ten"}, "FRAUD_REVIEW_CAPACITY='ten' is not a valid int"),
        (
            {"FRAUD_ALERT_TOP_K": "50", "FRAUD_REVIEW_CAPACITY": "100"},
            "^FRAUD_ALERT_TOP_K='50' and FRAUD_REVIEW_CAPACITY='100' disagree",
        ),
        ({"FRAUD_ALERT_RANKING": "spend"}, "FRAUD_ALERT_RANKING='spend' is not one of"),
        ({"FRAUD_ALERT_THRESHOLD": "1.5"}, "FRAUD_ALERT_THRESHOLD must be between 0 and 1"),
        ({"FRAUD_SCHEDULE_START": "01/02/2026"}, "FRAUD_SCHEDULE_START='01/02/2026'"),
        ({"FRAUD_PSI_WARNING": "0.3", "FRAUD_PSI_ALERT": "0.2"}, "must be below"),
        ({"FRAUD_DRIFT_CONSECUTIVE_NIGHTS": "0"}, "at least 1"),
        ({"MLFLOW_HTTP_REQUEST_TIMEOUT": "0"}, "MLFLOW_HTTP_REQUEST_TIMEOUT at least 1"),
        ({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "-1"}, "MLFLOW_HTTP_REQUEST_MAX_RETRIES must be"),
        ({"FRAUD_FEATURE_SHARES": "0"}, "FRAUD_FEATURE_SHARES and FRAUD_FEATURE_CHUNK"),
        ({"FRAUD_FEATURE_PARTITIONS": "0"}, "FRAUD_FEATURE_SHARES and FRAUD_FEATURE_CHUNK"),
        (
            {"FRAUD_SCORE_PARTITIONS": "4", "FRAUD_SCORE_SHARES": "2"},
            "^FRAUD_SCORE_PARTITIONS='4' and FRAUD_SCORE_SHARES='2' disagree: set FRAUD_SCORE_SHARES only$",
        ),
        ({"FRAUD_RETENTION_DAYS": "30"}, "FRAUD_RETENTION_DAYS must be at least 31"),
        (
            {"FRAUD_TRAINING_GENUINE_FRACTION": "0"},
            "FRAUD_TRAINING_GENUINE_FRACTION must be above 0",
        ),
        ({"FRAUD_TRAINING_GENUINE_FRACTION": "1.5"}, "and at most 1"),
        ({"FRAUD_TRAINING_MAX_GENUINE_ROWS": "0"}, "FRAUD_TRAINING_MAX_GENUINE_ROWS must be"),
        ({"FRAUD_TRAINING_MAX_GENUINE_ROWS": "1000"}, "FRAUD_TRAINING_MIN_GENUINE_ROWS must be"),
        ({"FRAUD_TRAINING_MIN_GENUINE_ROWS": "-1"}, "FRAUD_TRAINING_MIN_GENUINE_ROWS must be"),
        (
            {"FRAUD_BASE_URL": "file:///srv/fraud"},
            "FRAUD_BASE_URL='file:///srv/fraud' is not an http",
        ),
        ({"FRAUD_BASE_URL": "localhost:8080"}, "FRAUD_BASE_URL='localhost:8080' is not an http"),
        (
            {"AIRFLOW__API__BASE_URL": "/airflow"},
            "AIRFLOW__API__BASE_URL='/airflow' is not an http",
        ),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


def test_missing_database_url_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="FRAUD_DATABASE_URL is not set"):
        load_settings({}).require_database_url()


@pytest.mark.parametrize(
    ("psi", "band"), [(0.0, "stable"), (0.099, "stable"), (0.1, "warning"), (0.25, "alert")]
)
def test_psi_bands(psi: float, band: str) -> None:
    assert PsiBands().band(psi) == band


def test_schedule_start_is_midnight_utc() -> None:
    settings = load_settings({"FRAUD_SCHEDULE_START": "2026-03-01"})
    assert settings.schedule_start_datetime == datetime(2026, 3, 1, tzinfo=UTC)


def test_an_old_name_says_once_which_new_name_to_use(caplog: pytest.LogCaptureFixture) -> None:
    from fraud import config

    config._DEPRECATION_LOGGED.discard("FRAUD_SCORE_PARTITIONS")
    with caplog.at_level("WARNING", logger="fraud.config"):
        for _ in range(3):
            load_settings({"FRAUD_SCORE_PARTITIONS": "4"})
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "FRAUD_SCORE_PARTITIONS is deprecated: set FRAUD_SCORE_SHARES instead (same meaning)"
    ]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, GateConfig()),
        ({"FRAUD_AMOUNT_CEILING": "500"}, GateConfig(amount_ceiling=500.0)),
        ({"FRAUD_MAX_QUARANTINE_FRACTION": "0.2"}, GateConfig(max_quarantine_fraction=0.2)),
        ({"FRAUD_MIN_VOLUME_HISTORY_DAYS": "3"}, GateConfig(min_volume_history_days=3)),
        (
            {"FRAUD_VOLUME_BAND_LOW": "0.5", "FRAUD_VOLUME_BAND_HIGH": "2"},
            GateConfig(volume_band_low=0.5, volume_band_high=2.0),
        ),
    ],
)
def test_the_quality_gate_is_read_into_its_one_declaration(
    environ: dict[str, str], expected: GateConfig
) -> None:
    assert load_settings(environ).quality_gate == expected
