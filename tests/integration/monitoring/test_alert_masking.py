"""A failure alert whose exception quotes a DSN leaves only masked text: in the alert row (real
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

HIDDEN = "Zq8vLm2x" + "K7pTw4"
EXCEPTION = (
    f"connection to server failed: postgresql://fraud_pipeline_login:{HIDDEN}@db.internal:5432/fraud"
    f" (options host=db.internal password={HIDDEN} dbname=fraud)"
)


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


@pytest.fixture
def slack_server() -> Iterator[tuple[str, list[bytes]]]:
    """A local webhook endpoint: its URL and the bodies it received."""
    _Recorder.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/hook", _Recorder.bodies
    server.shutdown()
    server.server_close()


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


def test_a_failure_alert_carries_only_masked_text(
    warehouse_url: str,
    slack_server: tuple[str, list[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fraud_airflow.notifier import FraudAlertNotifier

    webhook, bodies = slack_server
    _RecordingSMTP.sent = []
    monkeypatch.setattr(smtplib, "SMTP", _RecordingSMTP)
    # The Slack provider's webhook notifier posts to the fraud_slack Connection's URL.
    monkeypatch.setenv(
        "AIRFLOW_CONN_FRAUD_SLACK", json.dumps({"conn_type": "slackwebhook", "password": webhook})
    )
    monkeypatch.setenv("FRAUD_ALERT_EMAIL", "oncall@example.org")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "smtp://127.0.0.1:2525?disable_ssl=true&disable_tls=true&from_email=fraud%40example.org",
    )
    task_instance = SimpleNamespace(
        dag_id="fraud_score", task_id="score_partition", run_id="masking-test", try_number=1
    )

    FraudAlertNotifier().notify({"ti": task_instance, "exception": RuntimeError(EXCEPTION)})

    engine = create_warehouse_engine(warehouse_url)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "select message, details::text as details from monitoring.alerts"
                " where run_id = 'masking-test'"
            )
        ).one()
    engine.dispose()
    (body,) = bodies
    (sent,) = _RecordingSMTP.sent
    mail = email.message_from_string(sent)
    parts = [part.get_payload(decode=True) for part in mail.walk() if not part.is_multipart()]
    mail_body = b"".join(parts).decode()
    slack_text = json.loads(body)["text"]
    for text in (row.message, row.details, slack_text, mail["Subject"], mail_body, sent):
        assert HIDDEN not in text
    assert "fraud_pipeline_login:***@db.internal:5432/fraud" in row.message
    assert "password=*** dbname=fraud" in row.message
    assert "fraud_pipeline_login:***@db.internal:5432/fraud" in slack_text
    assert "fraud_pipeline_login:***@db.internal:5432/fraud" in mail_body
