"""Secrets out of text: passwords, tokens and keys become ``***`` before anything is logged or shown.

``mask_passwords`` is the one function every outward text goes through (error messages, alert
rows, email, Slack, the monitoring page); ``configured_secrets`` lists the secret values of the
settings so that Airflow's own log masker can hide them wherever they appear.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy.engine import make_url

from fraud.config import Settings

MASK = "***"
# The names whose value is a secret, as a key of a query string, a libpq string, JSON or an
# environment variable: `password`, `db_password`, `AIRFLOW__CORE__FERNET_KEY`, `jwt_secret`...
_SECRET_NAME = (
    r"[\w.-]*(?:password|passwd|pwd|passphrase|token|secret|secret_key|api_key|apikey"
    r"|access_key|private_key|fernet_key|credentials?)"
)
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""

# scheme://user:<password>@host, the user possibly empty (redis://:<password>@host).
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@")
# Slack incoming webhooks and workflow triggers: the path is the secret.
_SLACK_WEBHOOK = re.compile(
    r"(https://hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"
)
# Authorization headers and bare bearer tokens.
_AUTHORIZATION = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)\s+)[^\s\"',;]+"
)
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# `password=<value>`, `?user=x&password=<value>`, `password='<quoted value>'` (libpq), `TOKEN=<value>`.
_ASSIGNED = re.compile(
    rf"(?i)(?P<key>\b{_SECRET_NAME})(?P<sep>\s*=\s*)(?P<value>{_QUOTED}|[^\s&;,'\"]+)"
)
# `"password": "<value>"` (JSON) and `'password': '<value>'` (a Python dict's repr).
_KEYED = re.compile(rf"(?i)(?P<key>[\"']{_SECRET_NAME}[\"']\s*:\s*)(?P<value>{_QUOTED})")
# Tokens recognisable by their shape wherever they stand: JWTs and Slack tokens.
_JWT = re.compile(r"\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
_SLACK_TOKEN = re.compile(r"\bxox[abposre]-[0-9A-Za-z-]{10,}")
_SECRET_KEY = re.compile(rf"(?i)^{_SECRET_NAME}$")


def mask_url(url: str) -> str:
    """Return the URL with its password replaced by ``***``, safe for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is masked by pattern instead
        return mask_passwords(url)


def _masked_value(match: re.Match[str]) -> str:
    """The key and separator of a match, its value replaced, quotes kept."""
    value = match["value"]
    quote = value[0] if value[:1] in {"'", '"'} else ""
    return f"{match['key']}{match.groupdict().get('sep') or ''}{quote}{MASK}{quote}"


def mask_passwords(text: str) -> str:
    """Replace every secret inside a text: URL passwords, named secrets, webhooks, tokens."""
    text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    text = _SLACK_WEBHOOK.sub(rf"\1{MASK}", text)
    text = _AUTHORIZATION.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    text = _KEYED.sub(_masked_value, text)
    text = _ASSIGNED.sub(_masked_value, text)
    text = _JWT.sub(MASK, text)
    return _SLACK_TOKEN.sub(MASK, text)


def mask_values(value: Any) -> Any:
    """Mask every string inside a JSON-like value; a value under a secret's name becomes ``***``."""
    if isinstance(value, str):
        return mask_passwords(value)
    if isinstance(value, dict):
        return {
            key: MASK if item and _SECRET_KEY.match(str(key)) else mask_values(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_values(item) for item in value]
    return value


def url_secrets(url: str) -> frozenset[str]:
    """The secret parts of one URL: its password, secret query values, a webhook's path."""
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:
        return frozenset()
    found = set()
    if password:
        found |= {password, unquote(password)}
    found |= {value for key, value in parse_qsl(parts.query) if _SECRET_KEY.match(key)}
    if _SLACK_WEBHOOK.match(url.strip()):
        found |= {url.strip(), parts.path.split("/", 2)[-1]}
    return frozenset(value for value in found if value and value != MASK)


def configured_secrets(settings: Settings) -> frozenset[str]:
    """Every secret of the settings: inside their URLs (logins, MLflow, the webhook), and passwords."""
    found: set[str] = set()
    for field in fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, str) and field.name.endswith(("_url", "_uri")):
            found |= url_secrets(value)
        elif isinstance(value, str) and value and _SECRET_KEY.match(field.name):
            found.add(value)
    return frozenset(found)
