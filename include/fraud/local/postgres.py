"""The local stack's PostgreSQL: the server ``FRAUD_DATABASE_URL`` names, or the embedded one."""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path

import psutil

from fraud.db import DatabaseError, create_database
from fraud.local.environment import derive_urls, read_env_file
from fraud.local.paths import DATABASES, ServerUrls, StackError, StackPaths
from fraud.local.services import alive


def start_postgres(paths: StackPaths, environ: Mapping[str, str]) -> ServerUrls:
    """Use the owner's server (FRAUD_OWNER_DATABASE_URL, else FRAUD_DATABASE_URL), else start the
    embedded one; create the databases. ``warehouse`` of the result is the owner's URL."""
    given = (
        environ.get("FRAUD_OWNER_DATABASE_URL", "").strip()
        or environ.get("FRAUD_DATABASE_URL", "").strip()
    )
    recorded = paths.embedded_url_file.read_text() if paths.embedded_url_file.exists() else ""
    written = read_env_file(paths).get("FRAUD_DATABASE_URL", "")
    # A shell that sourced an earlier env file still carries the stack's own URLs: not a choice.
    if given and given not in {recorded, written}:
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
        if postgres_pid(pgdata) is None:
            server.ensure_postgres_running()  # stopped since this process last asked
    except (subprocess.SubprocessError, OSError) as error:
        raise StackError(f"the embedded PostgreSQL did not start; see {pgdata / 'log'}") from error
    return server.get_uri(DATABASES["warehouse"])


def ensure_database(url: str) -> None:
    """Create the database a URL names when its server does not have it yet."""
    try:
        create_database(url, exist_ok=True)
    except DatabaseError as error:
        raise StackError(str(error)) from error


def _pg_ctl() -> Path:
    """Return the pg_ctl binary shipped inside the pgserver wheel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"


def postgres_pid(pgdata: Path) -> int | None:
    """Return the pid of the embedded server when it runs."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        # After a reboot the file outlives the server and its pid may belong to anything.
        running = alive(pid) and psutil.Process(pid).name() == "postgres"
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return pid if running else None


def stop_postgres(paths: StackPaths) -> None:
    """Stop the embedded server (fast shutdown) if it runs."""
    if postgres_pid(paths.pgdata) is None:
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
    if result.returncode != 0 and postgres_pid(paths.pgdata) is not None:
        raise StackError(f"pg_ctl stop failed: {result.stderr.strip() or result.stdout.strip()}")
