"""``fraud_score``'s deadline alert with real Airflow: the scheduler and the triggerer as processes,
an Airflow metadata database of this module's own, the real warehouse; only Slack is a local
webhook server standing in for Slack's.

A child process parses the DAGs, stores them as the DAG processor would, and creates three runs
of ``fraud_score`` through the serialized DAG's ``create_dagrun``, the call the scheduler, a
backfill and a trigger all make: a scheduled run whose day's deadline (the default, 6 hours after
the day ends) passes 20 seconds after it is created; a catch-up run created an hour after its
day's deadline; and a manual run created before its day's deadline that rescores a chosen day.
``fraud_score`` stays paused, so no task runs and nothing is published: the first run misses its
deadline while the test waits, the scheduler queues the callback, the triggerer runs it, and the
alert lands in ``monitoring.alerts``, on Slack and on the monitoring page. The other two runs get
no deadline at all, so they can raise nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import load_settings
from fraud.dashboard.data import load_dashboard
from fraud.local.services import terminate_processes
from fraud.monitoring.alerts import AlertKind
from tests.support.slack import Webhook, slack_webhook

pytestmark = pytest.mark.integration

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DEADLINE_HOURS = 6.0
# The on-time run's deadline passes this long after the test creates it.
MARGIN = timedelta(seconds=20)
ALERT_SECONDS = 300.0

# The child process: store the DAGs as the DAG processor would, keep fraud_score paused, and
# create the three runs; print each run's id and the deadlines Airflow stored for it.
CREATE_RUNS = """
import json, sys
from datetime import UTC, datetime, timedelta
from sqlalchemy import select
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.models import DagModel, DagRun, Deadline
from airflow.models.serialized_dag import SerializedDagModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunTriggeredByType, DagRunType

manager = DagBundlesManager()
manager.sync_bundles_to_db()
for bundle in manager.get_all_dag_bundles():
    bundle.initialize()
    bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, bundle.name, bundle.version)
runs = json.loads(sys.argv[1])
with create_session() as session:
    session.get(DagModel, "fraud_score").is_paused = True
    session.flush()
    dag = SerializedDagModel.get_dag("fraud_score", session=session)
    out = {}
    now = datetime.now(UTC)
    for name, run in runs.items():
        end = now + timedelta(seconds=run["end_from_now"])
        start = end - timedelta(days=1)
        created = dag.create_dagrun(
            run_id=f"{run['type']}__{name}",
            logical_date=start,
            data_interval=(start, end),
            run_after=end,
            conf=run["conf"],
            run_type=DagRunType(run["type"]),
            triggered_by=DagRunTriggeredByType.TEST,
            state=DagRunState.RUNNING,
            session=session,
        )
        session.flush()
        deadlines = session.scalars(select(Deadline).where(Deadline.dagrun_id == created.id))
        out[name] = {
            "run_id": created.run_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "deadlines": [deadline.deadline_time.isoformat() for deadline in deadlines],
        }
print(json.dumps(out))
"""


def _environment(slack: Webhook) -> dict[str, str]:
    """The test's environment (its databases, DAG and plugin folders) for Airflow's processes."""
    given_path = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    paths = [str(REPOSITORY_ROOT / "include"), str(REPOSITORY_ROOT / "plugins")]
    return {
        **os.environ,
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # Only the runs this test creates: no run of the schedule.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW_CONN_FRAUD_SLACK": slack.connection(),
        "FRAUD_SCORES_DEADLINE_HOURS": str(DEADLINE_HOURS),
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([*paths, str(REPOSITORY_ROOT), *given_path])),
    }


@pytest.fixture(scope="module")
def slack() -> Iterator[Webhook]:
    with slack_webhook() as webhook:
        yield webhook


@pytest.fixture(scope="module")
def airflow(
    own_airflow_db: str, warehouse_url: str, slack: Webhook, tmp_path_factory
) -> Iterator[Callable[[dict], dict]]:
    """A scheduler and a triggerer on this module's metadata database; yields a function that
    creates runs (in a child process) and returns what Airflow stored for them."""
    logs = tmp_path_factory.mktemp("deadline-components")
    env = _environment(slack)
    started: list[subprocess.Popen] = []
    for name in ("scheduler", "triggerer"):
        with (logs / f"{name}.log").open("ab") as log:
            command = [str(BIN / "airflow"), name, "--skip-serve-logs"]
            started.append(
                subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    def create_runs(runs: dict) -> dict:
        created = subprocess.run(
            [sys.executable, "-c", CREATE_RUNS, json.dumps(runs)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert created.returncode == 0, created.stderr[-4000:]
        return json.loads(created.stdout.strip().splitlines()[-1])

    try:
        yield create_runs
    finally:
        processes = []
        for process in started:
            try:
                parent = psutil.Process(process.pid)
                processes += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        terminate_processes(processes, 20.0)
    for process in started:
        assert process.poll() is not None, f"{process.args} outlived the test"


def _deadline_alerts(engine: Engine) -> list[sa.Row]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "select kind, severity, dag_id, run_id, message, details"
                    " from monitoring.alerts where kind = :kind order by alert_id"
                ),
                {"kind": AlertKind.DEADLINE_MISSED.value},
            )
        )


def test_a_missed_deadline_alerts_once_and_runs_created_after_theirs_never(
    engine: Engine, airflow: Callable[[dict], dict], slack: Webhook
) -> None:
    # Each run's day ends this many seconds from the moment the runs are created.
    due = timedelta(hours=DEADLINE_HOURS)
    on_time = (MARGIN - due).total_seconds()
    runs = {
        "on_time": {"end_from_now": on_time, "type": "scheduled", "conf": {}},
        "catch_up": {"end_from_now": on_time - 3600 - 60, "type": "scheduled", "conf": {}},
        "rescoring": {
            "end_from_now": on_time + 1,
            "type": "manual",
            "conf": {"date": "2026-02-01", "model_version": None},
        },
    }
    stored = airflow(runs)

    # Only the run created before its day's deadline carries one, at the day's end + 6 hours.
    assert stored["catch_up"]["deadlines"] == [] and stored["rescoring"]["deadlines"] == []
    (deadline,) = stored["on_time"]["deadlines"]
    assert (
        datetime.fromisoformat(deadline) == datetime.fromisoformat(stored["on_time"]["end"]) + due
    )
    assert _deadline_alerts(engine) == [], "the deadline has not passed yet"

    waited_until = time.monotonic() + MARGIN.total_seconds() + ALERT_SECONDS
    while not _deadline_alerts(engine) and time.monotonic() < waited_until:
        time.sleep(2)
    time.sleep(10)  # any second alert, for this run or the others, would have landed by now

    alerts = _deadline_alerts(engine)
    assert [(alert.dag_id, alert.run_id) for alert in alerts] == [
        ("fraud_score", stored["on_time"]["run_id"])
    ]
    (alert,) = alerts
    day = datetime.fromisoformat(stored["on_time"]["start"])
    assert alert.severity == "critical"
    assert alert.message.startswith(f"Scores of {day:%Y-%m-%d} not published by ")
    assert alert.details["run_url"].endswith(f"/dags/fraud_score/runs/{alert.run_id}")
    assert alert.details["run_state"] == "running" and alert.details["run_type"] == "scheduled"
    assert alert.details["run_url"] in alert.message

    # The same alert on Slack, through the notifier the task failures use, and on the page.
    assert len(slack.texts) == 1 and "deadline_missed" in slack.texts[0]
    assert alert.details["run_url"] in slack.texts[0]
    page = load_dashboard(engine, load_settings())
    assert [shown.kind for shown in page.alerts] == [AlertKind.DEADLINE_MISSED.value]
