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
