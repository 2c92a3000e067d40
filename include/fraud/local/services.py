"""The local stack's processes: Airflow's components and MLflow, started detached and watched."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import psutil

from fraud.db import sqlalchemy_url
from fraud.local.environment import child_environment, read_env_file, services_for
from fraud.local.paths import (
    AIRFLOW_URL,
    MLFLOW_URL,
    SERVICE_PORTS,
    SERVICES,
    ServerUrls,
    StackError,
    StackPaths,
)

HEALTHY_AIRFLOW_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
STOP_GRACE_SECONDS = 20.0
_ALEMBIC_REVISION_SQL = "select version_num from alembic_version"
# Which log explains each unhealthy component of the Airflow health answer.
_COMPONENT_LOGS = {
    "metadatabase": "api-server",
    "scheduler": "scheduler",
    "dag_processor": "dag-processor",
    "triggerer": "triggerer",
}


# The server's job runner serves GenAI features this pipeline does not use; it costs 7 processes.
_MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def unhealthy_components(health: Mapping[str, object]) -> list[str]:
    """Name the Airflow components that the health endpoint does not report healthy."""
    unhealthy = []
    for component in HEALTHY_AIRFLOW_COMPONENTS:
        entry = health.get(component)
        status = entry.get("status") if isinstance(entry, Mapping) else None
        if status != "healthy":
            unhealthy.append(component)
    return unhealthy


def service_commands(bin_dir: Path, paths: StackPaths) -> dict[str, list[str]]:
    """Return the command line of each background service, keyed by service name."""
    airflow, mlflow = str(bin_dir / "airflow"), str(bin_dir / "mlflow")
    return {
        "api-server": [airflow, "api-server", "--port", "8080"],
        "scheduler": [airflow, "scheduler"],
        "dag-processor": [airflow, "dag-processor"],
        "triggerer": [airflow, "triggerer"],
        # The backend store URI arrives as MLFLOW_BACKEND_STORE_URI, keeping passwords off `ps`.
        "mlflow": [mlflow, "server", "--host", "127.0.0.1", "--port", "5000", "--workers", "1"]
        + ["--serve-artifacts", "--artifacts-destination", str(paths.mlartifacts)],
    }


def alive(pid: int, started: float | None = None) -> bool:
    """Tell whether a pid runs (and is the same process when its start time is known)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 1.0
    except psutil.Error:
        return False


def running_pid(paths: StackPaths, name: str) -> int | None:
    """Return the pid of a service started by the stack when it still runs."""
    pid_file = paths.pid_file(name)
    if not pid_file.exists():
        return None
    try:
        pid_text, started_text = pid_file.read_text().split()
        pid, started = int(pid_text), float(started_text)
    except ValueError:
        return None
    return pid if alive(pid, started) else None


def _schema_stamp(airflow_url: str) -> str | None:
    """Return ``<installed Airflow version> <alembic revision of the database>``, if any."""
    from importlib.metadata import version

    import sqlalchemy as sa

    engine = sa.create_engine(sqlalchemy_url(airflow_url))
    try:
        with engine.connect() as connection:
            revision = connection.execute(sa.text(_ALEMBIC_REVISION_SQL)).scalar()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return f"{version('apache-airflow')} {revision}" if revision else None


def migrate_airflow(paths: StackPaths, child_env: Mapping[str, str], airflow_url: str) -> bool:
    """Create or upgrade the Airflow schema unless this Airflow version already did; True if run."""
    stamp_file = paths.run / "airflow-schema"
    recorded = stamp_file.read_text() if stamp_file.exists() else None
    if recorded is not None and recorded == _schema_stamp(airflow_url):
        return False
    log = paths.log_file("airflow-db-migrate")
    airflow = Path(sys.executable).parent / "airflow"
    with log.open("a") as handle:
        result = subprocess.run(
            [str(airflow), "db", "migrate"],
            env=dict(child_env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=paths.home,
            check=False,
        )
    if result.returncode != 0:
        raise StackError(f"`airflow db migrate` failed (exit {result.returncode}); see {log}")
    stamp_file.write_text(_schema_stamp(airflow_url) or "")
    return True


def _port_in_use(port: int) -> bool:
    """Tell whether something already listens on a local TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_services(
    paths: StackPaths, env: Mapping[str, str], urls: ServerUrls, environ: Mapping[str, str]
) -> list[str]:
    """Start every service not already running, detached; return the names started."""
    base = child_environment(env, environ)
    commands = service_commands(Path(sys.executable).parent, paths)
    started = []
    for name in services_for(env):
        if running_pid(paths, name) is not None:
            continue
        if name in SERVICE_PORTS and _port_in_use(SERVICE_PORTS[name]):
            raise StackError(f"port {SERVICE_PORTS[name]} is taken by another program; free it")
        extra = (
            _MLFLOW_SERVER_ENV | {"MLFLOW_BACKEND_STORE_URI": urls.mlflow}
            if name == "mlflow"
            else {}
        )
        _spawn(paths, name, commands[name], {**base, **extra})
        started.append(name)
    return started


def _spawn(paths: StackPaths, name: str, command: list[str], env: Mapping[str, str]) -> None:
    """Start one detached process in its own session and record its pid and start time."""
    if not Path(command[0]).exists():
        raise StackError(f"{command[0]} not found: install the project's Python dependencies")
    with paths.log_file(name).open("a") as log:
        log.write(f"--- starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        log.flush()
        process = subprocess.Popen(
            command,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=paths.home,
            start_new_session=True,
        )
    started = psutil.Process(process.pid).create_time()
    paths.pid_file(name).write_text(f"{process.pid} {started}\n")


def _get_json(url: str) -> object | None:
    """GET a URL and decode its JSON body, ``None`` when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def _problems(paths: StackPaths) -> list[tuple[str, str]]:
    """Return (what is wrong, service name) pairs; empty when the whole stack is healthy."""
    services = services_for(read_env_file(paths))
    problems = [(f"{name} exited", name) for name in services if running_pid(paths, name) is None]
    if problems:
        return problems
    health = _get_json(f"{AIRFLOW_URL}/api/v2/monitor/health")
    if not isinstance(health, Mapping):
        problems.append((f"the Airflow API does not answer on {AIRFLOW_URL}", "api-server"))
    else:
        for component in unhealthy_components(health):
            problems.append((f"Airflow {component} is not healthy", _COMPONENT_LOGS[component]))
    if "mlflow" in services and _get_json(f"{MLFLOW_URL}/health") is None:
        problems.append((f"MLflow does not answer on {MLFLOW_URL}", "mlflow"))
    return problems


def wait_healthy(paths: StackPaths, timeout_seconds: float = 180.0) -> None:
    """Wait until Airflow and MLflow report healthy, else fail naming the log to read."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        problems = _problems(paths)
        if not problems:
            return
        exited = [problem for problem in problems if problem[0].endswith("exited")]
        if exited or time.monotonic() > deadline:
            what, name = (exited or problems)[0]
            suffix = "" if exited else f" after {timeout_seconds:.0f} s"
            raise StackError(f"{what}{suffix}; see {paths.log_file(name)}")
        time.sleep(2.0)


def _service_processes(paths: StackPaths, name: str) -> list[psutil.Process]:
    """Return the processes of a service's group started since the service, leader or not."""
    try:
        pid_text, started_text = paths.pid_file(name).read_text().split()
        group, started = int(pid_text), float(started_text)
    except (OSError, ValueError):
        return []
    members = []
    for process in psutil.process_iter(["create_time"]):
        try:
            if os.getpgid(process.pid) == group and process.info["create_time"] >= started - 1:
                members.append(process)
        except (OSError, psutil.Error):
            continue
    return members


def terminate_processes(processes: list[psutil.Process], grace_seconds: float) -> None:
    """SIGTERM the processes, then SIGKILL those still alive after the grace period."""
    for process in processes:
        try:
            process.terminate()
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(processes, timeout=grace_seconds)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(alive, timeout=5)


def stop_services(paths: StackPaths, grace_seconds: float = STOP_GRACE_SECONDS) -> list[str]:
    """Stop every process of every service (its whole process group); return the names stopped."""
    running = [name for name in SERVICES if running_pid(paths, name) is not None]
    for grace in (grace_seconds, 5.0):  # the second pass catches children forked meanwhile
        terminate_processes(
            [p for name in SERVICES for p in _service_processes(paths, name)], grace
        )
    for name in SERVICES:
        paths.pid_file(name).unlink(missing_ok=True)
    return running
