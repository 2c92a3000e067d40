"""No secrets in the repository, and none printed: credentials only arrive through the environment.

The scan reads every file git tracks or would track (``git ls-files --cached --others
--exclude-standard``, so new files are checked before their first commit) and looks for
passwords inside URLs, private keys, AWS keys, Slack tokens and webhooks, GitHub tokens, and
passwords or tokens assigned as string literals.

Allowed, because they are not secrets:

- references resolved at run time: ``${VAR}``, ``$VAR``, ``{field}`` and ``%(field)s``
  templates, ``<password>``-style slots (a ``${VAR:-default}`` is judged by its default, which
  is what runs when the variable is unset);
- masks: values made only of ``*``, ``x``, ``.`` or ``-`` (``***`` is what ``mask_url`` prints);
- values shorter than 8 characters: fixtures such as ``pw`` or ``p%40ss``, and too short to be a
  credential anyone should deploy;
- values made only of the words in ``PLACEHOLDER_WORDS`` (``changeme``, ``app-password``,
  ``test-only-secret``, ``topsecret``);
- a line carrying the marker ``secret-scan: allow`` (the reviewer sees it in the diff).

Short defaults are the exception to the length rule: a well-known word of ``WEAK_PASSWORDS``
used as a password in a URL, or as the password of a URL's own user, or assigned to a variable
or key named like a password (a compose file, a Makefile, JSON, YAML), and any default at all of
a shell-style reference to a secret's variable, fail too: these are what a deployment runs with
when nobody sets the variable. psql's quoted variables (``:'name'``) are references.

Anything else that looks like a credential fails the test with its file and line.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from fraud.cli import main
from fraud.config import Settings
from fraud.masking import mask_passwords
from fraud.model.registry import RegistryError, champion_version

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
ALLOW_MARKER = "secret-scan: allow"
MIN_SECRET_LENGTH = 8
PLACEHOLDER_WORDS = frozenset(
    {
        "admin",
        "app",
        "changeme",
        "dummy",
        "example",
        "fake",
        "my",
        "only",
        "pass",
        "passwd",
        "password",
        "placeholder",
        "secret",
        "test",
        "topsecret",
        "user",
        "your",
    }
)
_REFERENCE = re.compile(r"^(\$\{[^}]*\}|\$\w+|\{[^}]*\}|%\(\w+\)s|<[^>]*>)$")
_SHELL_REFERENCE = re.compile(r"\$\{\w+(?::?-(?P<default>[^}]*))?\}")
_MASK = re.compile(r"^[*xX.\-]+$")
# Words that get deployed as passwords when a default is left in place.
WEAK_PASSWORDS = frozenset(
    {
        "12345",
        "123456",
        "12345678",
        "admin",
        "airflow",
        "changeme",
        "default",
        "fraud",
        "guest",
        "letmein",
        "mlflow",
        "pass",
        "passwd",
        "password",
        "postgres",
        "qwerty",
        "redis",
        "root",
    }
)
_SECRET_VARIABLE_DEFAULT = re.compile(
    r"\$\{(?P<name>\w*(?:PASSWORD|PASSWD|SECRET|TOKEN|_KEY)\w*):?-(?P<default>[^}]+)\}", re.I
)
_PASSWORD_KEY = r"[\w.-]*(?:password|passwd|pwd)"
_WEAK_RULES = (
    ("weak password in URL", re.compile(r"://([^\s:/@'\"$]*):([^\s@/'\"]+)@")),
    # A quoted key (JSON, a dict) takes a quoted value; a bare one (env, YAML) may take a bare word.
    (
        "weak password assigned",
        re.compile(rf"(?i)[\"']{_PASSWORD_KEY}[\"']\s*[:=]\s*[\"'](\w+)[\"']"),
    ),
    (
        "weak password assigned",
        re.compile(rf"(?i)\b{_PASSWORD_KEY}\s*[:=]\s*[\"']?(\w+)\b(?![(.\[])"),
    ),
)
_PSQL_VARIABLE = re.compile(r":'[\w{}]+'")


@dataclass(frozen=True)
class Rule:
    """One kind of credential; ``value_group`` names the part checked against the allow-list."""

    name: str
    pattern: re.Pattern[str]
    value_group: int | None = None


RULES = (
    Rule(
        "password in URL", re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]+:([^\s@/'\"]+)@"), 1
    ),
    Rule("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    Rule("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    Rule(
        "AWS secret access key",
        re.compile(r"(?i)aws_secret_access_key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})"),
        1,
    ),
    Rule("Slack token", re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}")),
    Rule(
        "Slack webhook",
        re.compile(r"https://hooks\.slack\.com/services/T[0-9A-Za-z_]+/B[0-9A-Za-z_]+/\w+"),
    ),
    Rule("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    Rule(
        "password assigned a literal",
        re.compile(
            r"(?i)\b[\w.-]*(?:password|passwd|pwd|secret|secret_key|token|api_key|apikey)"
            r"[\"']?\s*[:=]\s*[\"']([^\"'\s]+)[\"']"
        ),
        1,
    ),
    Rule("SQL password literal", re.compile(r"(?i)\bpassword\s+'([^'\s]+)'"), 1),
)


def is_placeholder(value: str) -> bool:
    """True for references, masks, short fixtures and values made of placeholder words."""
    words = {word for word in re.split(r"[^a-z0-9]+", value.lower()) if word}
    return bool(
        _REFERENCE.match(value)
        or _MASK.match(value)
        or len(value) < MIN_SECRET_LENGTH
        or words <= PLACEHOLDER_WORDS
    )


def weak_passwords(line: str) -> list[str]:
    """Rule names of the short defaults in one line: a secret's default, a well-known word."""
    found = ["default of a secret variable" for _ in _SECRET_VARIABLE_DEFAULT.finditer(line)]
    for name, pattern in _WEAK_RULES:
        for match in pattern.finditer(line):
            user, value = (
                (match.group(1), match.group(2)) if pattern.groups == 2 else ("", match[1])
            )
            if value.lower() in WEAK_PASSWORDS or (user and value == user):
                found.append(name)
    return found


def find_secrets(text: str) -> list[tuple[int, str]]:
    """(line number, rule name) of every credential-looking value in a text."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if ALLOW_MARKER in line:
            continue
        line = _PSQL_VARIABLE.sub(" ${VAR}", line)
        found += [(number, name) for name in weak_passwords(line)]
        # ``${USER:-x}:${PASS_VAR:-y}@`` holds colons of its own: judge each by its default.
        line = _SHELL_REFERENCE.sub(lambda match: match["default"] or "${VAR}", line)
        for rule in RULES:
            for match in rule.pattern.finditer(line):
                value = match.group(rule.value_group) if rule.value_group else None
                if value is None or not is_placeholder(value):
                    found.append((number, rule.name))
    return found


def repository_files() -> list[Path]:
    """Files git tracks, plus new files it would track; binary files are left out."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPOSITORY_ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing to scan")
    paths = [REPOSITORY_ROOT / name for name in listing.decode().split("\0") if name]
    return [path for path in paths if path.is_file() and b"\0" not in path.read_bytes()[:8192]]


# Positive cases are assembled from pieces so that this file itself stays clean.
@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("url = 'postgresql://fraud:" + "Zq8vLm2x@db:5432/warehouse'", "password in URL"),
        ("AIRFLOW_CONN_WAREHOUSE=postgres://etl:" + "Hq7rWm2pLx@db/w", "password in URL"),
        ("postgresql://u:${DB_PASS" + "WORD:-Zq8vLm2xK}@db/w", "password in URL"),
        ("-----BEGIN RSA " + "PRIVATE KEY-----", "private key"),
        ("-----BEGIN " + "PRIVATE KEY-----", "private key"),
        ("key_id = AKIA" + "Q3ZT5EXAMPLE7XY2", "AWS access key id"),
        (
            "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY",
            "AWS secret access key",
        ),
        ("SLACK_TOKEN=xox" + "b-123456789012-abcdefghijkl", "Slack token"),
        ("https://hooks.slack.com/services/" + "T000/B000/XXXXXXXXXXXXXXXX", "Slack webhook"),
        ("token: gh" + "p_" + "a" * 36, "GitHub token"),
        ('password = "' + 'Zq8vLm2x"', "password assigned a literal"),
        ('{"db_password": "' + 'Zq8vLm2x"}', "password assigned a literal"),
        ("create role alice login password '" + "Zq8vLm2x';", "SQL password literal"),
        (
            "url: ${DB_URL:-postgresql://u:" + "${POSTGRES_PASS" + "WORD:-airflow}@pg/db}",
            "default of a secret variable",
        ),
        ("POSTGRES_PASSWORD: ${POSTGRES_PASSWORD" + ":-airflow}", "default of a secret variable"),
        ("postgresql://postgres:" + "postgres@db/fraud", "weak password in URL"),
        ("https://user:" + "pass@example.org/", "weak password in URL"),
        ("postgresql://airflow:" + "changeme@postgres/airflow", "weak password in URL"),
        ("redis://:" + "redis@redis:6379/0", "weak password in URL"),
        ("amqp://fraud:" + "fraud@rabbit/", "weak password in URL"),
        ("POSTGRES_PASSWORD=" + "airflow", "weak password assigned"),
        ("      password: " + "admin", "weak password assigned"),
        ('{"password": "' + 'admin"}', "weak password assigned"),
    ],
)
def test_scanner_finds(line: str, rule: str) -> None:
    assert (1, rule) in find_secrets(line)


@pytest.mark.parametrize(
    "line",
    [
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "postgresql://postgres:@/postgres?host=/var/run/postgresql",
        "postgresql://fraud:${FRAUD_DB_PASSWORD}@db/warehouse",
        "postgresql://fraud:***@db/warehouse",
        "postgresql://user:<password>@host/db",
        'f"postgresql://{user}:{password}@{host}/{database}"',
        "postgresql+psycopg2://airflow:${AIRFLOW_DB_PASSWORD:?set it}@pg/db",
        "FERNET_KEY: ${AIRFLOW__CORE__FERNET_KEY:?set AIRFLOW__CORE__FERNET_KEY in .env}",
        "AIRFLOW_CONN_SMTP_DEFAULT: ${AIRFLOW_CONN_SMTP_DEFAULT:-}",
        "image: ${FRAUD_IMAGE:-fraud-airflow:local}",
        "password: str | None = None",
        "password=password_of(settings)",
        '{**arguments, "user": name, "password": password}',
        "create role alice login password :'password' in role fraud_analyst;",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS: admin:admin",
        "smtp://alerts%40example.com:app-password@smtp.example.com:587",
        '{"AIRFLOW__API_AUTH__JWT_SECRET": "test-only-secret"}',
        "postgresql://u:p%40ss@db:5433/fraud",
        'password = os.environ["FRAUD_DB_PASSWORD"]',
        "_PASSWORD_ALPHABET = 'abcdefgh'",
        "password: str | None = None",
        "'AIRFLOW__API__SECRET_KEY': secrets.token_urlsafe(32)",
        "url = 'postgresql://etl:Zq8vLm2x@db/w'  # secret-scan: allow (a documented example)",
    ],
)
def test_scanner_allows(line: str) -> None:
    assert find_secrets(line) == []


def test_repository_holds_no_secrets() -> None:
    findings = [
        f"{path.relative_to(REPOSITORY_ROOT)}:{number}: {rule}"
        for path in repository_files()
        for number, rule in find_secrets(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert findings == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "API request to http://u:topsecret@mlflow:5000/api failed",
            "API request to http://u:***@mlflow:5000/api failed",
        ),
        (
            "a postgresql://a:one@h/db and redis://b:two@h:6379/0",
            "a postgresql://a:***@h/db and redis://b:***@h:6379/0",
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "postgresql://postgres@127.0.0.1:5432/postgres",
        ),
        ("no URL here: user@example.org", "no URL here: user@example.org"),
    ],
)
def test_mask_passwords_masks_every_url_in_a_text(text: str, expected: str) -> None:
    assert mask_passwords(text) == expected


def test_cli_database_error_masks_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    password = "topsecret"
    monkeypatch.setenv("FRAUD_DATABASE_URL", f"postgresql://u:{password}@127.0.0.1:1/db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)

    status = main(["status"])

    captured = capsys.readouterr()
    assert status != 0
    assert password not in captured.err + captured.out
    assert len(captured.err.strip().splitlines()) == 1
    assert "u:***@127.0.0.1:1/db" in captured.err


def test_cli_errors_mask_the_configured_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # MLflow's password pasted into the wrong variable: the error quotes it, the line masks it.
    pasted = "Zq8vLm2x" + "K7pTw7 #/"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", pasted)
    monkeypatch.setenv("FRAUD_RETENTION_DAYS", pasted)

    assert main(["status"]) == 2

    err = capsys.readouterr().err
    assert "Zq8vLm2xK7pTw7" not in err
    assert err == "fraud: configuration error: FRAUD_RETENTION_DAYS='***' is not a valid int\n"


def test_unreachable_registry_error_masks_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    # MLflow writes the tracking URI into the environment; the test's end puts the real one back.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "restored after the test")
    settings = Settings(mlflow_tracking_uri="http://u:topsecret@127.0.0.1:1")

    with pytest.raises(RegistryError) as error:
        champion_version(settings)

    assert "topsecret" not in str(error.value)
    assert "http://u:***@127.0.0.1:1" in str(error.value)
