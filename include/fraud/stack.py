"""The local stack behind ``make up``: PostgreSQL, Airflow and MLflow as background processes.

PostgreSQL is embedded (the ``pgserver`` wheel) unless ``FRAUD_DATABASE_URL`` names a server.
Everything lives under one home directory: data, logs, pid files and a sourceable ``env`` file.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

from fraud.config import REPOSITORY_ROOT
from fraud.db import mask_url, server_name, sqlalchemy_url

AIRFLOW_URL = "http://127.0.0.1:8080"
MLFLOW_URL = "http://127.0.0.1:5000"
ADMIN_USER = "admin"
DATABASES = {"warehouse": "fraud", "airflow": "airflow", "mlflow": "mlflow"}
HEALTHY_AIRFLOW_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
GENERATED_SECRETS = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
)
# Defaults a user may override by exporting the variable before `make up`.
TUNABLE_DEFAULTS = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
}
PASSED_THROUGH_PREFIXES = ("FRAUD_", "AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
STOP_GRACE_SECONDS = 20.0
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "mlflow")
SERVICE_PORTS = {"api-server": 8080, "mlflow": 5000}
# Which log explains each unhealthy component of the Airflow health answer.
_COMPONENT_LOGS = {
    "metadatabase": "api-server",
    "scheduler": "scheduler",
    "dag_processor": "dag-processor",
    "triggerer": "triggerer",
}
# The server's job runner serves GenAI features this pipeline does not use; it costs 7 processes.
_MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
_PASSWORD_ALPHABET = "abcdefghkmnpqrstuvwxyzABCDEFGHKMNPQRSTUVWXYZ23456789"


class StackError(RuntimeError):
    """The local stack could not be started or stopped; the message is one line."""


@dataclass(frozen=True)
class StackPaths:
    """Where the local stack keeps its state, and which code Airflow runs."""

    home: Path
    dags_folder: Path = field(default=REPOSITORY_ROOT / "dags")
    plugins_folder: Path = field(default=REPOSITORY_ROOT / "plugins")

    @classmethod
    def at(cls, home: Path | None = None, **folders: Path) -> StackPaths:
        """Return the paths under ``home`` (default ``<repository>/.fraud``), made absolute."""
        chosen = REPOSITORY_ROOT / ".fraud" if home is None else Path(home)
        resolved = {name: Path(value).resolve() for name, value in folders.items()}
        return cls(chosen.expanduser().resolve(), **resolved)

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    @property
    def mlartifacts(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def env_file(self) -> Path:
        return self.home / "env"

    @property
    def passwords_file(self) -> Path:
        return self.airflow_home / "simple_auth_manager_passwords.json"

    @property
    def embedded_url_file(self) -> Path:
        return self.run / "embedded-postgres.url"

    def log_file(self, name: str) -> Path:
        """Return the log file of one service or step."""
        return self.logs / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        """Return the pid file of one service."""
        return self.run / f"{name}.pid"

    def create_directories(self) -> None:
        """Create every directory the stack writes to."""
        for directory in (self.home, self.logs, self.run, self.airflow_home, self.artifacts):
            directory.mkdir(parents=True, exist_ok=True)
        self.mlartifacts.mkdir(exist_ok=True)


@dataclass(frozen=True)
class ServerUrls:
    """Connection URLs of the three databases; ``embedded`` when the stack runs the server."""

    warehouse: str
    airflow: str
    mlflow: str
    embedded: bool


# --- pure parts: URLs, the environment, the env file, health ---------------------------------


def with_database(url: str, database: str) -> str:
    """Return the same server URL pointing at another database, query string kept."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


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
    }
    return {name: previous.get(name) or fresh[name] for name in GENERATED_SECRETS}


def build_env(
    paths: StackPaths,
    urls: ServerUrls,
    generated: Mapping[str, str],
    environ: Mapping[str, str],
) -> dict[str, str]:
    """Return every variable the stack's processes need; its wiring wins over the caller's."""
    include = str(REPOSITORY_ROOT / "include")
    given_path = [part for part in environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    wiring = {
        "FRAUD_DATABASE_URL": urls.warehouse,
        "MLFLOW_TRACKING_URI": external_tracking_uri(environ) or MLFLOW_URL,
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
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([include, *given_path])),
        **{name: generated[name] for name in GENERATED_SECRETS},
    }
    defaults = {**TUNABLE_DEFAULTS, "FRAUD_ARTIFACT_DIR": str(paths.artifacts)}
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


# --- files -------------------------------------------------------------------------------------


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


# --- PostgreSQL ---------------------------------------------------------------------------------


def start_postgres(paths: StackPaths, environ: Mapping[str, str]) -> ServerUrls:
    """Use the server in FRAUD_DATABASE_URL, else start the embedded one; create the databases."""
    given = environ.get("FRAUD_DATABASE_URL", "").strip()
    recorded = paths.embedded_url_file.read_text() if paths.embedded_url_file.exists() else ""
    # A shell that sourced an earlier env file still carries the embedded URL: that is not a choice.
    if given and given != recorded:
        urls = derive_urls(given, environ, embedded=False)
    else:
        warehouse = _start_embedded(paths.pgdata)
        paths.embedded_url_file.write_text(warehouse)
        urls = derive_urls(warehouse, {}, embedded=True)
    for url in (urls.warehouse, urls.airflow, urls.mlflow):
        ensure_database(url)
    return urls


def _start_embedded(pgdata: Path) -> str:
    """Start (or find running) the embedded server and return the warehouse URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver
    # pgserver puts the socket in pgdata, or under a short runtime directory keyed by a hash
    # of pgdata when that path is too long for a unix socket; the URL names whichever it chose.
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        if _postgres_pid(pgdata) is None:
            server.ensure_postgres_running()  # stopped since this process last asked
    except (subprocess.SubprocessError, OSError) as error:
        raise StackError(f"the embedded PostgreSQL did not start; see {pgdata / 'log'}") from error
    return server.get_uri(DATABASES["warehouse"])


def ensure_database(url: str) -> None:
    """Create the database a URL names when its server does not have it yet."""
    import sqlalchemy as sa

    name = urlsplit(url).path.lstrip("/")
    engine = sa.create_engine(
        sqlalchemy_url(with_database(url, "postgres")), isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                sa.text("select 1 from pg_database where datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                quoted = '"' + name.replace('"', '""') + '"'
                connection.execute(sa.text(f"create database {quoted}"))
    except sa.exc.SQLAlchemyError as error:
        first_line = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StackError(f"cannot create database {mask_url(url)}: {first_line}") from error
    finally:
        engine.dispose()


def _pg_ctl() -> Path:
    """Return the pg_ctl binary shipped inside the pgserver wheel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"


def _postgres_pid(pgdata: Path) -> int | None:
    """Return the pid of the embedded server when it runs."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        # After a reboot the file outlives the server and its pid may belong to anything.
        running = _alive(pid) and psutil.Process(pid).name() == "postgres"
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return pid if running else None


def stop_postgres(paths: StackPaths) -> None:
    """Stop the embedded server (fast shutdown) if it runs."""
    if _postgres_pid(paths.pgdata) is None:
        return
    owner = paths.pgdata.stat().st_uid
    # pg_ctl refuses to run as root; the wheel runs the server as the data directory's owner.
    user = owner if os.geteuid() == 0 and owner != 0 else None
    result = subprocess.run(
        [str(_pg_ctl()), "-D", str(paths.pgdata), "-m", "fast", "-w", "-t", "60", "stop"],
        capture_output=True,
        text=True,
        user=user,
        check=False,
    )
    if result.returncode != 0 and _postgres_pid(paths.pgdata) is not None:
        raise StackError(f"pg_ctl stop failed: {result.stderr.strip() or result.stdout.strip()}")


# --- processes ------------------------------------------------------------------------------------


def _alive(pid: int, started: float | None = None) -> bool:
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
    return pid if _alive(pid, started) else None


def child_environment(env: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """Return the caller's environment overlaid with the stack's, the venv's bin first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join([bin_dir, environ.get("PATH", os.defpath)])
    return {**environ, **env, "PATH": path}


def _schema_stamp(airflow_url: str) -> str | None:
    """Return ``<installed Airflow version> <alembic revision of the database>``, if any."""
    from importlib.metadata import version

    import sqlalchemy as sa

    engine = sa.create_engine(sqlalchemy_url(airflow_url))
    try:
        with engine.connect() as connection:
            revision = connection.execute(
                sa.text("select version_num from alembic_version")
            ).scalar()
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


# --- the commands --------------------------------------------------------------------------------


def up(
    home: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dags_folder: Path | None = None,
    plugins_folder: Path | None = None,
    timeout_seconds: float = 180.0,
) -> dict[str, str]:
    """Start the whole local stack (idempotent) and return the variables of its env file."""
    environ = dict(os.environ if environ is None else environ)
    folders = {"dags_folder": dags_folder, "plugins_folder": plugins_folder}
    paths = StackPaths.at(home, **{key: value for key, value in folders.items() if value})
    paths.create_directories()
    urls = start_postgres(paths, environ)
    env = write_env_file(paths, urls, environ)
    if any(running_pid(paths, name) is None for name in services_for(env)):
        migrate_airflow(paths, child_environment(env, environ), urls.airflow)
    start_services(paths, env, urls, environ)
    wait_healthy(paths, timeout_seconds)
    return env


def stop_stack(home: Path | None = None) -> None:
    """Stop every service the stack started, then the embedded PostgreSQL; safe when idle."""
    paths = StackPaths.at(home)
    stop_services(paths)
    stop_postgres(paths)


def service_status(home: Path | None = None) -> dict[str, str]:
    """Return ``running (pid N)``, ``stopped`` or ``external (server)`` for each part."""
    paths = StackPaths.at(home)
    status = {name: f"running (pid {pid})" if pid else "stopped" for name, pid in _pids(paths)}
    warehouse = read_env_file(paths).get("FRAUD_DATABASE_URL")
    recorded = paths.embedded_url_file.read_text() if paths.embedded_url_file.exists() else None
    if warehouse and warehouse != recorded:
        status["postgres"] = f"external ({server_name(warehouse)})"
    return status


def _pids(paths: StackPaths) -> list[tuple[str, int | None]]:
    """Return the pid of the embedded PostgreSQL and of each service, ``None`` when stopped."""
    return [("postgres", _postgres_pid(paths.pgdata))] + [
        (name, running_pid(paths, name)) for name in SERVICES
    ]
