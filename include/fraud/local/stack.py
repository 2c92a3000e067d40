"""``fraud up`` / ``fraud down`` for the stack itself: start everything (idempotent), stop it all."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from fraud.config import load_settings
from fraud.db import create_warehouse_engine, one_line_errors, server_name
from fraud.local.environment import child_environment, read_env_file, services_for, write_env_file
from fraud.local.paths import SERVICES, ServerUrls, StackPaths
from fraud.local.postgres import postgres_pid, start_postgres, stop_postgres
from fraud.local.services import (
    migrate_airflow,
    running_pid,
    start_services,
    stop_services,
    wait_healthy,
)


class Started(NamedTuple):
    """What ``up`` leaves: the env file's variables, the owner's URL and the migrations it ran."""

    env: dict[str, str]
    owner_url: str
    migrations: list[str]


def prepare_databases(urls: ServerUrls, env: Mapping[str, str]) -> list[str]:
    """As the owner, in a step of its own: migrate the warehouse, create the two logins, and
    close the Airflow and MLflow databases to PUBLIC; return the migrations applied."""
    from fraud.logins import ensure_logins
    from fraud.migrations import migrate
    from fraud.partitions import set_retention_minimum
    from fraud.privileges import close_to_public

    owner = create_warehouse_engine(urls.warehouse, pool_size=1)
    try:
        with one_line_errors(urls.warehouse):
            applied = migrate(owner)
            with owner.begin() as connection:
                settings = load_settings(env)
                ensure_logins(connection, settings)
                set_retention_minimum(connection, settings.retention_minimum_days)
    finally:
        owner.dispose()
    for url in (urls.airflow, urls.mlflow):
        engine = create_warehouse_engine(url, pool_size=1)
        try:
            with one_line_errors(url), engine.begin() as connection:
                close_to_public(connection)
        finally:
            engine.dispose()
    return applied


def up(
    home: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dags_folder: Path | None = None,
    plugins_folder: Path | None = None,
    timeout_seconds: float = 180.0,
) -> Started:
    """Start the whole local stack (idempotent): the databases, migrated as the owner, then the
    services, which connect as the least-privileged logins."""
    environ = dict(os.environ if environ is None else environ)
    folders = {"dags_folder": dags_folder, "plugins_folder": plugins_folder}
    paths = StackPaths.at(home, **{key: value for key, value in folders.items() if value})
    paths.create_directories()
    urls = start_postgres(paths, environ)
    env = write_env_file(paths, urls, environ)
    applied = prepare_databases(urls, env)
    if any(running_pid(paths, name) is None for name in services_for(env)):
        migrate_airflow(paths, child_environment(env, environ), urls.airflow)
    start_services(paths, env, urls, environ)
    wait_healthy(paths, timeout_seconds)
    return Started(env, urls.warehouse, applied)


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
    if warehouse and (not recorded or server_name(warehouse) != server_name(recorded)):
        status["postgres"] = f"external ({server_name(warehouse)})"
    return status


def _pids(paths: StackPaths) -> list[tuple[str, int | None]]:
    """Return the pid of the embedded PostgreSQL and of each service, ``None`` when stopped."""
    return [("postgres", postgres_pid(paths.pgdata))] + [
        (name, running_pid(paths, name)) for name in SERVICES
    ]
