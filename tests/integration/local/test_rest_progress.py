"""What ``fraud up`` reads of Airflow, through the real api-server's REST API and nothing else.

The repository's DAGs are stored in a fresh metadata database (``airflow dags reserialize``, as
the DAG processor stores them) and the real api-server runs on a free port with simple auth. Runs
are created and moved between states through the same API, as the scheduler would move them; no
scheduler runs, so nothing else changes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fraud import dag_ids
from fraud.local.airflow_api import AirflowApi, AirflowApiError, parsed_dags, run_counts
from fraud.local.nights import PipelineRunError, wait_for_dags, wait_for_nights, wait_for_run
from tests.support.api_server import Server, running_api_server

pytestmark = pytest.mark.integration

POLL_SECONDS = 0.2
FIRST_NIGHT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(own_airflow_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The api-server over a metadata database that holds the repository's DAGs."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "dags", "reserialize"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    home = tmp_path_factory.mktemp("rest-progress")
    with running_api_server(home, {"admin": "admin"}, os.environ) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: Server) -> AirflowApi:
    return AirflowApi(server.base_url, "admin", server.password)


def _create_run(api: AirflowApi, dag_id: str, night: int) -> str:
    """A queued run of ``dag_id`` for the n-th night after FIRST_NIGHT; its run id."""
    run_id = f"test__{night}__{uuid.uuid4().hex[:8]}"
    start = FIRST_NIGHT + timedelta(days=night)
    body = {
        "dag_run_id": run_id,
        "logical_date": start.isoformat(),
        "data_interval_start": start.isoformat(),
        "data_interval_end": (start + timedelta(days=1)).isoformat(),
    }
    api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body=body)
    return run_id


def _set_state(api: AirflowApi, dag_id: str, run_id: str, state: str) -> None:
    """Move a run to ``state`` as the scheduler would."""
    path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
    api.call("PATCH", path, body={"state": state})


def test_every_dag_is_seen_parsed(api: AirflowApi) -> None:
    assert wait_for_dags(api, dag_ids.ALL, 30, POLL_SECONDS) == set(dag_ids.ALL)
    assert parsed_dags(api, [*dag_ids.ALL, "fraud_missing"]) == set(dag_ids.ALL)


def test_a_wrong_password_is_one_line_naming_the_server(server: Server) -> None:
    with pytest.raises(AirflowApiError) as raised:
        parsed_dags(AirflowApi(server.base_url, "admin", "wrong"), dag_ids.ALL)
    assert raised.value.status == 401
    assert str(raised.value).startswith(f"POST {server.base_url}/auth/token answered 401: ")
    assert "\n" not in str(raised.value)


def test_a_line_each_time_a_night_succeeds(api: AirflowApi) -> None:
    runs = [
        (dag_id, _create_run(api, dag_id, night))
        for night in range(2)
        for dag_id in dag_ids.NIGHTLY
    ]
    assert {dag_id: run_counts(api, dag_id).succeeded for dag_id in dag_ids.NIGHTLY} == {
        dag_id: 0 for dag_id in dag_ids.NIGHTLY
    }
    pending = list(runs)
    lines: list[str] = []

    def say(line: str) -> None:
        # Each line lets the next run succeed, so every poll after it sees one change more.
        lines.append(line)
        if pending:
            _set_state(api, *pending.pop(0), "success")

    done = wait_for_nights(api, dag_ids.NIGHTLY, 2, 60, say, POLL_SECONDS)
    assert done == {dag_id: 2 for dag_id in dag_ids.NIGHTLY}
    assert lines == [
        "fraud_ingest 0/2 nights, fraud_score 0/2, fraud_drift 0/2",
        "fraud_ingest 1/2 nights, fraud_score 0/2, fraud_drift 0/2",
        "fraud_ingest 1/2 nights, fraud_score 1/2, fraud_drift 0/2",
        "fraud_ingest 1/2 nights, fraud_score 1/2, fraud_drift 1/2",
        "fraud_ingest 2/2 nights, fraud_score 1/2, fraud_drift 1/2",
        "fraud_ingest 2/2 nights, fraud_score 2/2, fraud_drift 1/2",
        "fraud_ingest 2/2 nights, fraud_score 2/2, fraud_drift 2/2",
    ]


def test_the_wait_times_out_saying_what_it_waited_for(api: AirflowApi) -> None:
    with pytest.raises(PipelineRunError, match=r"^timed out after 1s waiting for 9 successful"):
        wait_for_nights(api, dag_ids.NIGHTLY, 9, 1, lambda line: None, POLL_SECONDS)


def test_a_run_is_followed_until_it_succeeds(api: AirflowApi) -> None:
    run_id = _create_run(api, dag_ids.RETRAIN, 10)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        _set_state(api, dag_ids.RETRAIN, run_id, "success")

    assert wait_for_run(api, dag_ids.RETRAIN, run_id, 60, say, POLL_SECONDS) == "success"
    assert lines == [f"fraud_retrain {run_id}: queued", f"fraud_retrain {run_id}: success"]


def test_a_failed_run_stops_the_wait_with_its_logs_link(server: Server, api: AirflowApi) -> None:
    run_id = _create_run(api, dag_ids.RETRAIN, 20)
    _set_state(api, dag_ids.RETRAIN, run_id, "failed")
    link = f"{server.base_url}/dags/fraud_retrain/runs/{urllib.parse.quote(run_id, safe='')}"
    expected = f"fraud_retrain run {run_id} failed: open {link} for its logs"
    with pytest.raises(PipelineRunError) as raised:
        wait_for_nights(api, [dag_ids.RETRAIN], 1, 60, lambda line: None, POLL_SECONDS)
    assert str(raised.value) == expected
    with pytest.raises(PipelineRunError) as raised:
        wait_for_run(api, dag_ids.RETRAIN, run_id, 60, lambda line: None, POLL_SECONDS)
    assert str(raised.value) == expected
