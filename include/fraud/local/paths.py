"""Where the local stack keeps its state, its servers' addresses and its fixed names.

PostgreSQL is embedded (the ``pgserver`` wheel) unless ``FRAUD_DATABASE_URL`` names a server.
Everything lives under one home directory: data, logs, pid files and a sourceable ``env`` file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fraud.config import REPOSITORY_ROOT

AIRFLOW_URL = "http://127.0.0.1:8080"
MLFLOW_URL = "http://127.0.0.1:5000"
ADMIN_USER = "admin"
DATABASES = {"warehouse": "fraud", "airflow": "airflow", "mlflow": "mlflow"}
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "mlflow")
SERVICE_PORTS = {"api-server": 8080, "mlflow": 5000}


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
