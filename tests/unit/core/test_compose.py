"""docker-compose.yaml and the Dockerfile agree with docs/operations.md, the pins and the config."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from fraud.config import ENVIRONMENT_VARIABLES, REPOSITORY_ROOT, load_settings
from fraud.local.environment import USAGE_DATA_OFF

COMPOSE_FILE = REPOSITORY_ROOT / "docker-compose.yaml"
DOCKERFILE = REPOSITORY_ROOT / "Dockerfile"
OPERATIONS_DOC = REPOSITORY_ROOT / "docs" / "operations.md"
POSTGRES_INIT = REPOSITORY_ROOT / "docker" / "postgres-init.sh"
MLFLOW_AUTH_CONFIG = REPOSITORY_ROOT / "docker" / "mlflow-auth.ini"
ENV_EXAMPLE = REPOSITORY_ROOT / ".env.example"
# The variables without a default: compose refuses to start without any of them. Each test
# value is distinct, so a test can tell which secret ended up where.
REQUIRED = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "POSTGRES_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "MLFLOW_DB_PASSWORD",
    "FRAUD_PIPELINE_DB_PASSWORD",
    "FRAUD_ANALYST_DB_PASSWORD",
    "FRAUD_INVESTIGATOR_DB_PASSWORD",
    "REDIS_PASSWORD",
    "MLFLOW_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
)
TEST_ENVIRON = {name: f"test-only-{name.lower().replace('_', '-')}" for name in REQUIRED}
# A variable whose value is a secret, by its name.
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN|AIRFLOW_CONN_")

BUILT = "Dockerfile"
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
CODE_FOLDERS = ("dags", "plugins", "include", "sql", "expectations")
_AIRFLOW_DEPENDS = ("postgres", "redis", "airflow-init")
_MLFLOW_COMMAND = (
    "mlflow server --host 0.0.0.0 --port 5000 --workers 2"
    " --serve-artifacts --artifacts-destination /opt/airflow/mlflow-artifacts"
    " --app-name basic-auth"
)
_REDIS_COMMAND = (
    "sh -c 'printf '\"'\"'requirepass %s\\n'\"'\"' \"$REDIS_PASSWORD\" > /tmp/redis.conf"
    " && exec docker-entrypoint.sh redis-server /tmp/redis.conf'"
)
# The services table of docs/operations.md: service -> (image, command, ports, depends on).
SERVICES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "postgres": ("postgres:16", "", (), ()),
    "redis": ("redis:7.2-bookworm", _REDIS_COMMAND, (), ()),
    "airflow-init": (
        BUILT,
        "bash -c 'airflow db migrate && fraud db migrate && fraud db logins'",
        (),
        ("postgres", "redis"),
    ),
    "airflow-apiserver": (BUILT, "api-server", ("127.0.0.1:8080:8080",), _AIRFLOW_DEPENDS),
    "airflow-scheduler": (BUILT, "scheduler", (), _AIRFLOW_DEPENDS),
    "airflow-dag-processor": (BUILT, "dag-processor", (), _AIRFLOW_DEPENDS),
    "airflow-triggerer": (BUILT, "triggerer", (), _AIRFLOW_DEPENDS),
    "airflow-worker": (
        BUILT,
        "celery worker",
        (),
        (*_AIRFLOW_DEPENDS, "airflow-apiserver", "mlflow"),
    ),
    "mlflow": (BUILT, _MLFLOW_COMMAND, ("127.0.0.1:5000:5000",), ("postgres",)),
    "statsd-exporter": (
        "prom/statsd-exporter:v0.28.0",
        "--statsd.listen-udp=:9125 --web.listen-address=:9102",
        ("127.0.0.1:9102:9102",),
        (),
    ),
}
# The volumes table of docs/operations.md: named volume -> (mounted at, services).
VOLUMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "postgres-db-volume": ("/var/lib/postgresql/data", ("postgres",)),
    "airflow-logs": ("/opt/airflow/logs", AIRFLOW_SERVICES),
    "airflow-auth": ("/opt/airflow/auth", AIRFLOW_SERVICES),
    "fraud-artifacts": ("/opt/airflow/artifacts", AIRFLOW_SERVICES),
    "mlflow-artifacts": ("/opt/airflow/mlflow-artifacts", ("mlflow",)),
    "mlflow-auth": ("/opt/airflow/mlflow-auth", ("mlflow",)),
}

_SUBSTITUTION = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<operator>:-|:\?)(?P<argument>[^}]*))?\}")


# --- helpers -------------------------------------------------------------------------------------


def interpolate(value: Any, environ: Mapping[str, str]) -> Any:
    """Resolve compose's ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` and ``$$``."""
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group("name", "operator", "argument")
        if environ.get(name):
            return environ[name]
        if operator == ":?":
            raise KeyError(f"{name} is required: {argument}")
        return argument or ""

    return _SUBSTITUTION.sub(substitute, value)


def command_of(service: Mapping[str, Any]) -> str:
    """Return the entrypoint and command of a service as one shell-quoted line."""
    words: list[str] = []
    for key in ("entrypoint", "command"):
        part = service.get(key, [])
        words += shlex.split(part) if isinstance(part, str) else [str(word) for word in part]
    return shlex.join(words)


def substitutions(value: Any) -> list[tuple[str, str, str]]:
    """Every ``${NAME...}`` in a compose value: ``(name, operator, argument)``, walked deeply."""
    if isinstance(value, dict):
        return [found for item in value.values() for found in substitutions(item)]
    if isinstance(value, list):
        return [found for item in value for found in substitutions(item)]
    if not isinstance(value, str):
        return []
    return [
        (match["name"], match["operator"] or "", match["argument"] or "")
        for match in _SUBSTITUTION.finditer(value)
        if match["name"]
    ]


def named_mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Return ``{source: target}`` of a service's volumes (short syntax), mode dropped."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts[source] = target
    return mounts


def markdown_table(text: str, heading: str) -> list[dict[str, str]]:
    """Return the rows of the first table under a heading, cells stripped of backticks."""
    section = text.split(f"\n{heading}\n", 1)[1].splitlines()
    start = next(index for index, line in enumerate(section) if line.startswith("|"))
    table = list(itertools.takewhile(lambda line: line.startswith("|"), section[start:]))

    def cells(line: str) -> list[str]:
        return [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]

    header = cells(table[0])
    return [dict(zip(header, cells(line), strict=True)) for line in table[2:]]


def listed(cell: str) -> tuple[str, ...]:
    """Split a comma-separated table cell; an em dash means none."""
    return () if cell in {"—", ""} else tuple(part.strip() for part in cell.split(","))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return ``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    instructions = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def requirement_pins() -> dict[str, str]:
    """Return ``{name: version}`` of requirements.txt."""
    pins = {}
    for line in (REPOSITORY_ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The compose file as written, variables unresolved."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    """The compose file as `docker compose` sees it with only the required variable set."""
    return interpolate(raw, TEST_ENVIRON)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


# --- the file and the x-airflow-common block ------------------------------------------------------


def test_services_are_exactly_the_documented_ones(services: dict[str, Any]) -> None:
    assert set(services) == set(SERVICES)


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_merge_the_common_block(name: str) -> None:
    document = yaml.compose(COMPOSE_FILE.read_text())
    top = {key.value: value for key, value in document.value}
    service = {key.value: value for key, value in top["services"].value}[name]
    merged = [value for key, value in service.value if key.tag == "tag:yaml.org,2002:merge"]
    assert merged and merged[0] is top["x-airflow-common"]


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_keep_the_common_environment(
    compose: dict[str, Any], services: dict[str, Any], name: str
) -> None:
    common = compose["x-airflow-common"]
    environment = services[name]["environment"]
    assert {key: environment.get(key) for key in common["environment"]} == common["environment"]
    assert services[name]["user"] == common["user"] == "50000:0"


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_secret_is_refused(raw: dict[str, Any], name: str) -> None:
    environ = {key: value for key, value in TEST_ENVIRON.items() if key != name}
    with pytest.raises(KeyError, match=f"^'{name} is required"):
        interpolate(raw, environ)


def test_no_secret_has_a_default(raw: dict[str, Any]) -> None:
    # A secret is required; only an optional channel (the SMTP and Slack connections) may be empty.
    defaults = {
        (name, argument)
        for name, operator, argument in substitutions(raw)
        if _SECRET_NAME.search(name) and operator != ":?"
    }
    assert defaults == {("AIRFLOW_CONN_SMTP_DEFAULT", ""), ("AIRFLOW_CONN_FRAUD_SLACK", "")}


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_the_warehouse_connection_is_the_pipeline_login(
    services: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.engine import make_url

    from fraud.db import sqlalchemy_url
    from fraud_airflow.connections import warehouse_connection_url

    environment = services[name]["environment"]
    monkeypatch.setenv("AIRFLOW_CONN_FRAUD_WAREHOUSE", environment["AIRFLOW_CONN_FRAUD_WAREHOUSE"])
    resolved = warehouse_connection_url()
    assert resolved is not None
    assert make_url(resolved) == make_url(sqlalchemy_url(environment["FRAUD_DATABASE_URL"]))
    assert make_url(resolved).username == "fraud_pipeline_login"


def test_the_slack_connection_is_optional_and_passed_through(raw: dict[str, Any]) -> None:
    environment = raw["x-airflow-common"]["environment"]
    assert environment["AIRFLOW_CONN_FRAUD_SLACK"] == "${AIRFLOW_CONN_FRAUD_SLACK:-}"
    webhook = '{"conn_type": "slackwebhook", "password": "T/B/x"}'
    given = interpolate(raw, {**TEST_ENVIRON, "AIRFLOW_CONN_FRAUD_SLACK": webhook})
    for name in AIRFLOW_SERVICES:
        assert given["services"][name]["environment"]["AIRFLOW_CONN_FRAUD_SLACK"] == webhook


def test_every_required_variable_is_a_required_substitution(raw: dict[str, Any]) -> None:
    operators = {(name, operator) for name, operator, _ in substitutions(raw)}
    required = {name for name, operator in operators if operator == ":?"}
    assert required == set(REQUIRED)
    assert not any(name in required and operator != ":?" for name, operator in operators)


def test_header_lists_every_variable_the_file_reads(raw: dict[str, Any]) -> None:
    header = COMPOSE_FILE.read_text().split("\n---", 1)[0]
    named = {name for name, _, _ in substitutions(raw)}
    assert named <= set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", header))
    for name in REQUIRED:
        assert re.search(rf"#\s+{name}\s+required", header), name


def test_env_example_holds_names_only(raw: dict[str, Any]) -> None:
    assignments = [
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all(value == "" for _, value in assignments)
    assert set(REQUIRED) <= {name for name, _ in assignments}
    assert {name for name, _ in assignments} <= {name for name, _, _ in substitutions(raw)}


@pytest.mark.parametrize(
    "variable",
    ["AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"],
)
def test_airflow_keys_are_required_and_shared_by_every_component(
    raw: dict[str, Any], services: dict[str, Any], variable: str
) -> None:
    assert raw["x-airflow-common"]["environment"][variable].startswith(f"${{{variable}:?")
    values = {services[name]["environment"][variable] for name in AIRFLOW_SERVICES}
    assert values == {TEST_ENVIRON[variable]}


def test_only_airflow_init_has_the_warehouse_owner(services: dict[str, Any]) -> None:
    holders = {
        name
        for name, service in services.items()
        for value in service.get("environment", {}).values()
        if TEST_ENVIRON["POSTGRES_PASSWORD"] in str(value)
    }
    assert holders == {"postgres", "airflow-init"}
    owner = urlsplit(services["airflow-init"]["environment"]["FRAUD_OWNER_DATABASE_URL"])
    assert (owner.username, owner.hostname, owner.path) == ("postgres", "postgres", "/fraud")
    assert {
        name
        for name, service in services.items()
        if "FRAUD_OWNER_DATABASE_URL" in service.get("environment", {})
    } == {"airflow-init"}
    # `fraud db logins` reads the logins' passwords; no other service needs them.
    for variable in (
        "FRAUD_PIPELINE_DB_PASSWORD",
        "FRAUD_ANALYST_DB_PASSWORD",
        "FRAUD_INVESTIGATOR_DB_PASSWORD",
    ):
        assert {
            name for name, service in services.items() if variable in service.get("environment", {})
        } == {"airflow-init"}


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_the_warehouse_urls_use_the_pipeline_and_analyst_logins(
    services: dict[str, Any], name: str
) -> None:
    environment = services[name]["environment"]
    warehouse = urlsplit(environment["FRAUD_DATABASE_URL"])
    assert (warehouse.username, warehouse.password, warehouse.path) == (
        "fraud_pipeline_login",
        TEST_ENVIRON["FRAUD_PIPELINE_DB_PASSWORD"],
        "/fraud",
    )
    analyst = environment.get("FRAUD_ANALYST_DATABASE_URL")
    if name == "airflow-apiserver":
        parts = urlsplit(analyst)
        assert (parts.username, parts.password, parts.path) == (
            "fraud_analyst_login",
            TEST_ENVIRON["FRAUD_ANALYST_DB_PASSWORD"],
            "/fraud",
        )
    else:
        assert analyst is None


def test_airflow_and_mlflow_have_logins_of_their_own(services: dict[str, Any]) -> None:
    environment = services["airflow-worker"]["environment"]
    stores = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
        "AIRFLOW__CELERY__RESULT_BACKEND": environment["AIRFLOW__CELERY__RESULT_BACKEND"],
        "MLFLOW_BACKEND_STORE_URI": services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"],
    }
    logins = {name: urlsplit(url)[1].split("@")[0] for name, url in stores.items()}
    airflow = f"airflow:{TEST_ENVIRON['AIRFLOW_DB_PASSWORD']}"
    assert logins == {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow,
        "AIRFLOW__CELERY__RESULT_BACKEND": airflow,
        "MLFLOW_BACKEND_STORE_URI": f"mlflow:{TEST_ENVIRON['MLFLOW_DB_PASSWORD']}",
    }
    broker = urlsplit(environment["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.password == TEST_ENVIRON["REDIS_PASSWORD"]
    redis = services["redis"]["environment"]
    assert redis["REDIS_PASSWORD"] == redis["REDISCLI_AUTH"] == TEST_ENVIRON["REDIS_PASSWORD"]
    assert "$REDIS_PASSWORD" not in command_of(services["redis"]).split("&&")[1]


def test_postgres_init_script_creates_the_logins_with_quoted_passwords(
    services: dict[str, Any],
) -> None:
    script = POSTGRES_INIT.read_text()
    environment = services["postgres"]["environment"]
    assert environment["POSTGRES_PASSWORD"] == TEST_ENVIRON["POSTGRES_PASSWORD"]
    for role, variable in (("airflow", "AIRFLOW_DB_PASSWORD"), ("mlflow", "MLFLOW_DB_PASSWORD")):
        assert environment[variable] == TEST_ENVIRON[variable]
        # psql quotes a variable read as :'name'; the shell never pastes it into the SQL.
        assert f'--set {role}_password="${variable}"' in script
        assert f"create role {role} login password :'{role}_password';" in script
        assert f"create database {role} owner {role};" in script
        assert f"grant connect on database {role} to {role};" in script
    assert "<<'SQL'" in script
    assert "revoke connect, temporary on database airflow, fraud, mlflow from public;" in script
    assert POSTGRES_INIT.stat().st_mode & 0o111


def test_mlflow_asks_for_a_login_wherever_it_is_published(services: dict[str, Any]) -> None:
    mlflow = services["mlflow"]
    command = mlflow["command"]
    published_everywhere = [port for port in mlflow.get("ports", []) if port.count(":") < 2]
    authenticated = command[command.index("--app-name") + 1] == "basic-auth"
    assert authenticated or not published_everywhere
    assert authenticated
    environment = mlflow["environment"]
    assert environment["MLFLOW_AUTH_ADMIN_PASSWORD"] == TEST_ENVIRON["MLFLOW_ADMIN_PASSWORD"]
    assert (
        environment["MLFLOW_FLASK_SERVER_SECRET_KEY"]
        == (TEST_ENVIRON["MLFLOW_FLASK_SERVER_SECRET_KEY"])
    )
    config = named_mounts(mlflow)["./docker/mlflow-auth.ini"]
    assert environment["MLFLOW_AUTH_CONFIG_PATH"] == config
    # The user store lives in its own volume, not among the artifacts the server serves.
    store = re.search(r"^database_uri = sqlite:///(/\S+)$", MLFLOW_AUTH_CONFIG.read_text(), re.M)
    assert store and Path(store.group(1)).parent == Path(named_mounts(mlflow)["mlflow-auth"])
    assert "admin_password" not in MLFLOW_AUTH_CONFIG.read_text().replace("# admin_password", "")
    for name in AIRFLOW_SERVICES:
        clients = services[name]["environment"]
        assert clients["MLFLOW_TRACKING_USERNAME"] == "admin"
        assert clients["MLFLOW_TRACKING_PASSWORD"] == TEST_ENVIRON["MLFLOW_ADMIN_PASSWORD"]


def test_every_port_is_published_on_loopback_only(services: dict[str, Any]) -> None:
    ports = [port for service in services.values() for port in service.get("ports", [])]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports)


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_only_the_apiserver_mounts_the_artifacts_read_only(
    services: dict[str, Any], name: str
) -> None:
    (mount,) = [
        volume for volume in services[name]["volumes"] if volume.startswith("fraud-artifacts:")
    ]
    assert mount.endswith(":ro") == (name == "airflow-apiserver")


# --- every service as the docs say ----------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_service_matches_the_table(services: dict[str, Any], name: str) -> None:
    image, command, ports, depends_on = SERVICES[name]
    service = services[name]
    if image == BUILT:
        assert service["build"] == "."
        assert service["image"] == "fraud-airflow:local"
    else:
        assert "build" not in service
        assert service["image"] == image
    assert command_of(service) == command
    assert tuple(service.get("ports", ())) == ports
    assert set(service.get("depends_on", {})) == set(depends_on)


def test_docs_services_table_is_the_expected_one() -> None:
    rows = markdown_table(OPERATIONS_DOC.read_text(), "### Services")
    documented = {
        row["Service"]: (
            row["Image"],
            "" if row["Command"] == "—" else row["Command"],
            listed(row["Ports"]),
            listed(row["Depends on"]),
        )
        for row in rows
    }
    assert documented == SERVICES


def test_docs_volumes_table_is_the_expected_one() -> None:
    rows = markdown_table(OPERATIONS_DOC.read_text(), "### Volumes")
    documented = {
        row["Volume"]: (
            row["Mounted at"],
            AIRFLOW_SERVICES
            if row["Services"] == "all Airflow services"
            else listed(row["Services"]),
        )
        for row in rows
    }
    assert documented == VOLUMES


@pytest.mark.parametrize("volume", VOLUMES)
def test_named_volumes_are_mounted_as_documented(
    compose: dict[str, Any], services: dict[str, Any], volume: str
) -> None:
    target, users = VOLUMES[volume]
    assert volume in compose["volumes"]
    mounted_by = {name for name, service in services.items() if volume in named_mounts(service)}
    assert mounted_by == set(users)
    assert {named_mounts(services[name])[volume] for name in users} == {target}


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_mount_the_code_read_only(services: dict[str, Any], name: str) -> None:
    volumes = services[name]["volumes"]
    for folder in CODE_FOLDERS:
        assert f"./{folder}:/opt/airflow/{folder}:ro" in volumes
        assert (REPOSITORY_ROOT / folder).is_dir()


def test_mounted_code_keeps_the_repository_layout(services: dict[str, Any]) -> None:
    # fraud.config finds sql/ and expectations/ beside include/ (REPOSITORY_ROOT).
    mounts = named_mounts(services["airflow-worker"])
    root = Path(mounts["./include"]).parent
    assert REPOSITORY_ROOT == Path(__file__).resolve().parents[3]
    assert {folder: Path(mounts[f"./{folder}"]) for folder in CODE_FOLDERS} == {
        folder: root / folder for folder in CODE_FOLDERS
    }
    assert services["airflow-worker"]["environment"]["PYTHONPATH"].split(":")[0] == str(
        root / "include"
    )


def test_postgres_creates_every_database_the_urls_name(services: dict[str, Any]) -> None:
    created = set(re.findall(r"^create database (\w+)\b", POSTGRES_INIT.read_text(), re.M))
    environment = services["airflow-worker"]["environment"]
    named = {
        urlsplit(url).path.lstrip("/")
        for url in (
            environment["FRAUD_DATABASE_URL"],
            environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            environment["AIRFLOW__CELERY__RESULT_BACKEND"],
            services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"],
        )
    }
    assert created == named == {"airflow", "fraud", "mlflow"}
    init_script = "./docker/postgres-init.sh"
    assert named_mounts(services["postgres"])[init_script].startswith(
        "/docker-entrypoint-initdb.d/"
    )


def test_health_checked_dependencies_have_health_checks(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully"
                if dependency == "airflow-init"
                else "service_healthy"
            )
            assert condition["condition"] == expected, (name, dependency)
            if expected == "service_healthy":
                assert "healthcheck" in services[dependency], dependency


# --- environment variables against the config module -----------------------------------------------


@pytest.mark.parametrize("name", [*AIRFLOW_SERVICES, "mlflow"])
def test_fraud_variables_are_read_by_the_config_module(services: dict[str, Any], name: str) -> None:
    environment = services[name].get("environment", {})
    fraud_variables = {
        variable
        for variable in environment
        if variable.startswith("FRAUD_") or variable == "MLFLOW_TRACKING_URI"
    }
    assert fraud_variables <= set(ENVIRONMENT_VARIABLES)


def test_settings_load_from_the_compose_environment(services: dict[str, Any]) -> None:
    environment = services["airflow-worker"]["environment"]
    settings = load_settings(environment)
    warehouse = urlsplit(settings.require_database_url())
    metadata = urlsplit(settings.airflow_database_url or "")
    tracking = urlsplit(settings.mlflow_tracking_uri)
    assert (warehouse.hostname, warehouse.path) == ("postgres", "/fraud")
    assert (metadata.hostname, metadata.path) == ("postgres", "/airflow")
    assert tracking.hostname in services
    assert f"127.0.0.1:{tracking.port}:{tracking.port}" in services[tracking.hostname]["ports"]
    mounted = set(named_mounts(services["airflow-worker"]).values())
    assert str(settings.artifact_dir) in mounted


def test_celery_executor_with_a_redis_broker(services: dict[str, Any]) -> None:
    environment = services["airflow-scheduler"]["environment"]
    broker = urlsplit(environment["AIRFLOW__CELERY__BROKER_URL"])
    backend = urlsplit(environment["AIRFLOW__CELERY__RESULT_BACKEND"])
    assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)
    assert services["redis"]["image"].startswith("redis:7.2")
    assert (backend.scheme, backend.hostname) == ("db+postgresql", "postgres")


def test_workers_reach_the_execution_api(services: dict[str, Any]) -> None:
    environment = services["airflow-worker"]["environment"]
    execution = urlsplit(environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (execution.hostname, execution.path) == ("airflow-apiserver", "/execution/")
    assert f"127.0.0.1:{execution.port}:{execution.port}" in services["airflow-apiserver"]["ports"]
    assert (
        environment["AIRFLOW__API_AUTH__JWT_SECRET"]
        == TEST_ENVIRON["AIRFLOW__API_AUTH__JWT_SECRET"]
    )
    assert environment["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_sends_statsd_to_the_exporter(services: dict[str, Any], name: str) -> None:
    environment = services[name]["environment"]
    exporter = services[environment["AIRFLOW__METRICS__STATSD_HOST"]]
    command = command_of(exporter).split()
    listens = {word.split("=", 1)[0]: word.split("=", 1)[1] for word in command if "=" in word}
    assert environment["AIRFLOW__METRICS__STATSD_ON"] == "true"
    assert environment["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    assert listens["--statsd.listen-udp"] == f":{environment['AIRFLOW__METRICS__STATSD_PORT']}"
    # The metrics page is published on the loopback only; StatsD stays on the Compose network.
    web_port = listens["--web.listen-address"].lstrip(":")
    assert exporter["ports"] == [f"127.0.0.1:{web_port}:{web_port}"]


def test_mlflow_keeps_runs_in_postgres_and_serves_artifacts(services: dict[str, Any]) -> None:
    mlflow = services["mlflow"]
    store = urlsplit(mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"])
    command = mlflow["command"]
    destination = command[command.index("--artifacts-destination") + 1]
    assert (store.scheme, store.hostname, store.path) == (
        "postgresql+psycopg2",
        "postgres",
        "/mlflow",
    )
    assert "--serve-artifacts" in command
    assert named_mounts(mlflow)["mlflow-artifacts"] == destination
    allowed = mlflow["environment"]["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    tracking = urlsplit(services["airflow-worker"]["environment"]["MLFLOW_TRACKING_URI"])
    assert {tracking.hostname, f"{tracking.hostname}:*"} <= set(allowed)


# --- the Dockerfile -------------------------------------------------------------------------------


def test_base_image_matches_the_pins() -> None:
    (base,) = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    requires = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text())["project"][
        "requires-python"
    ]
    python = re.search(r">=\s*(\d+\.\d+)", requires).group(1)
    assert base == f"apache/airflow:{requirement_pins()['apache-airflow']}-python{python}"


def test_image_leaves_out_exactly_the_local_and_test_block() -> None:
    requirements = (REPOSITORY_ROOT / "requirements.txt").read_text()
    local_block = requirements.split("# Local stack and tests", 1)[1]
    local_only = {line.split("==")[0] for line in local_block.splitlines() if "==" in line}
    (install,) = [
        arguments
        for keyword, arguments in dockerfile_instructions()
        if keyword == "RUN" and "requirements.txt" in arguments
    ]
    excluded = re.search(r"\^\(([^)]*)\)==", install).group(1).split("|")
    assert set(excluded) == local_only
    assert "-c constraints.txt" in install and "--no-cache-dir" in install


def test_image_copies_the_code_where_compose_mounts_it(services: dict[str, Any]) -> None:
    copies = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY":
            *sources, target = [word for word in arguments.split() if not word.startswith("--")]
            copies.update({source.rstrip("/"): target.rstrip("/") for source in sources})
    mounts = named_mounts(services["airflow-worker"])
    assert {folder: copies[folder] for folder in CODE_FOLDERS} == {
        folder: mounts[f"./{folder}"] for folder in CODE_FOLDERS
    }
    # pyproject.toml lands in the root that holds include/, which the editable install maps.
    root = str(Path(copies["include"]).parent)
    assert copies["pyproject.toml"] == root
    assert any(
        keyword == "RUN" and arguments.endswith(f"-e {root}")
        for keyword, arguments in dockerfile_instructions()
    )


def test_image_environment_matches_compose(services: dict[str, Any]) -> None:
    image_env = dict(
        re.findall(
            r"(\w+)=(\S+)",
            " ".join(
                arguments for keyword, arguments in dockerfile_instructions() if keyword == "ENV"
            ),
        )
    )
    environment = services["airflow-worker"]["environment"]
    assert image_env["PYTHONPATH"] == environment["PYTHONPATH"]
    assert image_env["FRAUD_ARTIFACT_DIR"] == environment["FRAUD_ARTIFACT_DIR"]
    assert image_env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"
    assert environment["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"
    # Besides the package's settings, the image sets only the path, MLflow's pickle switch and
    # the usage-data switches (tests/unit/core/test_usage_data.py).
    allowed = (
        set(ENVIRONMENT_VARIABLES)
        | {"PYTHONPATH", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"}
        | set(USAGE_DATA_OFF)
    )
    assert set(image_env) <= allowed


def test_image_prepares_the_volume_directories(services: dict[str, Any]) -> None:
    # A named volume starts with its mount point's owner and mode, so the image creates them.
    (prepare,) = [
        arguments
        for keyword, arguments in dockerfile_instructions()
        if keyword == "RUN" and "mkdir" in arguments
    ]
    built = [name for name, image in SERVICES.items() if image[0] == BUILT]
    targets = {
        target
        for name in built
        for source, target in named_mounts(services[name]).items()
        if not source.startswith(".")
    }
    assert targets == set(re.findall(r"/opt/airflow/[\w-]+", prepare.split("&&")[0]))
    assert targets == set(re.findall(r"/opt/airflow/[\w-]+", prepare.split("&&")[1]))


# --- the real parser, when this machine has one ----------------------------------------------------


def _compose_command() -> list[str] | None:
    """Return `docker compose` or `docker-compose` when either runs here."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    for candidate in candidates:
        if shutil.which(candidate[0]) is None:
            continue
        probe = subprocess.run([*candidate, "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


def test_docker_compose_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    result = subprocess.run(
        [*command, "--file", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, **TEST_ENVIRON},
        check=False,
    )
    assert result.returncode == 0, result.stderr
