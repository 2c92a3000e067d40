"""Test support: an SMTP client that keeps every message instead of sending it."""

from __future__ import annotations

import email
import smtplib
from collections.abc import Generator
from contextlib import contextmanager

import pytest


class RecordingSMTP:
    """Stands in for ``smtplib.SMTP``; the SMTP provider still builds each message."""

    sent: list[str] = []

    def __init__(self, host: str = "", port: int = 0, **kwargs: object) -> None:
        self.host = host

    def sendmail(self, from_addr: str, to_addrs: list[str], msg: str) -> dict:
        type(self).sent.append(msg)
        return {}

    def close(self) -> None:
        return None


@contextmanager
def recorded_mail(monkeypatch: pytest.MonkeyPatch) -> Generator[list[str], None, None]:
    """Route email to :class:`RecordingSMTP` with an SMTP Connection; yield the raw messages."""
    RecordingSMTP.sent = []
    monkeypatch.setattr(smtplib, "SMTP", RecordingSMTP)
    monkeypatch.setenv("FRAUD_ALERT_EMAIL", "oncall@example.org")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "smtp://127.0.0.1:2525?disable_ssl=true&disable_tls=true&from_email=fraud%40example.org",
    )
    yield RecordingSMTP.sent


def mail_body(raw: str) -> str:
    """Every non-multipart part of a raw message, decoded and joined."""
    message = email.message_from_string(raw)
    parts = [part.get_payload(decode=True) for part in message.walk() if not part.is_multipart()]
    return b"".join(parts).decode()
