"""Test session wiring: a real throwaway PostgreSQL, a real MLflow store, a real Airflow metadata DB.

When ``FRAUD_TEST_DATABASE_URL`` names a server (an admin URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``) the session creates its databases there;
otherwise it starts an embedded PostgreSQL from the ``pgserver`` wheel. Either way every session
gets fresh databases and drops them at the end. The environment is set here, before Airflow or
the package read it, so ``fraud.config.load_settings()`` sees the test databases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
_STATE: dict[str, object] = {}


def _admin_url() -> str:
    configured = os.environ.get("FRAUD_TEST_DATABASE_URL")
    if configured:
        return configured
    import pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="fraud-test-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    _STATE["pgserver"] = server
    return server.get_uri()


def _with_database(admin_url: str, database: str) -> str:
    url = sa.engine.make_url(admin_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    return url.set(database=database).render_as_string(hide_password=False)


def _admin_engine(admin_url: str) -> sa.Engine:
    return sa.create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )


def _create_databases(admin_url: str, names: list[str]) -> None:
    engine = _admin_engine(admin_url)
    with engine.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'create database "{name}"')
    engine.dispose()


def _drop_databases(admin_url: str, names: list[str]) -> None:
    engine = _admin_engine(admin_url)
    with engine.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'drop database if exists "{name}" with (force)')
    engine.dispose()


def pytest_configure(config: pytest.Config) -> None:
    """Create the session's databases and point every component at them."""
    if "FRAUD_TEST_SESSION" in os.environ:  # a child process of this session (airflow CLI)
        return
    admin_url = _admin_url()
    suffix = uuid.uuid4().hex[:8]
    names = {role: f"fraud_test_{role}_{suffix}" for role in ("warehouse", "airflow", "mlflow")}
    _create_databases(admin_url, list(names.values()))
    home = Path(tempfile.mkdtemp(prefix="fraud-test-home-"))
    _STATE.update(admin_url=admin_url, databases=names, home=home)
    environment = {
        "FRAUD_TEST_SESSION": "1",
        "FRAUD_DATABASE_URL": _with_database(admin_url, names["warehouse"]),
        "MLFLOW_TRACKING_URI": _with_database(admin_url, names["mlflow"]),
        "FRAUD_ARTIFACT_DIR": str(home / "artifacts"),
        "FRAUD_SCHEDULE_START": "2026-01-01",
        "FRAUD_TRAIN_DAYS": "14",
        "FRAUD_VALIDATION_DAYS": "7",
        "FRAUD_TRAINING_TIME_BUDGET_SECONDS": "10",
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _with_database(admin_url, names["airflow"]),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPOSITORY_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPOSITORY_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "airflow" / "logs"),
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        # Where a SQL tracking store without a server puts artifacts (MLflow's default is
        # ./mlruns in the working directory); the pinned MLflow reads it from this variable.
        "_MLFLOW_SERVER_ARTIFACT_ROOT": str(home / "mlartifacts"),
        "GIT_PYTHON_REFRESH": "quiet",
    }
    os.environ.update(environment)
    for path in (REPOSITORY_ROOT / "include", REPOSITORY_ROOT / "plugins"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the session's databases and stop the embedded server."""
    if "databases" not in _STATE:
        return
    databases: dict[str, str] = _STATE["databases"]  # type: ignore[assignment]
    if "airflow.settings" in sys.modules:  # close Airflow's pool before its database goes
        sys.modules["airflow.settings"].dispose_orm()
    _drop_databases(str(_STATE["admin_url"]), list(databases.values()))
    shutil.rmtree(_STATE["home"], ignore_errors=True)  # type: ignore[arg-type]
    server = _STATE.get("pgserver")
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def warehouse_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated warehouse database and model name for each test module.

    Modules never see each other's rows or model versions, whatever order they run in.
    """
    from fraud.db import create_warehouse_engine, migrate
    from fraud.pipeline import _engine

    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    database = f"fraud_test_{module}_{uuid.uuid4().hex[:6]}"[:63]
    admin_url = str(_STATE["admin_url"])
    _create_databases(admin_url, [database])
    url = _with_database(admin_url, database)
    engine = create_warehouse_engine(url)
    migrate(engine)
    engine.dispose()
    saved = {name: os.environ.get(name) for name in ("FRAUD_DATABASE_URL", "FRAUD_MODEL_NAME")}
    os.environ["FRAUD_DATABASE_URL"] = url
    os.environ["FRAUD_MODEL_NAME"] = f"fraud-{module.replace('_', '-')}"
    _engine.cache_clear()
    yield url
    _engine.cache_clear()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _drop_databases(admin_url, [database])


@pytest.fixture(scope="module")
def new_database() -> Iterator[Callable[[str], str]]:
    """Create empty databases on the session's server (``new_database("airflow")`` gives a URL);
    the module's databases are dropped after it, whoever is still connected."""
    admin_url = str(_STATE["admin_url"])
    created: list[str] = []

    def create(role: str) -> str:
        name = f"fraud_test_{role}_{uuid.uuid4().hex[:6]}"[:63]
        _create_databases(admin_url, [name])
        created.append(name)
        return _with_database(admin_url, name)

    yield create
    _drop_databases(admin_url, created)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database, migrated once per session."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
