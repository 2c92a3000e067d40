"""When a run of fraud_score promises its day's scores, and how a missed deadline reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraud.monitoring.alerts import AlertKind, deadline_applies, deadline_message, scores_due_at

DAY_END = datetime(2026, 3, 2, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)


def test_scores_are_due_the_deadline_after_the_day_ends() -> None:
    assert scores_due_at(DAY_END, SIX_HOURS) == datetime(2026, 3, 2, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created_at", "rescored_day", "applies"),
    [
        (DAY_END + timedelta(minutes=1), None, True),  # the scheduler, on time
        (DAY_END + timedelta(hours=5, minutes=59), None, True),  # late, but before the deadline
        (DAY_END + SIX_HOURS, None, False),  # created as the deadline passes
        (DAY_END + timedelta(days=30), None, False),  # a catch-up or a backfill
        (DAY_END + timedelta(minutes=1), "2026-01-15", False),  # rescores a chosen day
        (DAY_END + timedelta(minutes=1), "", True),  # the form's empty date
    ],
)
def test_a_run_promises_its_day_only_when_created_before_the_deadline(
    created_at: datetime, rescored_day: str | None, applies: bool
) -> None:
    assert deadline_applies(DAY_END, SIX_HOURS, created_at, rescored_day) is applies


def test_the_message_names_the_day_the_deadline_and_links_the_run() -> None:
    message = deadline_message(
        "https://airflow.example.org/",
        "fraud_score",
        "scheduled__2026-03-01T00:00:00+00:00",
        DAY_END - timedelta(days=1),
        DAY_END + SIX_HOURS,
        "running",
    )
    assert message == (
        "Scores of 2026-03-01 not published by 2026-03-02 06:00 UTC: fraud_score run"
        " scheduled__2026-03-01T00:00:00+00:00 is running. Run: https://airflow.example.org/dags/"
        "fraud_score/runs/scheduled__2026-03-01T00%3A00%3A00%2B00%3A00"
    )


def test_alert_kinds_are_the_strings_stored_in_the_alerts_table() -> None:
    assert [kind.value for kind in AlertKind] == [
        "task_failure",
        "quality_gate",
        "drift",
        "deadline_missed",
    ]
