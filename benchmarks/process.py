"""Measuring a step in a process of its own: its wall time and its own peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Generator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from fraud.db import DatabaseError, database_name, server_name, with_database
from fraud.scratch import name_beside, scratch_database

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


class BenchmarkError(RuntimeError):
    """The benchmark cannot run or a step misbehaved; the message is one line."""


def scratch_url(url: str, suffix: str) -> str:
    """The configured URL pointed at ``<database>_<suffix>`` on the same server."""
    try:
        return with_database(url, name_beside(url, suffix))
    except DatabaseError as error:
        raise BenchmarkError(str(error)) from None


@contextmanager
def scratch_warehouse(
    url: str, suffix: str, progress: Callable[[str], None], *, keep: bool = False
) -> Generator[str, None, None]:
    """The benchmark's scratch database beside ``url``'s: created, its URL yielded, dropped when
    the benchmark ends unless ``keep``; one line if the role may not create it or it exists."""
    scratch = scratch_url(url, suffix)
    with ExitStack() as stack:
        try:
            stack.enter_context(scratch_database(url, database_name(scratch), keep=keep))
        except DatabaseError as error:
            hint = (
                "kept by an earlier --keep? drop it first"
                if "already exists" in str(error)
                else "the benchmark needs CREATEDB for its scratch database"
            )
            raise BenchmarkError(f"{error} ({hint})") from None
        progress(f"created scratch database {database_name(scratch)} on {server_name(url)}")
        yield scratch


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
