"""A failure alert whose exception quotes a DSN leaves only masked text: in the alert row (real
PostgreSQL), in the Slack POST (a local HTTP server) and in the email (only the SMTP client is
replaced; the SMTP provider builds the message)."""

from __future__ import annotations

import email
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from fraud.db import create_warehouse_engine
from tests.support.mail import mail_body, recorded_mail
from tests.support.slack import slack_webhook

pytestmark = pytest.mark.integration

HIDDEN = "Zq8vLm2x" + "K7pTw4"
EXCEPTION = (
    f"connection to server failed: postgresql://fraud_pipeline_login:{HIDDEN}@db.internal:5432/fraud"
    f" (options host=db.internal password={HIDDEN} dbname=fraud)"
)


def test_a_failure_alert_carries_only_masked_text(
    warehouse_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fraud_airflow.notifier import FraudAlertNotifier

    task_instance = SimpleNamespace(
        dag_id="fraud_score", task_id="score_partition", run_id="masking-test", try_number=1
    )

    # The Slack provider's webhook notifier posts to the fraud_slack Connection's URL.
    with slack_webhook() as webhook, recorded_mail(monkeypatch) as mails:
        monkeypatch.setenv("AIRFLOW_CONN_FRAUD_SLACK", webhook.connection())
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
    (slack_text,) = webhook.texts
    (sent,) = mails
    body = mail_body(sent)
    subject = str(email.message_from_string(sent)["Subject"])
    for text in (row.message, row.details, slack_text, subject, body, sent):
        assert HIDDEN not in text
    assert "fraud_pipeline_login:***@db.internal:5432/fraud" in row.message
    assert "password=*** dbname=fraud" in row.message
    assert "fraud_pipeline_login:***@db.internal:5432/fraud" in slack_text
    assert "fraud_pipeline_login:***@db.internal:5432/fraud" in body


# MLflow's password, with nothing in its shape to give it away: only its configured value can
# hide it. The message also tries Slack's mention and a disguised link.
MLFLOW_LOGIN = "Zq8vLm2x" + "K7pTw6 #/ x"


def test_the_configured_secret_values_never_leave_and_slack_control_is_inert(
    warehouse_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fraud_airflow.notifier import FraudAlertNotifier

    task_instance = SimpleNamespace(
        dag_id="fraud_retrain", task_id="train", run_id="configured-secrets-test", try_number=1
    )
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", MLFLOW_LOGIN)
    monkeypatch.setenv("FRAUD_ALERT_EMAIL", "oncall@example.org")
    error = RuntimeError(
        f"registry said: login {MLFLOW_LOGIN} refused <!channel> <http://evil.example|logs>"
    )
    with slack_webhook() as webhook, recorded_mail(monkeypatch) as mails:
        monkeypatch.setenv("AIRFLOW_CONN_FRAUD_SLACK", webhook.connection())
        FraudAlertNotifier(details={"tried": [f"admin:{MLFLOW_LOGIN}"]}).notify(
            {"ti": task_instance, "exception": error}
        )

    engine = create_warehouse_engine(warehouse_url)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "select message, details::text as details from monitoring.alerts"
                " where run_id = 'configured-secrets-test'"
            )
        ).one()
    engine.dispose()
    (slack_text,) = webhook.texts
    (sent,) = mails
    body = mail_body(sent)
    for text in (row.message, row.details, slack_text, body, sent):
        assert "Zq8vLm2xK7pTw6" not in text
    assert "registry said: login *** refused" in row.message
    assert "&lt;!channel&gt; &lt;http://evil.example|logs&gt;" in slack_text
    assert "<!channel>" not in slack_text and "<http" not in slack_text
