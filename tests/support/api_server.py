"""The real Airflow api-server for tests: a free port, simple auth users with generated passwords."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER_START_SECONDS = 180


@dataclass(frozen=True)
class Server:
    """A running api-server, its users' passwords and the secret it signs tokens with."""

    base_url: str
    passwords: dict[str, str]
    jwt_secret: str

    @property
    def password(self) -> str:
        """The admin's password."""
        return self.passwords["admin"]


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running_api_server(
    home: Path, users: Mapping[str, str], environ: Mapping[str, str]
) -> Generator[Server, None, None]:
    """``airflow api-server`` in ``home`` with ``users`` (name: role), stopped on exit.

    ``environ`` is the server's environment; the users, their generated passwords, the signing
    secret and the port are set here.
    """
    passwords = {user: secrets.token_urlsafe(12) for user in users}
    passwords_file = home / "passwords.json"
    passwords_file.write_text(json.dumps(passwords))
    jwt_secret = secrets.token_urlsafe(64)
    port = free_port()
    env = {
        **environ,
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{user}:{role}" for user, role in users.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
    }
    log = home / "api-server.log"
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("w") as output:
        process = subprocess.Popen(
            [airflow, "api-server", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=home,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not _answers(f"{base_url}/api/v2/version"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text().splitlines()[-30:])
                pytest.fail(f"the api-server did not start; its log ends:\n{tail}")
            time.sleep(1.0)
        yield Server(base_url=base_url, passwords=passwords, jwt_secret=jwt_secret)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            # Shutdown waits for a browser's idle keep-alive connections; a few seconds will do.
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
