"""The notifier's channels: which are used, what Slack receives, and that a failing one is only
logged (the alert row is already written). Slack is a local HTTP server behind a ``slackwebhook``
Connection; only the email transport is replaced."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from fraud.config import Settings
from fraud_airflow import notifier
from fraud_airflow.defaults import task_defaults
from tests.support.slack import Webhook, slack_webhook

SLACK_CONNECTION = "AIRFLOW_CONN_FRAUD_SLACK"


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    """A local webhook, defined as the ``fraud_slack`` Connection."""
    with slack_webhook() as served:
        monkeypatch.setenv(SLACK_CONNECTION, served.connection())
        yield served


@pytest.mark.parametrize(
    ("severity", "icon"),
    [("warning", ":warning:"), ("critical", ":rotating_light:"), ("info", ":information_source:")],
)
def test_slack_payload(severity: str, icon: str) -> None:
    payload = notifier.slack_payload("drift", severity, "PSI 0.4 on score")
    assert payload == {"text": f"{icon} *[fraud] {severity} drift*: PSI 0.4 on score"}


@pytest.mark.parametrize(
    ("email", "slack", "channels"),
    [
        (None, False, []),
        ("oncall@example.org", False, ["email"]),
        (None, True, ["slack"]),
        ("oncall@example.org", True, ["email", "slack"]),
    ],
)
def test_configured_channels_are_used(
    monkeypatch: pytest.MonkeyPatch,
    webhook: Webhook,
    email: str | None,
    slack: bool,
    channels: list[str],
) -> None:
    emails: list[str] = []
    monkeypatch.setattr(
        notifier, "send_email", lambda to, subject, message, context: emails.append(to)
    )
    if not slack:
        monkeypatch.delenv(SLACK_CONNECTION)
    settings = Settings(alert_email=email)
    assert notifier.send_alert(settings, "drift", "warning", "PSI", {}) == channels
    assert len(emails) == ("email" in channels)
    assert [request["payload"] for request in webhook.requests] == (
        [notifier.slack_payload("drift", "warning", "PSI")] if slack else []
    )


def test_the_webhook_url_setting_alone_sends_nothing(webhook: Webhook, monkeypatch) -> None:
    # FRAUD_SLACK_WEBHOOK_URL is what `make up` turns into the Connection; tasks read the latter.
    monkeypatch.delenv(SLACK_CONNECTION)
    settings = Settings(slack_webhook_url=webhook.url)
    assert notifier.send_alert(settings, "drift", "warning", "PSI", {}) == []
    assert webhook.requests == []


def test_a_failing_channel_is_logged_without_the_webhook(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with slack_webhook() as closed:
        pass
    monkeypatch.setenv(SLACK_CONNECTION, closed.connection())
    with caplog.at_level(logging.WARNING, logger=notifier.__name__):
        sent = notifier.send_alert(Settings(), "drift", "warning", "PSI", {})
    assert sent == []
    assert "alert to the Slack webhook failed: " in caplog.text
    assert closed.url not in caplog.text


def test_slack_refusing_the_message_is_an_error(webhook: Webhook) -> None:
    webhook.status = 403
    with pytest.raises(Exception, match="Status Code: 403"):
        notifier.send_to_slack("x", {})
    assert webhook.texts == ["x"]


def test_task_defaults_hand_the_configured_passwords_to_airflows_masker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk.log import redact

    from fraud_airflow.defaults import mask_configured_secrets, task_defaults

    hidden = "Zq8vLm2x" + "K7pTw4"
    url = f"postgresql://fraud_pipeline_login:{hidden}@db.internal:5432/fraud"
    monkeypatch.setenv("FRAUD_DATABASE_URL", url)
    line = f"warehouse at {url} (options password={hidden})"
    assert hidden in redact(line)

    callback = task_defaults()["on_execute_callback"]
    callback({})

    assert callback is mask_configured_secrets
    assert hidden not in redact(line)
    assert "fraud_pipeline_login:***@db.internal:5432/fraud" in redact(line)


def test_send_alert_sends_only_the_masked_message(
    monkeypatch: pytest.MonkeyPatch, webhook: Webhook
) -> None:
    hidden = "Zq8vLm2x" + "K7pTw3"
    emails: list[str] = []
    monkeypatch.setattr(
        notifier,
        "send_email",
        lambda to, subject, message, context: emails.append(subject + message),
    )
    message = f"fraud_score failed: host=db password={hidden} dbname=fraud"
    settings = Settings(alert_email="oncall@example.org")

    assert notifier.send_alert(settings, "task_failure", "critical", message, {}) == [
        "email",
        "slack",
    ]
    posts = [request["body"].decode() for request in webhook.requests]  # type: ignore[attr-defined]
    assert len(posts) == 1
    assert all(hidden not in text and "password=***" in text for text in emails + posts)


# A password with no shape that gives it away: only its configured value can hide it.
SHAPELESS = "Zq8vLm2x" + "K7pTw5 / #"


def test_task_defaults_hand_mlflows_password_and_the_deployments_secrets_to_airflows_masker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk.log import redact

    fernet = "d2hhdC1hLWZlcm5ldC" + "1rZXktbG9va3MtbGlrZQ=="
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", SHAPELESS)
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", fernet)
    line = (
        f"mlflow said: bad login {SHAPELESS} (as %-encoded: Zq8vLm2xK7pTw5%20%2F%20%23); {fernet}"
    )
    assert SHAPELESS in redact(line)

    task_defaults()["on_execute_callback"]({})

    redacted = redact(line)
    assert "Zq8vLm2xK7pTw5" not in redacted and fernet not in redacted
    assert redacted.startswith("mlflow said: bad login ***")


def test_send_alert_masks_the_configured_values_and_escapes_slack(
    monkeypatch: pytest.MonkeyPatch, webhook: Webhook
) -> None:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(
        notifier,
        "send_email",
        lambda to, subject, message, context: sent.append((subject, message)),
    )
    settings = Settings(
        alert_email="oncall@example.org",
        deployment_secrets=(("MLFLOW_TRACKING_PASSWORD", SHAPELESS),),
    )
    message = f"registry refused {SHAPELESS}\n<!channel> see <http://evil.example|the report> & act"

    assert notifier.send_alert(settings, "task_failure", "critical", message, {}) == [
        "email",
        "slack",
    ]
    ((subject, body),) = sent
    (text,) = webhook.texts
    for received in (subject, body, text):
        assert "Zq8vLm2xK7pTw5" not in received
    assert "\n" not in subject
    assert text == (
        ":rotating_light: *[fraud] critical task_failure*: registry refused ***\n"
        "&lt;!channel&gt; see &lt;http://evil.example|the report&gt; &amp; act"
    )


def _raised_from(cause: BaseException) -> BaseException:
    """What the DAG raises when the task function raised ``cause``: Airflow's fail exception."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        try:
            raise cause
        except BaseException as error:
            raise AirflowFailException(str(error)) from error
    except AirflowFailException as raised:
        return raised


def _stopped_batch() -> BaseException:
    from fraud.tasks import FailedBatch

    return FailedBatch("batch failed: volume 12 rows below the band", {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "gate"),
    [
        (None, False),
        (RuntimeError("connection refused"), False),
        ("stopped batch", True),
        ("stopped batch, raised on", True),
    ],
)
def test_a_failure_the_gate_caused_is_told_from_other_failures(error: object, gate: bool) -> None:
    if error == "stopped batch":
        error = _stopped_batch()
    elif error == "stopped batch, raised on":
        error = _raised_from(_stopped_batch())
    assert notifier.stopped_by_the_gate(error) is gate  # type: ignore[arg-type]
