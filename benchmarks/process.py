"""Measuring a step in a process of its own: its wall time and its own peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from fraud.db import (
    LONGEST_NAME,
    MAINTENANCE_DATABASE,
    DatabaseError,
    create_database,
    server_name,
    sqlalchemy_url,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


class BenchmarkError(RuntimeError):
    """The benchmark cannot run or a step misbehaved; the message is one line."""


def scratch_url(url: str, suffix: str) -> str:
    """The configured URL pointed at ``<database>_<suffix>`` on the same server."""
    parsed = make_url(sqlalchemy_url(url))
    name = f"{parsed.database or MAINTENANCE_DATABASE}_{suffix}"
    if len(name.encode()) > LONGEST_NAME:
        raise BenchmarkError(f"scratch database name {name!r} is longer than {LONGEST_NAME} bytes")
    return parsed.set(database=name).render_as_string(hide_password=False)


def create_scratch(url: str, suffix: str, progress: Callable[[str], None]) -> str:
    """Create the benchmark's scratch database beside ``url``'s and return its URL."""
    scratch = scratch_url(url, suffix)
    try:
        create_database(scratch)
    except DatabaseError as error:
        raise BenchmarkError(
            f"{error} (the benchmark needs CREATEDB; drop a kept one first)"
        ) from None
    progress(f"created scratch database {make_url(scratch).database} on {server_name(url)}")
    return scratch


def child_environment() -> dict[str, str]:
    """This environment, with the checkout's ``include/`` and root on the child's path."""
    paths = [str(REPOSITORY_ROOT / "include"), str(REPOSITORY_ROOT)]
    given = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys([*paths, *given]))}


def run_child(
    module: str, spec: dict[str, Any], what: str, environment: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``python -m module`` with ``spec`` as JSON on stdin; return the JSON it prints last."""
    completed = subprocess.run(
        [sys.executable, "-m", module],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=False,
        env={**child_environment(), **(environment or {})},
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkError(f"{what} failed: {last}")
    return dict(json.loads(lines[-1]))
