"""The local stack's pure parts: URLs, the child environment, the env file, health and pid files."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import psutil
import pytest

from fraud.config import REPOSITORY_ROOT
from fraud.db import with_database
from fraud.local.environment import (
    GENERATED_SECRETS,
    admin_login,
    build_env,
    derive_urls,
    generate_secrets,
    parse_env_file,
    render_env_file,
    write_env_file,
)
from fraud.local.paths import SERVICES, ServerUrls, StackError, StackPaths
from fraud.local.services import running_pid, service_commands, unhealthy_components
from fraud.local.stack import service_status, stop_stack

SOCKET_URL = "postgresql://postgres:@/fraud?host=/tmp/pg"


def _paths(tmp_path: Path) -> StackPaths:
    return StackPaths.at(tmp_path / "home", dags_folder=tmp_path / "dags")


def _urls(warehouse: str = SOCKET_URL) -> ServerUrls:
    return derive_urls(warehouse, {}, embedded=True)


@pytest.mark.parametrize(
    ("url", "database", "expected"),
    [
        (SOCKET_URL, "airflow", "postgresql://postgres:@/airflow?host=/tmp/pg"),
        ("postgresql://u:p%40ss@db:5433/fraud", "mlflow", "postgresql://u:p%40ss@db:5433/mlflow"),
        (
            "postgresql://u@localhost/fraud?sslmode=require",
            "postgres",
            "postgresql://u@localhost/postgres?sslmode=require",
        ),
    ],  # fmt: skip
)
def test_with_database_swaps_only_the_database(url: str, database: str, expected: str) -> None:
    assert with_database(url, database) == expected


@pytest.mark.parametrize(
    ("environ", "expected_airflow", "expected_mlflow"),
    [
        ({}, "postgresql://u@db/airflow", "postgresql://u@db/mlflow"),
        (
            {"AIRFLOW_DATABASE_URL": "postgresql://a@x/af"},
            "postgresql://a@x/af",
            "postgresql://u@db/mlflow",
        ),
        (
            {"MLFLOW_BACKEND_STORE_URI": "postgresql://m@y/ml"},
            "postgresql://u@db/airflow",
            "postgresql://m@y/ml",
        ),
    ],  # fmt: skip
)
def test_derive_urls_prefers_given_urls(
    environ: dict[str, str], expected_airflow: str, expected_mlflow: str
) -> None:
    urls = derive_urls("postgresql://u@db/fraud", environ, embedded=False)
    assert (urls.warehouse, urls.airflow, urls.mlflow) == (
        "postgresql://u@db/fraud",
        expected_airflow,
        expected_mlflow,
    )


@pytest.mark.parametrize(
    "value",
    ["plain", "with space", "it's quoted", 'double "quotes"', "$HOME and `cmd`", "", "a=b=c"],
)
def test_env_file_round_trips_any_value(value: str) -> None:
    env = {"FRAUD_X": value, "OTHER": "1"}
    assert parse_env_file(render_env_file(env)) == env


def test_env_file_lines_are_single_quoted_exports() -> None:
    text = render_env_file({"A_B": "has space"})
    assert text.splitlines()[1:] == ["export A_B='has space'"]


@pytest.mark.parametrize(
    ("given", "name", "expected"),
    [
        # The stack's wiring wins over a stale value from a shell that sourced an old env file.
        ({"AIRFLOW_HOME": "/elsewhere"}, "AIRFLOW_HOME", "HOME/airflow"),
        # A tracking server the caller names is used instead of starting one.
        ({"MLFLOW_TRACKING_URI": "http://x:1"}, "MLFLOW_TRACKING_URI", "http://x:1"),
        # Tunables and pipeline settings given by the caller are kept.
        ({"AIRFLOW__CORE__PARALLELISM": "8"}, "AIRFLOW__CORE__PARALLELISM", "8"),
        ({"FRAUD_ARTIFACT_DIR": "/data/a"}, "FRAUD_ARTIFACT_DIR", "/data/a"),
        ({"FRAUD_REVIEW_CAPACITY": "50"}, "FRAUD_REVIEW_CAPACITY", "50"),
        ({"AIRFLOW_CONN_WAREHOUSE": "postgres://w"}, "AIRFLOW_CONN_WAREHOUSE", "postgres://w"),
        # Defaults when nothing is given.
        ({}, "AIRFLOW__CORE__PARALLELISM", "4"),
        ({}, "FRAUD_ARTIFACT_DIR", "HOME/artifacts"),
        ({}, "AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        ({}, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "http://127.0.0.1:8080/execution/"),
        (
            {},
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "postgresql+psycopg2://postgres:@/airflow?host=/tmp/pg",
        ),
        ({}, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin"),
        ({}, "AIRFLOW__CORE__DAGS_FOLDER", "TMP/dags"),
    ],  # fmt: skip
)
def test_build_env(tmp_path: Path, given: dict[str, str], name: str, expected: str) -> None:
    paths = _paths(tmp_path)
    generated = generate_secrets({})
    env = build_env(paths, _urls(), generated, given)
    expected = expected.replace("HOME", str(paths.home)).replace("TMP", str(tmp_path))
    assert env[name] == expected


@pytest.mark.parametrize(
    ("variable", "login", "password"),
    [
        ("FRAUD_DATABASE_URL", "fraud_pipeline_login", "FRAUD_PIPELINE_DB_PASSWORD"),
        ("FRAUD_ANALYST_DATABASE_URL", "fraud_analyst_login", "FRAUD_ANALYST_DB_PASSWORD"),
    ],
)
def test_tasks_and_page_log_in_as_least_privileged_roles(
    tmp_path: Path, variable: str, login: str, password: str
) -> None:
    # A stale owner URL from the caller's shell never reaches the services either.
    given = {"FRAUD_DATABASE_URL": "postgresql://old/fraud"}
    generated = generate_secrets({})
    env = build_env(_paths(tmp_path), _urls(), generated, given)
    assert env[variable] == SOCKET_URL.replace("postgres:@", f"{login}:{generated[password]}@")
    assert SOCKET_URL not in env.values()


@pytest.mark.parametrize(
    ("given", "slack"),
    [
        ({}, None),
        ({"FRAUD_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/hook"}, "http://127.0.0.1:9/hook"),
        # A Connection the caller defines wins over the webhook URL.
        (
            {
                "FRAUD_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/hook",
                "AIRFLOW_CONN_FRAUD_SLACK": '{"conn_type": "slackwebhook", "password": "T/B/x"}',
            },
            "T/B/x",
        ),
    ],
)
def test_build_env_defines_the_dags_connections(
    tmp_path: Path, given: dict[str, str], slack: str | None
) -> None:
    import json

    generated = generate_secrets({})
    # A stale warehouse Connection from the caller's shell never reaches the services.
    stale = {"AIRFLOW_CONN_FRAUD_WAREHOUSE": "postgresql://old/fraud", **given}
    env = build_env(_paths(tmp_path), _urls(), generated, stale)
    warehouse = json.loads(env["AIRFLOW_CONN_FRAUD_WAREHOUSE"])
    assert warehouse == {
        "conn_type": "postgres",
        "login": "fraud_pipeline_login",
        "password": generated["FRAUD_PIPELINE_DB_PASSWORD"],
        "schema": "fraud",
        "extra": {"sqlalchemy_query": {"host": "/tmp/pg"}},
    }
    connection = env.get("AIRFLOW_CONN_FRAUD_SLACK")
    assert (json.loads(connection)["password"] if connection else None) == slack


@pytest.mark.parametrize("name", ["HOME", "PATH", "AWS_SECRET_ACCESS_KEY", "AIRFLOW_DATABASE_URL"])
def test_build_env_leaves_unrelated_variables_out(tmp_path: Path, name: str) -> None:
    env = build_env(_paths(tmp_path), _urls(), generate_secrets({}), {name: "x"})
    assert name not in env


@pytest.mark.parametrize(
    ("given", "expected_tail"),
    [("", []), ("/a:/b", ["/a", "/b"]), ("INCLUDE:/a", ["/a"])],
)
def test_build_env_puts_the_package_first_on_pythonpath(
    tmp_path: Path, given: str, expected_tail: list[str]
) -> None:
    include = str(REPOSITORY_ROOT / "include")
    environ = {"PYTHONPATH": given.replace("INCLUDE", include)}
    env = build_env(_paths(tmp_path), _urls(), generate_secrets({}), environ)
    assert env["PYTHONPATH"].split(os.pathsep) == [include, *expected_tail]


def test_generate_secrets_keeps_earlier_ones() -> None:
    earlier = {"AIRFLOW__API_AUTH__JWT_SECRET": "kept"}
    generated = generate_secrets(earlier)
    assert generated["AIRFLOW__API_AUTH__JWT_SECRET"] == "kept"
    assert len(base64.urlsafe_b64decode(generated["AIRFLOW__CORE__FERNET_KEY"])) == 32
    assert generated["AIRFLOW__API__SECRET_KEY"] != generate_secrets({})["AIRFLOW__API__SECRET_KEY"]


def test_write_env_file_is_private_and_keeps_secrets(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    paths.create_directories()
    first = write_env_file(paths, _urls(), {})
    second = write_env_file(paths, _urls(), {})
    assert stat.S_IMODE(paths.env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.passwords_file.stat().st_mode) == 0o600
    assert parse_env_file(paths.env_file.read_text()) == second
    for name in GENERATED_SECRETS:
        assert first[name] == second[name]


def test_admin_login_is_stable_across_runs(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    paths.create_directories()
    write_env_file(paths, _urls(), {})
    login = admin_login(paths)
    write_env_file(paths, _urls(), {})
    assert login == admin_login(paths)
    assert login[0] == "admin" and len(login[1]) == 16


def test_admin_login_before_up_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="make up"):
        admin_login(_paths(tmp_path))


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        (
            {
                "metadatabase": {"status": "healthy"},
                "scheduler": {"status": "healthy"},
                "dag_processor": {"status": "healthy"},
                "triggerer": {"status": "healthy"},
            },
            [],
        ),
        (
            {
                "metadatabase": {"status": "healthy"},
                "scheduler": {"status": "unhealthy"},
                "dag_processor": {"status": None},
                "triggerer": {"status": "healthy"},
            },
            ["scheduler", "dag_processor"],
        ),
        ({}, ["metadatabase", "scheduler", "dag_processor", "triggerer"]),
    ],
)
def test_unhealthy_components(health: dict[str, object], expected: list[str]) -> None:
    assert unhealthy_components(health) == expected


def test_service_commands_keep_database_urls_off_the_command_line(tmp_path: Path) -> None:
    commands = service_commands(Path("/venv/bin"), _paths(tmp_path))
    assert set(commands) == set(SERVICES)
    assert commands["api-server"] == ["/venv/bin/airflow", "api-server", "--port", "8080"]
    assert not any("postgresql" in word for command in commands.values() for word in command)


@pytest.mark.parametrize(
    ("start_offset", "expected_running"),
    [(0.0, True), (-3600.0, False)],
)
def test_running_pid_checks_the_start_time(
    tmp_path: Path, start_offset: float, expected_running: bool
) -> None:
    paths = _paths(tmp_path)
    paths.create_directories()
    pid = os.getpid()
    started = psutil.Process(pid).create_time() + start_offset
    paths.pid_file("scheduler").write_text(f"{pid} {started}\n")
    assert (running_pid(paths, "scheduler") == pid) is expected_running


def test_status_and_stop_are_safe_when_nothing_ever_ran(tmp_path: Path) -> None:
    home = tmp_path / "never-started"
    stop_stack(home)
    status = service_status(home)
    assert status == {name: "stopped" for name in ("postgres", *SERVICES)}


@pytest.mark.parametrize(
    ("given", "expected_uri", "runs_mlflow"),
    [
        ({}, "http://127.0.0.1:5000", True),
        ({"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000/"}, "http://127.0.0.1:5000", True),
        (
            {"MLFLOW_TRACKING_URI": "https://mlflow.example:443"},
            "https://mlflow.example:443",
            False,
        ),
    ],
)
def test_an_external_tracking_server_is_used_instead_of_starting_one(
    tmp_path: Path, given: dict[str, str], expected_uri: str, runs_mlflow: bool
) -> None:
    from fraud.local.environment import build_env, generate_secrets, services_for
    from fraud.local.paths import ServerUrls, StackPaths

    paths = StackPaths.at(tmp_path)
    urls = ServerUrls(
        "postgresql://h/fraud", "postgresql://h/airflow", "postgresql://h/mlflow", False
    )
    env = build_env(paths, urls, generate_secrets({}), given)
    assert env["MLFLOW_TRACKING_URI"] == expected_uri
    assert ("mlflow" in services_for(env)) is runs_mlflow
    assert "scheduler" in services_for(env)
