"""Alerts carry http links under FRAUD_BASE_URL, never a file path: in the alert row (real
PostgreSQL), in the Slack POST (a local HTTP server) and in the email (only the SMTP client is
replaced; the SMTP provider builds the message)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from fraud.db import create_warehouse_engine
from tests.support.mail import mail_body, recorded_mail
from tests.support.slack import Webhook, slack_webhook

pytestmark = pytest.mark.integration

BASE = "https://airflow.example.org/ops"


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Webhook, list[str]]]:
    """Slack and email configured, the base URL set: the webhook and the emails sent."""
    monkeypatch.setenv("FRAUD_BASE_URL", BASE)
    with slack_webhook() as webhook, recorded_mail(monkeypatch) as sent:
        monkeypatch.setenv("AIRFLOW_CONN_FRAUD_SLACK", webhook.connection())
        yield webhook, sent


def _alert_row(warehouse_url: str, run_id: str):
    engine = create_warehouse_engine(warehouse_url)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("select kind, message, details from monitoring.alerts where run_id = :run_id"),
            {"run_id": run_id},
        ).one()
    engine.dispose()
    return row


def test_a_failure_alert_links_the_task_log_on_every_channel(
    warehouse_url: str, channels: tuple[Webhook, list[str]]
) -> None:
    from fraud_airflow.notifier import FraudAlertNotifier

    webhook, sent = channels
    run_id = "scheduled__2026-03-02T00:00:00+00:00"
    task_instance = SimpleNamespace(
        dag_id="fraud_score", task_id="score_partition", run_id=run_id, map_index=1, try_number=2
    )
    log_url = (
        f"{BASE}/dags/fraud_score/runs/scheduled__2026-03-02T00%3A00%3A00%2B00%3A00"
        "/tasks/score_partition/mapped/1?try_number=2"
    )

    FraudAlertNotifier().notify({"ti": task_instance, "exception": RuntimeError("no champion")})

    row = _alert_row(warehouse_url, run_id)
    assert row.message == f"fraud_score.score_partition failed: no champion; log: {log_url}"
    assert row.details == {"try_number": 2, "log_url": log_url}
    (text,) = webhook.texts
    assert text.endswith(f"no champion; log: {log_url}")
    (mail,) = sent
    assert f'<a href="{log_url}">{log_url}</a>' in mail_body(mail)


def test_a_drift_alert_links_the_served_report_and_no_file(
    warehouse_url: str, channels: tuple[Webhook, list[str]]
) -> None:
    from fraud.monitoring.drift import DriftOutcome
    from fraud.xcom import to_xcom
    from fraud_airflow.notifier import notify_drift

    webhook, sent = channels
    drift = DriftOutcome(
        drift_date="2026-03-01",
        model_version=3,
        rows_compared=800,
        max_psi=0.4,
        alert_columns=("score",),
        monitored_columns=("score", "tx_amount"),
        report_path="/opt/airflow/artifacts/drift/2026-03-01.html",
    )
    task_instance = SimpleNamespace(
        dag_id="fraud_drift", task_id="compute_drift", run_id="drift-links", try_number=1
    )
    report_url = f"{BASE}/fraud-monitoring/reports/2026-03-01.html"
    log_url = f"{BASE}/dags/fraud_drift/runs/drift-links/tasks/compute_drift?try_number=1"

    message = notify_drift(to_xcom(drift), {"ti": task_instance})

    row = _alert_row(warehouse_url, "drift-links")
    assert message is not None and message.endswith(f"Report: {report_url}; log: {log_url}")
    assert (row.kind, row.message) == ("drift", message)
    assert row.details["report_url"] == report_url and row.details["log_url"] == log_url
    (slack_text,) = webhook.texts
    (mail,) = sent
    seen = (row.message, json.dumps(row.details), slack_text, mail_body(mail))
    assert all(report_url in text and "file:" not in text for text in seen)
    assert f'<a href="{report_url}">' in mail_body(mail)
