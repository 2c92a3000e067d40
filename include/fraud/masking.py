"""Secrets out of text: passwords, tokens and keys become ``***`` before anything is logged or shown.

``mask_passwords`` is the one function every outward text goes through (error messages, alert
rows, email, Slack, the monitoring page): it replaces the configured secret values it is given
wherever they stand, then every secret recognisable by its shape. ``configured_secrets`` lists the
secret values of the settings, for that and for Airflow's own log masker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import fields
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from sqlalchemy.engine import make_url

from fraud.config import Settings

MASK = "***"
# The names whose value is a secret, as a key of a query string, a libpq string, JSON or an
# environment variable: `password`, `db_password`, `AIRFLOW__CORE__FERNET_KEY`, `jwt_secret`...
_SECRET_NAME = (
    r"[\w.-]*(?:password|passwd|pwd|passphrase|token|secret|secret[_-]key|api[_-]?key"
    r"|access[_-]key|private[_-]key|fernet[_-]key|credentials?)"
)
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""

# Shorter configured values are not replaced wherever they stand (Airflow's masker's minimum too):
# a three-letter password would blank out every word that holds it.
MIN_SECRET_LENGTH = 5
# scheme://user:<password>@host, the user possibly empty (redis://:<password>@host). The password
# runs to the first `@` and may hold what a pasted one holds raw: `/`, `#`, `?`, `:` and single
# spaces (so `http://host:8080 down, mail ops@example.org` loses more than its password: masking
# errs on the side of hiding).
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<password>(?:[^\s@]| (?=[^\s@])){1,256}?)@"
    r"(?=[\w\[])"
)
# Slack incoming webhooks and workflow triggers: the path is the secret.
_SLACK_WEBHOOK = re.compile(
    r"(https://hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"
)
# Authorization headers and bare bearer tokens.
_AUTHORIZATION = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)\s+)[^\s\"',;]+"
)
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# `password=<value>`, `?user=x&password=<value>`, `password='<quoted value>'` (libpq), `TOKEN=<value>`,
# and the colon forms of YAML, logs and headers: `password: <value>`, `Password : "<value>"`,
# `"password": <unquoted value>`.
_ASSIGNED = re.compile(
    rf"(?i)(?P<key>\b{_SECRET_NAME})(?P<sep>[\"']?\s*[=:]\s*)(?P<value>{_QUOTED}|[^\s&;,'\"]+)"
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


def secret_forms(secret: str) -> frozenset[str]:
    """The ways one secret value can be written in a text: raw, percent-encoded (as in a URL),
    percent-decoded and JSON-escaped."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        unquote(secret),
        json.dumps(secret)[1:-1],
    }
    return frozenset(form for form in forms if len(form) >= MIN_SECRET_LENGTH and form != MASK)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace every written form of the given secret values, longest first, wherever they stand."""
    forms = sorted({form for secret in secrets for form in secret_forms(secret)}, key=len)
    for form in reversed(forms):
        text = text.replace(form, MASK)
    return text


def mask_passwords(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every secret inside a text: the configured values given (``configured_secrets``),
    then URL passwords, named secrets, webhooks and tokens by their shape."""
    text = mask_secrets(text, secrets)
    text = _URL_PASSWORD.sub(rf"\g<head>{MASK}@", text)
    text = _SLACK_WEBHOOK.sub(rf"\1{MASK}", text)
    text = _AUTHORIZATION.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    text = _KEYED.sub(_masked_value, text)
    text = _ASSIGNED.sub(_masked_value, text)
    text = _JWT.sub(MASK, text)
    return _SLACK_TOKEN.sub(MASK, text)


def mask_values(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Mask every string inside a JSON-like value; a value under a secret's name becomes ``***``."""
    secrets = frozenset(secrets)
    if isinstance(value, str):
        return mask_passwords(value, secrets)
    if isinstance(value, dict):
        return {
            key: MASK if item and _SECRET_KEY.match(str(key)) else mask_values(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_values(item, secrets) for item in value]
    return value


def url_secrets(url: str) -> frozenset[str]:
    """The secret parts of one URL: its password (raw `/`, `#` or spaces included), secret query
    values, a webhook's path."""
    url = url.strip()
    found = set()
    written = _URL_PASSWORD.match(url)
    if written:
        found |= {written["password"], unquote(written["password"])}
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        password, parts = None, None
    if password:
        found |= {password, unquote(password)}
    if parts is not None:
        found |= {value for key, value in parse_qsl(parts.query) if _SECRET_KEY.match(key)}
        if _SLACK_WEBHOOK.match(url):
            found |= {url, parts.path.split("/", 2)[-1]}
    return frozenset(value for value in found if value and value != MASK)


def _secrets_in(value: Any, *, named: bool = False) -> set[str]:
    """The secrets inside one setting: in an Airflow Connection as JSON, the values under a
    secret's name (a webhook URL held as the password included); in a URL, its password and
    secret query values; a value ``named`` a secret, whole."""
    if isinstance(value, dict):
        return {
            found
            for key, item in value.items()
            for found in _secrets_in(item, named=bool(_SECRET_KEY.match(str(key))))
        }
    if not isinstance(value, str) or not value.strip():
        return set()
    text = value.strip()
    if text.startswith("{"):
        try:
            return _secrets_in(json.loads(text))
        except ValueError:
            pass
    found = set(url_secrets(text)) if "://" in text else set()
    return found | {text} if named else found


def configured_secrets(settings: Settings) -> frozenset[str]:
    """Every secret of the settings: inside their URLs (logins, MLflow, the webhook), passwords,
    and the secrets the deployment hands every process (MLflow's password, Airflow's keys, the
    SMTP and Slack Connections: ``Settings.deployment_secrets``)."""
    found: set[str] = set()
    for field in fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, str) and field.name.endswith(("_url", "_uri")):
            found |= url_secrets(value)
        elif isinstance(value, str) and value and _SECRET_KEY.match(field.name):
            found.add(value)
    for _, value in settings.deployment_secrets:
        # A key or password is secret whole; a URL (a Connection, a broker) for its password.
        found |= _secrets_in(value, named="://" not in value)
    return frozenset(value for value in found if value and value != MASK)
