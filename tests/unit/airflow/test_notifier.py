"""The notifier's channels: which are used, what Slack receives, and that a failing one is only
logged (the alert row is already written). Only the transports are replaced."""

from __future__ import annotations

import json
import logging
import urllib.error

import pytest

from fraud.config import Settings
from fraud_airflow import notifier

WEBHOOK = "https://hooks.slack.invalid/services/unit-test"


@pytest.mark.parametrize(
    ("severity", "icon"),
    [("warning", ":warning:"), ("critical", ":rotating_light:"), ("info", ":information_source:")],
)
def test_slack_payload(severity: str, icon: str) -> None:
    payload = notifier.slack_payload("drift", severity, "PSI 0.4 on score")
    assert payload == {"text": f"{icon} *[fraud] {severity} drift*: PSI 0.4 on score"}


@pytest.mark.parametrize(
    ("settings", "channels"),
    [
        (Settings(), []),
        (Settings(alert_email="oncall@example.org"), ["email"]),
        (Settings(slack_webhook_url=WEBHOOK), ["slack"]),
        (Settings(alert_email="oncall@example.org", slack_webhook_url=WEBHOOK), ["email", "slack"]),
    ],
)
def test_configured_channels_are_used(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, channels: list[str]
) -> None:
    emails, posts = [], []
    monkeypatch.setattr(
        notifier, "send_email", lambda to, subject, message, context: emails.append(to)
    )
    monkeypatch.setattr(
        notifier.urllib.request,
        "urlopen",
        lambda request, timeout: posts.append(json.loads(request.data)) or _Accepted(),
    )
    assert notifier.send_alert(settings, "drift", "warning", "PSI", {}) == channels
    assert len(emails) == ("email" in channels)
    assert posts == (
        [notifier.slack_payload("drift", "warning", "PSI")] if "slack" in channels else []
    )


class _Accepted:
    status = 200

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        return None


def test_a_failing_channel_is_logged_without_the_webhook(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(request, timeout):
        raise urllib.error.URLError(f"cannot reach {request.full_url}")

    monkeypatch.setattr(notifier.urllib.request, "urlopen", refuse)
    with caplog.at_level(logging.WARNING, logger=notifier.__name__):
        sent = notifier.send_alert(
            Settings(slack_webhook_url=WEBHOOK), "drift", "warning", "PSI", {}
        )
    assert sent == []
    assert "Slack webhook failed: URLError" in caplog.text
    assert WEBHOOK not in caplog.text


def test_slack_refusing_the_message_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refused(_Accepted):
        status = 403

    monkeypatch.setattr(notifier.urllib.request, "urlopen", lambda request, timeout: Refused())
    with pytest.raises(RuntimeError, match="HTTP 403"):
        notifier.post_to_slack(WEBHOOK, {"text": "x"})


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


def test_send_alert_sends_only_the_masked_message(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = "Zq8vLm2x" + "K7pTw3"
    emails, posts = [], []
    monkeypatch.setattr(
        notifier,
        "send_email",
        lambda to, subject, message, context: emails.append(subject + message),
    )
    monkeypatch.setattr(
        notifier.urllib.request,
        "urlopen",
        lambda request, timeout: posts.append(request.data.decode()) or _Accepted(),
    )
    message = f"fraud_score failed: host=db password={hidden} dbname=fraud"
    settings = Settings(alert_email="oncall@example.org", slack_webhook_url=WEBHOOK)

    assert notifier.send_alert(settings, "task_failure", "critical", message, {}) == [
        "email",
        "slack",
    ]
    assert all(hidden not in text and "password=***" in text for text in emails + posts)
