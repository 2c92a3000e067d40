"""Test session wiring: a real throwaway PostgreSQL, a real MLflow store, a real Airflow metadata DB.

When ``FRAUD_TEST_DATABASE_URL`` names a server (an admin URL such as
``postgresql://postgres@127.0.0.1:5432/postgres``) the session creates its databases there;
otherwise it starts an embedded PostgreSQL from the ``pgserver`` wheel. Either way every session
gets fresh databases and drops them at the end. The environment is set here, before Airflow or
the package read it, so ``fraud.config.load_settings()`` sees the test databases.

The ``integration`` marker decides the tier. Everything under ``tests/integration`` carries it
(added here), and a test elsewhere that asks for a server fixture without it stops the run at
collection. A run that selects no integration test (``pytest -m "not integration"``, or only
``tests/unit`` and ``tests/dags``) starts no server and creates no database.

With ``pytest -n N`` (pytest-xdist) the controller only starts the embedded server, once, and
hands its URL to the workers through ``FRAUD_TEST_DATABASE_URL``; each worker creates and drops
its own databases and home, so workers never see each other's rows, models or DAG runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
TESTS = REPOSITORY_ROOT / "tests"
# Tests here need no server: pure functions (unit) and DAG files parsed without a database (dags).
SERVERLESS = (TESTS / "unit", TESTS / "dags")
INTEGRATION = TESTS / "integration"
# Fixtures that need the session's PostgreSQL; a test asking for one is an integration test.
SERVER_FIXTURES = frozenset(
    {"new_database", "warehouse_url", "engine", "airflow_db", "own_airflow_db"}
)
for _path in (REPOSITORY_ROOT / "include", REPOSITORY_ROOT / "plugins", REPOSITORY_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from fraud.db import create_database, drop_database, with_database  # noqa: E402
from fraud.local.environment import USAGE_DATA_OFF  # noqa: E402
from fraud.scratch import scratch_database, unique_name  # noqa: E402

_STATE: dict[str, object] = {}


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _needs_server(config: pytest.Config) -> bool:
    """Whether this run may select an integration test: not when every path it collects lies
    under ``tests/unit`` or ``tests/dags``, nor when ``-m`` leaves integration tests out."""
    paths = [Path(str(argument).split("::")[0]).resolve() for argument in config.args]
    if paths and all(any(_under(path, folder) for folder in SERVERLESS) for path in paths):
        return False
    markexpr = config.getoption("markexpr", "") or ""
    if markexpr:
        from _pytest.mark.expression import Expression

        # An integration test with no other marker would be deselected: no server needed.
        return bool(Expression.compile(markexpr).evaluate(lambda name, **_: name == "integration"))
    return True


def _is_xdist_controller(config: pytest.Config) -> bool:
    """Whether this process hands the tests to pytest-xdist workers rather than running them."""
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"


def _admin_url() -> str:
    configured = os.environ.get("FRAUD_TEST_DATABASE_URL")
    if configured:
        return configured
    import pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="fraud-test-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    _STATE["pgserver"] = server
    return str(server.get_uri())


def _database_url(name: str) -> str:
    """A URL of a database of this session's server."""
    return with_database(str(_STATE["admin_url"]), name)


def pytest_configure(config: pytest.Config) -> None:
    """Point every component at a private home and, unless no integration test runs, fresh
    databases; under pytest-xdist the controller only starts the server the workers share."""
    if "FRAUD_TEST_SESSION" in os.environ:  # a child process of this session (airflow CLI)
        return
    if _is_xdist_controller(config):
        if _needs_server(config):
            # Inherited by the workers, which the controller starts after this hook.
            os.environ["FRAUD_TEST_DATABASE_URL"] = _admin_url()
        return
    home = Path(tempfile.mkdtemp(prefix="fraud-test-home-"))
    _STATE["home"] = home
    environment = {
        "FRAUD_TEST_SESSION": "1",
        "FRAUD_ARTIFACT_DIR": str(home / "artifacts"),
        "FRAUD_SCHEDULE_START": "2026-01-01",
        "FRAUD_TRAIN_DAYS": "14",
        "FRAUD_VALIDATION_DAYS": "7",
        "FRAUD_TRAINING_TIME_BUDGET_SECONDS": "10",
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPOSITORY_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPOSITORY_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "airflow" / "logs"),
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        # As in every deployment: nothing the pipeline loads is unpickled.
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        # Where a SQL tracking store without a server puts artifacts (MLflow's default is
        # ./mlruns in the working directory); the pinned MLflow reads it from this variable.
        "_MLFLOW_SERVER_ARTIFACT_ROOT": str(home / "mlartifacts"),
        "GIT_PYTHON_REFRESH": "quiet",
        # As in every deployment: no component sends usage data.
        **USAGE_DATA_OFF,
    }
    if _needs_server(config):
        _STATE["admin_url"] = _admin_url()
        suffix = uuid.uuid4().hex[:8]
        names = {role: f"fraud_test_{role}_{suffix}" for role in ("warehouse", "airflow", "mlflow")}
        for name in names.values():
            create_database(_database_url(name))
        _STATE["databases"] = names
        environment |= {
            "FRAUD_DATABASE_URL": _database_url(names["warehouse"]),
            "MLFLOW_TRACKING_URI": _database_url(names["mlflow"]),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _database_url(names["airflow"]),
        }
    os.environ.update(environment)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the session's databases and stop the embedded server."""
    databases: dict[str, str] = _STATE.get("databases", {})  # type: ignore[assignment]
    if databases and "airflow.settings" in sys.modules:  # close Airflow's pool first
        sys.modules["airflow.settings"].dispose_orm()
    for name in databases.values():
        drop_database(_database_url(name))
    if "home" in _STATE:
        shutil.rmtree(_STATE["home"], ignore_errors=True)  # type: ignore[arg-type]
    server = _STATE.get("pgserver")
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything under ``tests/integration`` as integration, before ``-m`` selects; stop
    the run if a test elsewhere asks for a server fixture without the marker."""
    unmarked = []
    for item in items:
        if _under(Path(str(item.path)), INTEGRATION):
            item.add_marker(pytest.mark.integration)
        elif item.get_closest_marker("integration") is None:
            needs = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            if needs:
                unmarked.append(f"{item.nodeid} (asks for {', '.join(sorted(needs))})")
    if unmarked:
        raise pytest.UsageError(
            "these tests need PostgreSQL but lack the integration marker "
            "(add pytestmark = pytest.mark.integration, or move them to tests/integration):\n  "
            + "\n  ".join(unmarked)
        )


def _require_server() -> None:
    if "admin_url" not in _STATE:
        pytest.fail(
            "this test needs PostgreSQL: mark it integration and run it outside tests/unit "
            "without -m 'not integration'"
        )


@pytest.fixture(scope="module")
def new_database() -> Iterator[Callable[[str], str]]:
    """Create empty databases on the session's server (``new_database("airflow")`` gives a URL);
    the module's databases are dropped after it, whoever is still connected."""
    _require_server()
    with ExitStack() as stack:

        def create(role: str) -> str:
            name = unique_name(f"fraud_test_{role}")
            return stack.enter_context(scratch_database(str(_STATE["admin_url"]), name))

        yield create


@pytest.fixture(scope="module")
def warehouse_url(
    request: pytest.FixtureRequest, new_database: Callable[[str], str]
) -> Iterator[str]:
    """A fresh, migrated warehouse database and model name for each test module.

    Modules never see each other's rows or model versions, whatever order they run in.
    """
    from fraud.db import create_warehouse_engine
    from fraud.db import warehouse_engine as _engine
    from fraud.migrations import migrate

    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    url = new_database(module)
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


@pytest.fixture(scope="module")
def engine(warehouse_url: str) -> Iterator[Engine]:
    """An engine on this module's warehouse, disposed after the module."""
    from fraud.db import create_warehouse_engine

    engine = create_warehouse_engine(warehouse_url)
    yield engine
    engine.dispose()


def _migrate_airflow(url: str) -> None:
    """``airflow db migrate`` on the metadata database ``url`` names, as the DAG processor would."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        capture_output=True,
        env={**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url},
    )


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database, migrated once per session (per worker under xdist)."""
    _require_server()
    _migrate_airflow(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])


@pytest.fixture(scope="module")
def own_airflow_db(new_database: Callable[[str], str]) -> Iterator[str]:
    """A migrated Airflow metadata database of the module's own, holding no other module's DAG
    runs, whatever order the modules run in; ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` names it
    while the module runs, for the Airflow processes the module starts."""
    url = new_database("airflow")
    _migrate_airflow(url)
    saved = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url
    yield url
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = saved
