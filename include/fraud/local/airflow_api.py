"""Airflow's public REST API (``/api/v2``) as ``fraud up`` reads it: DAGs parsed, runs and states.

``fraud up`` logs in as the stack's admin (``POST /auth/token`` of the simple auth manager) and
never reads Airflow's metadata tables, so what it shows is what the UI and any client see.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 10.0


class AirflowApiError(RuntimeError):
    """A call to the Airflow REST API failed; ``status`` is None when nothing answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RunCounts:
    """How many runs of a DAG succeeded, and the first one that failed, if any."""

    succeeded: int
    failed_run_id: str | None = None


class AirflowApi:
    """A REST client logged in as one user; the token is renewed when the server refuses it."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._login = {"username": username, "password": password}
        self._token: str | None = None

    def run_link(self, dag_id: str, run_id: str) -> str:
        """The UI page of one DAG run: its tasks and their logs."""
        return f"{self.base_url}/dags/{dag_id}/runs/{urllib.parse.quote(run_id, safe='')}"

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int] | None = None,
        body: Mapping[str, object] | None = None,
    ) -> dict[str, Any]:
        """One API call with the login's token; the decoded JSON answer."""
        if self._token is None:
            self._token = self._new_token()
        try:
            return self._send(method, path, query, body, self._token)
        except AirflowApiError as error:
            if error.status != 401:
                raise
        self._token = self._new_token()  # expired: log in again, once
        return self._send(method, path, query, body, self._token)

    def _new_token(self) -> str:
        answer = self._send("POST", "/auth/token", None, self._login, None)
        token = answer.get("access_token")
        if not isinstance(token, str):
            raise AirflowApiError(f"{self.base_url}/auth/token answered without an access_token")
        return token

    def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int] | None,
        body: Mapping[str, object] | None,
        token: str | None,
    ) -> dict[str, Any]:
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                content = response.read()
        except urllib.error.HTTPError as error:
            detail = _detail(error.read())
            raise AirflowApiError(
                f"{method} {url} answered {error.code}: {detail}", error.code
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise AirflowApiError(
                f"the Airflow API at {self.base_url} does not answer: {reason}"
            ) from None
        try:
            answer = json.loads(content or b"{}")
        except ValueError:
            raise AirflowApiError(f"{method} {url} answered something other than JSON") from None
        return answer if isinstance(answer, dict) else {"value": answer}


def _detail(body: bytes) -> str:
    """The ``detail`` of an error answer on one line, else its first line."""
    text = body.decode(errors="replace")
    try:
        detail = json.loads(text).get("detail", text)
    except (ValueError, AttributeError):
        detail = text
    return (str(detail).strip().splitlines() or ["no detail"])[0]


def parsed_dags(api: AirflowApi, dag_ids: Iterable[str], prefix: str = "fraud_") -> set[str]:
    """Which of ``dag_ids`` the DAG processor has stored (and not marked stale)."""
    answer = api.call("GET", "/api/v2/dags", {"dag_id_pattern": prefix, "limit": 100})
    return {dag["dag_id"] for dag in answer.get("dags", [])} & set(dag_ids)


def run_counts(api: AirflowApi, dag_id: str) -> RunCounts:
    """Runs of ``dag_id`` that succeeded, and the first one that failed."""
    runs = f"/api/v2/dags/{dag_id}/dagRuns"
    succeeded = api.call("GET", runs, {"state": "success", "limit": 1})
    failed = api.call("GET", runs, {"state": "failed", "limit": 1, "order_by": "id"})
    first_failed = failed.get("dag_runs") or [None]
    return RunCounts(
        succeeded=int(succeeded.get("total_entries", 0)),
        failed_run_id=first_failed[0]["dag_run_id"] if first_failed[0] else None,
    )


def run_state(api: AirflowApi, dag_id: str, run_id: str) -> str | None:
    """The state of one DAG run, None while it does not exist."""
    path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
    try:
        return str(api.call("GET", path).get("state"))
    except AirflowApiError as error:
        if error.status == 404:
            return None
        raise
