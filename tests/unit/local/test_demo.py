"""What ``fraud up`` prints when it is done: the URLs, the login, the champion, the last night."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fraud.local.demo import LastNight, summary_text

NIGHT = LastNight(
    date(2026, 3, 7), extracted=4210, validated=4205, quarantined=5, scored=4205, alerts=100
)


def summary(champion: int | None = 3, night: LastNight | None = NIGHT) -> dict[str, str]:
    """The summary's lines keyed by their label."""
    text = summary_text(
        login=("admin", "s3cret"),
        mlflow_url="http://127.0.0.1:5000",
        model_name="fraud-lightgbm",
        champion=champion,
        night=night,
        env_file=Path("/repo/.fraud/env"),
    )
    assert text.startswith("\n") and text.endswith("\n"), "set off by blank lines"
    return {line[2:15].strip(): line[15:] for line in text.strip("\n").splitlines()}


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Airflow UI", "http://127.0.0.1:8080   login admin / s3cret"),
        ("MLflow UI", "http://127.0.0.1:5000"),
        (
            "Monitoring",
            "http://127.0.0.1:8080/fraud-monitoring/   (in the Airflow UI: Browse > Fraud monitoring)",
        ),
        ("Champion", "models:/fraud-lightgbm/3"),
        (
            "Last night",
            "2026-03-07: 4210 extracted, 4205 validated, 5 quarantined, 4205 scored, 100 alerts",
        ),
        ("Shell setup", "set -a; . /repo/.fraud/env; set +a   # then: fraud status"),
    ],
)
def test_summary_line(label: str, expected: str) -> None:
    assert summary()[label] == expected


def test_summary_before_any_champion_or_night() -> None:
    lines = summary(champion=None, night=None)
    assert lines["Champion"] == "none yet (run fraud_retrain)"
    assert lines["Last night"] == "none validated yet"
