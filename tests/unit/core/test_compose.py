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

COMPOSE_FILE = REPOSITORY_ROOT / "docker-compose.yaml"
DOCKERFILE = REPOSITORY_ROOT / "Dockerfile"
OPERATIONS_DOC = REPOSITORY_ROOT / "docs" / "operations.md"
POSTGRES_INIT = REPOSITORY_ROOT / "docker" / "postgres-init.sql"
# The one variable without a default: compose refuses to start without it.
TEST_ENVIRON = {"AIRFLOW__API_AUTH__JWT_SECRET": "test-only-secret"}

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
)
# The services table of docs/operations.md: service -> (image, command, ports, depends on).
SERVICES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "postgres": ("postgres:16", "", (), ()),
    "redis": ("redis:7.2-bookworm", "", (), ()),
    "airflow-init": (
        BUILT,
        "bash -c 'airflow db migrate && fraud db migrate'",
        (),
        ("postgres", "redis"),
    ),
    "airflow-apiserver": (BUILT, "api-server", ("8080:8080",), _AIRFLOW_DEPENDS),
    "airflow-scheduler": (BUILT, "scheduler", (), _AIRFLOW_DEPENDS),
    "airflow-dag-processor": (BUILT, "dag-processor", (), _AIRFLOW_DEPENDS),
    "airflow-triggerer": (BUILT, "triggerer", (), _AIRFLOW_DEPENDS),
    "airflow-worker": (
        BUILT,
        "celery worker",
        (),
        (*_AIRFLOW_DEPENDS, "airflow-apiserver", "mlflow"),
    ),
    "mlflow": (BUILT, _MLFLOW_COMMAND, ("5000:5000",), ("postgres",)),
}
# The volumes table of docs/operations.md: named volume -> (mounted at, services).
VOLUMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "postgres-db-volume": ("/var/lib/postgresql/data", ("postgres",)),
    "airflow-logs": ("/opt/airflow/logs", AIRFLOW_SERVICES),
    "airflow-auth": ("/opt/airflow/auth", AIRFLOW_SERVICES),
    "fraud-artifacts": ("/opt/airflow/artifacts", AIRFLOW_SERVICES),
    "mlflow-artifacts": ("/opt/airflow/mlflow-artifacts", ("mlflow",)),
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


def test_a_missing_jwt_secret_is_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="AIRFLOW__API_AUTH__JWT_SECRET"):
        interpolate(raw, {})


def test_database_passwords_come_from_the_environment(raw: dict[str, Any]) -> None:
    environments = [
        raw["x-airflow-common"]["environment"],
        raw["services"]["mlflow"]["environment"],
    ]
    urls = [value for env in environments for value in env.values() if "@postgres:" in value]
    assert len(urls) == 4
    for url in urls:
        assert "${POSTGRES_USER:-airflow}:${POSTGRES_PASSWORD:-airflow}@" in url
    assert raw["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == (
        "${POSTGRES_PASSWORD:-airflow}"
    )


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
    created = set(re.findall(r"^create database (\w+);$", POSTGRES_INIT.read_text(), re.M))
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
    init_script = "./docker/postgres-init.sql"
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
    assert f"{tracking.port}:{tracking.port}" in services[tracking.hostname]["ports"]
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
    assert f"{execution.port}:{execution.port}" in services["airflow-apiserver"]["ports"]
    assert (
        environment["AIRFLOW__API_AUTH__JWT_SECRET"]
        == TEST_ENVIRON["AIRFLOW__API_AUTH__JWT_SECRET"]
    )
    assert environment["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"


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
    # Besides the package's settings, the image sets only the path and MLflow's pickle switch.
    allowed = set(ENVIRONMENT_VARIABLES) | {"PYTHONPATH", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"}
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
