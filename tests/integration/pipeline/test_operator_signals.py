"""What an operator sees of a night: each stage's INFO lines (row counts, chunks, seconds) and the
pipeline's counts sent through Airflow's StatsD metrics.

The stages run on one small day (40 rows, one of them quarantined) with eight days of history.
The metrics test runs ``fraud_ingest`` with ``dag.test()`` in a child process whose Airflow sends
StatsD to a UDP socket of this test: Airflow reads ``[metrics]`` once per process, so the
settings must be in the environment before it starts.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from fraud.bulk import copy_frame
from fraud.config import load_settings
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.nightly import build_share_features
from fraud.gates import GateConfig
from fraud.model.alert_policy import AlertPolicy
from fraud.model.registry import RegisteredModel
from fraud.monitoring.performance import PerformanceConfig, nightly_performance
from fraud.quality.validate import validate_interval
from fraud.scoring.score import mark_top_k, score_share
from fraud.shares import Share

pytestmark = pytest.mark.integration

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
DAY = datetime(2031, 3, 10, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)
ROWS = 40
WINDOW = {"interval_start": DAY, "interval_end": NEXT_DAY}

# The child process: parse the DAGs and run one night of fraud_ingest.
RUN_INGEST = """
import sys
from datetime import datetime, UTC
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
run = bag.dags["fraud_ingest"].test(logical_date=datetime.fromisoformat(sys.argv[2]))
print("run state:", run.state)
"""


def day_frame(day: datetime, first_id: int) -> pd.DataFrame:
    """Clean raw rows spread over one day."""
    return pd.DataFrame(
        {
            "transaction_id": range(first_id, first_id + ROWS),
            "tx_datetime": [
                (day + timedelta(seconds=30 + i * 2_150)).isoformat() for i in range(ROWS)
            ],
            "customer_id": [100 + i % 7 for i in range(ROWS)],
            "terminal_id": [500 + i % 11 for i in range(ROWS)],
            "tx_amount": [f"{10 + i}.25" for i in range(ROWS)],
        }
    )


@pytest.fixture(autouse=True)
def seeded(engine: Engine) -> None:
    """The day (ids 1 to 40, id 4 with a negative amount) and eight clean days before it."""
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "truncate raw.transactions, raw.fraud_labels, staging.transactions,"
            " staging.transaction_features, scoring.transaction_scores, scoring.scored_day,"
            " quality.quarantine, quality.validation_run restart identity"
        )
        for days_before in range(1, 9):
            history = day_frame(DAY - timedelta(days=days_before), days_before * 100 + 1)
            copy_frame(connection, history, "raw.transactions")
        copy_frame(connection, day_frame(DAY, 1), "raw.transactions")
        connection.exec_driver_sql(
            "update raw.transactions set tx_amount = -5 where transaction_id = 4"
        )


def tiny_model() -> RegisteredModel:
    """A booster on the feature columns, enough to score with."""
    names = list(FEATURE_COLUMNS)
    frame = pd.DataFrame(
        [[(row + column) % 5 for column in range(len(names))] for row in range(ROWS)], columns=names
    )
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "min_data_in_leaf": 1, "num_threads": 1},
        lgb.Dataset(frame, [row % 2 for row in range(ROWS)]),
        5,
    )
    return RegisteredModel("signals-test", 7, "run", booster)


def info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.INFO and record.name.startswith("fraud.")
    ]


def test_each_stage_logs_its_counts_chunks_and_seconds(
    engine: Engine, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    model = tiny_model()
    with caplog.at_level(logging.INFO, logger="fraud"):
        validate_interval(
            engine, **WINDOW, run_id="signals", gate=GateConfig(), artifact_dir=tmp_path
        )
        share = Share(0, 1)
        build_share_features(
            engine, **WINDOW, run_id="signals", label_delay_days=3, share=share, chunk_rows=20
        )
        score_share(engine, model, **WINDOW, run_id="signals", chunk_rows=15)
        with engine.begin() as connection:
            policy = AlertPolicy(capacity=3, threshold=0.99)
            alerts = mark_top_k(connection, model, **WINDOW, policy=policy)
        # A week later, the day's labels are seven days old.
        nightly_performance(
            engine,
            PerformanceConfig.of(
                replace(load_settings(), model_name=model.name, performance_maturity_days=(7,))
            ),
            interval_start=DAY + timedelta(days=7),
            interval_end=NEXT_DAY + timedelta(days=7),
        )

    lines = info_lines(caplog)
    seconds = r"\d+\.\d s"
    expected = [
        rf"validated 2031-03-10: 40 extracted, 39 validated, 1 quarantined in {seconds}, batch passed",
        rf"built features of 2031-03-10, share 1/1: 39 rows in 2 chunks from \d+ history rows in {seconds}",
        rf"scored chunk 1 of share 1/1: 15 rows in {seconds}",
        rf"scored chunk 2 of share 1/1: 15 rows in {seconds}",
        rf"scored chunk 3 of share 1/1: 9 rows in {seconds}",
        rf"scored 2031-03-10, share 1/1, with version 7: 39 rows, 3 chunks, {seconds}",
        rf"published 2031-03-10 \(generation 1\), alerts by score: \d+ budget cards of 3,"
        rf" \d+ threshold cards, \d+ payments explained, {alerts} alerts in all, {seconds}",
        rf"performance on 2031-03-17: measured days \['2031-03-10'\], 1 rows written,"
        rf" \d+ under the floor, {seconds}",
    ]

    for pattern in expected:
        assert [line for line in lines if re.match(pattern, line)], (pattern, lines)


@pytest.fixture
def statsd_socket() -> Iterator[socket.socket]:
    """A UDP socket on a free local port, standing in for a StatsD server."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(1.0)
    yield listener
    listener.close()


def received(listener: socket.socket) -> list[str]:
    """Every StatsD line the socket holds, once nothing more arrives for a second."""
    lines: list[str] = []
    while True:
        try:
            lines.extend(listener.recv(65_536).decode().splitlines())
        except TimeoutError:
            return lines


def test_a_night_sends_its_counts_through_airflows_statsd(
    airflow_db, engine: Engine, statsd_socket: socket.socket
) -> None:
    port = statsd_socket.getsockname()[1]
    environment = {
        **os.environ,
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
        "FRAUD_FEATURE_SHARES": "2",
        "PYTHONPATH": os.pathsep.join(
            str(REPOSITORY_ROOT / folder) for folder in ("include", "plugins", ".")
        ),
    }
    child = subprocess.run(
        [sys.executable, "-c", RUN_INGEST, str(REPOSITORY_ROOT / "dags"), NEXT_DAY.isoformat()],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = child.stdout + child.stderr
    assert child.returncode == 0 and "run state: success" in output, output[-4000:]

    lines = received(statsd_socket)
    assert {
        "airflow.fraud.validate.rows_extracted:40|c",
        "airflow.fraud.validate.rows_validated:39|c",
        "airflow.fraud.validate.rows_quarantined:1|c",
    } <= set(lines), lines
    built = [line for line in lines if line.startswith("airflow.fraud.features.rows_built:")]
    assert len(built) == 2, lines
    assert sum(int(line.split(":")[1].removesuffix("|c")) for line in built) == 39
    # The stage's INFO line is in validate_batch's log, as dag.test() prints the task's run.
    task_log = output.split("[DAG TEST] starting task_id=validate_batch")[1]
    task_log = task_log.split("[DAG TEST] end task task_id=validate_batch")[0]
    assert "validated 2031-03-10: 40 extracted, 39 validated, 1 quarantined" in task_log
