"""The local stack's environment: URLs, generated secrets, the ``env`` file and the admin login."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from fraud.config import REPOSITORY_ROOT
from fraud.db import login_url, sqlalchemy_url, with_database
from fraud.local.paths import (
    ADMIN_USER,
    AIRFLOW_URL,
    MLFLOW_URL,
    SERVICES,
    ServerUrls,
    StackError,
    StackPaths,
)

GENERATED_SECRETS = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "FRAUD_PIPELINE_DB_PASSWORD",
    "FRAUD_ANALYST_DB_PASSWORD",
    "FRAUD_INVESTIGATOR_DB_PASSWORD",
)


# No component sends usage data anywhere: every process `make up` starts gets these, and so do the
# services of docker-compose.yaml and the image (tests/unit/core/test_usage_data.py holds all
# three to this table). Each switch is the one the pinned version reads (docs/operations.md,
# "Nothing leaves that should not"); those of components that no longer collect stay set in case
# an upgrade brings collection back.
USAGE_DATA_OFF = {
    # MLflow 3.x: the client's, the tracking server's and the UI's telemetry.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # The common switch: MLflow reads it too, Evidently's telemetry stops when it is set at all.
    "DO_NOT_TRACK": "true",
    # iterative-telemetry, the library Evidently sends its events with.
    "ITERATIVE_DO_NOT_TRACK": "true",
    # Great Expectations 1.x analytics (the pinned 1.24 ships no sender; earlier 1.x read this).
    "GX_ANALYTICS_ENABLED": "false",
    # Airflow 2.10 to 3.0's [usage_data_collection] (Scarf); the pinned 3.3 has neither.
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "false",
    "SCARF_ANALYTICS": "false",
}


# Defaults a user may override by exporting the variable before `make up`.
TUNABLE_DEFAULTS = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
}


PASSED_THROUGH_PREFIXES = ("FRAUD_", "AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")


_PASSWORD_ALPHABET = "abcdefghkmnpqrstuvwxyzABCDEFGHKMNPQRSTUVWXYZ23456789"


def derive_urls(warehouse: str, environ: Mapping[str, str], *, embedded: bool) -> ServerUrls:
    """Take the Airflow and MLflow URLs from the environment, else from the warehouse server."""
    return ServerUrls(
        warehouse=warehouse,
        airflow=environ.get("AIRFLOW_DATABASE_URL") or with_database(warehouse, "airflow"),
        mlflow=environ.get("MLFLOW_BACKEND_STORE_URI") or with_database(warehouse, "mlflow"),
        embedded=embedded,
    )


def external_tracking_uri(environ: Mapping[str, str]) -> str | None:
    """The MLflow tracking server the caller named, when it is not the stack's own."""
    given = environ.get("MLFLOW_TRACKING_URI", "").strip()
    return given if given and given.rstrip("/") != MLFLOW_URL else None


def services_for(env: Mapping[str, str]) -> tuple[str, ...]:
    """The services the stack runs itself: no MLflow server when an external one is used."""
    if external_tracking_uri(env):
        return tuple(name for name in SERVICES if name != "mlflow")
    return SERVICES


def generate_secrets(previous: Mapping[str, str]) -> dict[str, str]:
    """Keep the secrets of an earlier env file, generate the missing ones."""
    fresh = {
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        # A Fernet key is 32 random bytes in url-safe base64, padding included.
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "FRAUD_PIPELINE_DB_PASSWORD": secrets.token_urlsafe(24),
        "FRAUD_ANALYST_DB_PASSWORD": secrets.token_urlsafe(24),
        "FRAUD_INVESTIGATOR_DB_PASSWORD": secrets.token_urlsafe(24),
    }
    return {name: previous.get(name) or fresh[name] for name in GENERATED_SECRETS}


def postgres_connection(url: str) -> str:
    """An Airflow ``postgres`` Connection (``AIRFLOW_CONN_*`` JSON) of a warehouse URL; its query
    (a socket directory as ``host=``, ``sslmode``) goes to the ``sqlalchemy_query`` extra."""
    parts = urlsplit(url)
    fields: dict[str, object] = {
        "conn_type": "postgres",
        "login": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "host": parts.hostname or "",
        "port": parts.port,
        "schema": unquote(parts.path.lstrip("/")),
        "extra": {"sqlalchemy_query": dict(parse_qsl(parts.query))} if parts.query else {},
    }
    return json.dumps(
        {name: value for name, value in fields.items() if value not in ("", None, {})}
    )


def slack_connection(webhook_url: str) -> str:
    """An Airflow ``slackwebhook`` Connection (``AIRFLOW_CONN_*`` JSON) of an incoming-webhook URL."""
    return json.dumps({"conn_type": "slackwebhook", "password": webhook_url})


def slack_from_webhook_url(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``fraud_slack`` Connection of ``FRAUD_SLACK_WEBHOOK_URL``, when that is given."""
    webhook = environ.get("FRAUD_SLACK_WEBHOOK_URL", "").strip()
    return {"AIRFLOW_CONN_FRAUD_SLACK": slack_connection(webhook)} if webhook else {}


def build_env(
    paths: StackPaths,
    urls: ServerUrls,
    generated: Mapping[str, str],
    environ: Mapping[str, str],
) -> dict[str, str]:
    """Return every variable the stack's processes need; its wiring wins over the caller's."""
    include = str(REPOSITORY_ROOT / "include")
    given_path = [part for part in environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    # The tasks and the page log in as members of fraud_pipeline and fraud_analyst; the owner's
    # URL (urls.warehouse) stays with `fraud up`, which migrates and seeds.
    pipeline, analyst = (
        login_url(urls.warehouse, login, generated[variable])
        for login, variable in (
            ("fraud_pipeline_login", "FRAUD_PIPELINE_DB_PASSWORD"),
            ("fraud_analyst_login", "FRAUD_ANALYST_DB_PASSWORD"),
        )
    )
    wiring = {
        "FRAUD_DATABASE_URL": pipeline,
        "FRAUD_ANALYST_DATABASE_URL": analyst,
        # The DAGs' tasks read the warehouse from this Connection; the CLI from FRAUD_DATABASE_URL.
        "AIRFLOW_CONN_FRAUD_WAREHOUSE": postgres_connection(pipeline),
        "MLFLOW_TRACKING_URI": external_tracking_uri(environ) or MLFLOW_URL,
        # Models are LightGBM text files: nothing the stack runs may unpickle one.
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        "AIRFLOW_HOME": str(paths.airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(urls.airflow),
        "AIRFLOW__CORE__DAGS_FOLDER": str(paths.dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(paths.plugins_folder),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{AIRFLOW_URL}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(paths.passwords_file),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": "8080",
        # The links in alerts and task logs open the stack's own api-server.
        "FRAUD_BASE_URL": AIRFLOW_URL,
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([include, *given_path])),
        **{name: generated[name] for name in GENERATED_SECRETS},
        **USAGE_DATA_OFF,
    }
    defaults = {
        **TUNABLE_DEFAULTS,
        "FRAUD_ARTIFACT_DIR": str(paths.artifacts),
        # A fraud_slack Connection the caller defines wins over the webhook URL.
        **slack_from_webhook_url(environ),
    }
    given = {
        name: value
        for name, value in sorted(environ.items())
        if name.startswith(PASSED_THROUGH_PREFIXES) and name not in wiring
    }
    return {**wiring, **defaults, **given}


def render_env_file(env: Mapping[str, str]) -> str:
    """Render ``export NAME='value'`` lines that any POSIX shell can source."""
    header = "# Written by `fraud up`. It holds secrets: keep it private (mode 0600).\n"
    return header + "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def parse_env_file(text: str) -> dict[str, str]:
    """Read back the variables of a file written by :func:`render_env_file`."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            env[name] = value
    return env


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, replacing it atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def read_env_file(paths: StackPaths) -> dict[str, str]:
    """Return the variables of the stack's env file, empty when there is none."""
    if not paths.env_file.exists():
        return {}
    return parse_env_file(paths.env_file.read_text())


def write_env_file(
    paths: StackPaths, urls: ServerUrls, environ: Mapping[str, str]
) -> dict[str, str]:
    """Write ``<home>/env`` (mode 0600) and the admin password file; return the variables."""
    env = build_env(paths, urls, generate_secrets(read_env_file(paths)), environ)
    _write_private(paths.env_file, render_env_file(env))
    _ensure_admin_password(paths)
    return env


def _ensure_admin_password(paths: StackPaths) -> None:
    """Give the admin user a generated password once, in the file Airflow reads."""
    passwords = _read_passwords(paths)
    if ADMIN_USER not in passwords:
        passwords[ADMIN_USER] = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
        _write_private(paths.passwords_file, json.dumps(passwords) + "\n")


def _read_passwords(paths: StackPaths) -> dict[str, str]:
    """Read the SimpleAuthManager password file, empty when missing."""
    if not paths.passwords_file.exists():
        return {}
    return json.loads(paths.passwords_file.read_text() or "{}")


def admin_login(paths: StackPaths) -> tuple[str, str]:
    """Return the Airflow UI login (user, password) of the local stack."""
    password = _read_passwords(paths).get(ADMIN_USER)
    if password is None:
        raise StackError(f"no admin password in {paths.passwords_file}: run `make up` first")
    return ADMIN_USER, password


def child_environment(env: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """Return the caller's environment overlaid with the stack's, the venv's bin first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join([bin_dir, environ.get("PATH", os.defpath)])
    return {**environ, **env, "PATH": path}
