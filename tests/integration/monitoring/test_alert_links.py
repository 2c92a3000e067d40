"""Alerts carry http links under FRAUD_BASE_URL, never a file path: in the alert row (real
PostgreSQL), in the Slack POST (a local HTTP server) and in the email (only the SMTP client is
replaced; the SMTP provider builds the message)."""

from __future__ import annotations

import email
import json
import smtplib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from fraud.db import create_warehouse_engine

BASE = "https://airflow.example.org/ops"


class _Recorder(BaseHTTPRequestHandler):
    """Answers 200 to every POST and keeps its body."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        return None


class _RecordingSMTP:
    """Stands in for ``smtplib.SMTP``: keeps every message instead of sending it."""

    sent: list[str] = []

    def __init__(self, host: str = "", port: int = 0, **kwargs: object) -> None:
        self.host = host

    def sendmail(self, from_addr: str, to_addrs: list[str], msg: str) -> dict:
        type(self).sent.append(msg)
        return {}

    def close(self) -> None:
        return None


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[bytes], list[str]]]:
    """Slack and email configured, the base URL set: the Slack bodies and the emails sent."""
    _Recorder.bodies, _RecordingSMTP.sent = [], []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(smtplib, "SMTP", _RecordingSMTP)
    monkeypatch.setenv("FRAUD_BASE_URL", BASE)
    webhook = f"http://127.0.0.1:{server.server_port}/services/T0/B0/hook"
    monkeypatch.setenv(
        "AIRFLOW_CONN_FRAUD_SLACK", json.dumps({"conn_type": "slackwebhook", "password": webhook})
    )
    monkeypatch.setenv("FRAUD_ALERT_EMAIL", "oncall@example.org")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "smtp://127.0.0.1:2525?disable_ssl=true&disable_tls=true&from_email=fraud%40example.org",
    )
    yield _Recorder.bodies, _RecordingSMTP.sent
    server.shutdown()
    server.server_close()


def _alert_row(warehouse_url: str, run_id: str):
    engine = create_warehouse_engine(warehouse_url)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("select kind, message, details from monitoring.alerts where run_id = :run_id"),
            {"run_id": run_id},
        ).one()
    engine.dispose()
    return row


def _mail_body(sent: str) -> str:
    mail = email.message_from_string(sent)
    parts = [part.get_payload(decode=True) for part in mail.walk() if not part.is_multipart()]
    return b"".join(parts).decode()


def test_a_failure_alert_links_the_task_log_on_every_channel(
    warehouse_url: str, channels: tuple[list[bytes], list[str]]
) -> None:
    from fraud_airflow.notifier import FraudAlertNotifier

    bodies, sent = channels
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
    (body,) = bodies
    assert json.loads(body)["text"].endswith(f"no champion; log: {log_url}")
    (mail,) = sent
    assert f'<a href="{log_url}">{log_url}</a>' in _mail_body(mail)


def test_a_drift_alert_links_the_served_report_and_no_file(
    warehouse_url: str, channels: tuple[list[bytes], list[str]]
) -> None:
    from fraud.monitoring.drift import DriftOutcome
    from fraud.xcom import to_xcom
    from fraud_airflow.notifier import notify_drift

    bodies, sent = channels
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
    (body,) = bodies
    (mail,) = sent
    texts = (row.message, json.dumps(row.details), json.loads(body)["text"], _mail_body(mail))
    assert all(report_url in text and "file:" not in text for text in texts)
    assert f'<a href="{report_url}">' in _mail_body(mail)
