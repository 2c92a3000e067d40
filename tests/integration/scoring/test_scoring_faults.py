"""Scoring under faults: a killed run, a restarted server, overlapping backfills, no registry.

One small simulated bank is validated and feature-built for 31 days, and a small model is
registered as the champion in the session's real MLflow store. Each test then breaks something
the way production breaks it: ``kill -9`` of ``fraud score`` halfway through its writes, a
PostgreSQL restart under a running scoring task (on a throwaway cluster of its own, never the
shared test server), 30 days scored by several processes at once, an MLflow server that is not
there.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pgserver
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import read_frame
from fraud.cli import main
from fraud.config import Settings, load_settings
from fraud.dates import day_interval
from fraud.db import DatabaseError, create_database, create_warehouse_engine, sqlalchemy_url
from fraud.db import warehouse_engine as _engine
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.frames import History
from fraud.features.window import cards_known_at
from fraud.masking import mask_url
from fraud.migrations import migrate
from fraud.model.alert_policy import AlertPolicy, select_alerts
from fraud.model.metrics import KNOWN_CARD_LOOKBACK_DAYS
from fraud.model.registry import RegistryError
from fraud.model.train import labelled_features
from fraud.partitions import ensure_partitions
from fraud.tasks import (
    build_features,
    mark_top_k,
    resolve_champion,
    score_day,
    score_partition,
    validate_batch,
)
from tests.support.bank import simulated_bank
from tests.support.champion import register_champion
from tests.support.dag_test import without_deadlines

pytestmark = pytest.mark.integration

FIRST_DAY = date(2031, 8, 1)
DAYS = 31
# Every day but the first, which only gives the others some history.
SCORED_DAYS = tuple(FIRST_DAY + timedelta(days=offset) for offset in range(1, DAYS))
KILLED_DAY = SCORED_DAYS[-1]
RESTARTED_DAY = SCORED_DAYS[-2]
FRAUD_COMMAND = str(Path(sys.executable).with_name("fraud"))
# One row per chunk: a run writes its day with hundreds of COPYs, one after the other.
ONE_ROW_CHUNKS = "1"
WAIT_SECONDS = 120.0
BACKFILL_WORKERS = 4
BACKFILL_SHARES = 2
# Shortened from the DAG's 30 s so the test does not sit idle; Airflow still applies its backoff.
TEST_RETRY_DELAY = timedelta(seconds=2)
# With MLflow's own client defaults (7 retries, exponential backoff) a refused connection takes
# about four minutes to fail; with the pipeline's (2 retries) about five seconds. The bound leaves
# room for a busy machine starting a Python process.
FAIL_FAST_SECONDS = 60.0

# A transaction that has finished at least one COPY into the scores and not yet committed:
# ``query`` is the last statement it ran, and scoring never runs a COPY of an empty chunk.
_WRITER_HALFWAY = """
select pid from pg_stat_activity
where datname = current_database() and pid <> pg_backend_pid()
  and state = 'idle in transaction' and query ilike 'copy scoring.transaction_scores %'
"""


@dataclass(frozen=True)
class Bank:
    """The module's warehouse, validated and feature-built, with a registered champion."""

    engine: Engine
    url: str
    champion: int


def _bounds(day: date) -> tuple[datetime, datetime]:
    return day_interval(day.isoformat())


def _monitor(url: str) -> Engine:
    """An engine that opens a connection per use, so it never holds a session on the server."""
    return sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)


@pytest.fixture(scope="module")
def bank(warehouse_url: str) -> Iterator[Bank]:
    engine = create_warehouse_engine(warehouse_url)
    simulation = simulated_bank(engine, seed=7, customers=300, first_day=FIRST_DAY, days=DAYS)
    # One batch for the month: the same row checks as nightly batches, without a volume band
    # (there is no earlier history), in a tenth of the time.
    month_start, _ = _bounds(FIRST_DAY)
    validate_batch(month_start, month_start + timedelta(days=DAYS), "seed__month")
    for day in SCORED_DAYS:
        build_features(*_bounds(day), f"seed__{day}")
    history = History(simulation.transactions, simulation.labels)
    start = _bounds(SCORED_DAYS[0])[0]
    training = labelled_features(history, start, start + timedelta(days=10), 3)
    names = list(FEATURE_COLUMNS)
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(training[names], training["is_fraud"]), 30)
    yield Bank(engine, warehouse_url, register_champion(load_settings(), booster))
    engine.dispose()


def _scores(engine: Engine, day: date) -> pd.DataFrame:
    """The day's stored scores in transaction order."""
    start, end = _bounds(day)
    with engine.connect() as connection:
        return read_frame(
            connection,
            "select transaction_id, customer_id, score, is_alert, model_version, run_id"
            " from scoring.transaction_scores"
            " where tx_datetime >= :start and tx_datetime < :end order by transaction_id",
            {"start": start, "end": end},
        )


def _validated_ids(engine: Engine, day: date) -> list[int]:
    """The day's validated transactions: what a complete run scores, once each."""
    start, end = _bounds(day)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select transaction_id from staging.transactions"
                " where tx_datetime >= :start and tx_datetime < :end order by transaction_id"
            ),
            {"start": start, "end": end},
        )
        return [row.transaction_id for row in rows]


def _clear_scores(engine: Engine, day: date) -> None:
    start, end = _bounds(day)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "delete from scoring.transaction_scores"
                " where tx_datetime >= :start and tx_datetime < :end"
            ),
            {"start": start, "end": end},
        )


def _poll(probe: Callable[[], object], what: str, seconds: float = WAIT_SECONDS) -> object:
    """Call ``probe`` until it returns something truthy; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.01)
    raise AssertionError(f"gave up after {seconds:.0f} s waiting for {what}")


def _writer_halfway(monitor: Engine) -> int | None:
    """The backend of a scoring transaction that has copied rows but not committed, if any."""
    with monitor.connect() as connection:
        return connection.execute(sa.text(_WRITER_HALFWAY)).scalar()


def _backend_gone(monitor: Engine, pid: int) -> bool:
    with monitor.connect() as connection:
        count = connection.execute(
            sa.text("select count(*) from pg_stat_activity where pid = :pid"), {"pid": pid}
        ).scalar_one()
    return count == 0


def _assert_complete(scores: pd.DataFrame, validated: list[int], run_ids: set[str]) -> None:
    """Exactly one score per validated transaction, all written by the given runs."""
    assert scores["transaction_id"].tolist() == validated
    assert scores["transaction_id"].is_unique
    assert set(scores["run_id"]) == run_ids


# --- 3. a killed run leaves the day as it was ---------------------------------------------------


@pytest.mark.parametrize("previous", [True, False], ids=["over-a-result", "on-an-empty-day"])
def test_a_killed_run_leaves_the_day_as_it_was_and_a_retry_completes_it(
    bank: Bank, previous: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    day = KILLED_DAY.isoformat()
    validated = _validated_ids(bank.engine, KILLED_DAY)
    _clear_scores(bank.engine, KILLED_DAY)
    if previous:
        assert main(["score", "--date", day]) == 0
    before = _scores(bank.engine, KILLED_DAY)
    assert len(before) == (len(validated) if previous else 0)

    process = subprocess.Popen(
        [FRAUD_COMMAND, "score", "--date", day],
        env={**os.environ, "FRAUD_SCORE_CHUNK_ROWS": ONE_ROW_CHUNKS},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    monitor = _monitor(bank.url)

    def halfway() -> int | None:
        if process.poll() is not None:
            raise AssertionError(f"fraud score ended before the kill: {process.stderr.read()}")
        return _writer_halfway(monitor)

    try:
        backend = _poll(halfway, "fraud score to be halfway through its writes")
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=WAIT_SECONDS)
        _poll(lambda: _backend_gone(monitor, backend), "the server to end the killed backend")
    finally:
        if process.poll() is None:
            process.kill()
        monitor.dispose()
    assert process.returncode == -signal.SIGKILL
    pd.testing.assert_frame_equal(_scores(bank.engine, KILLED_DAY), before)

    capsys.readouterr()
    assert main(["score", "--date", day, "--json"]) == 0
    retry = json.loads(capsys.readouterr().out)
    assert retry["scored_count"] == len(validated)
    assert retry["run_id"] not in set(before["run_id"])
    _assert_complete(_scores(bank.engine, KILLED_DAY), validated, {retry["run_id"]})


# --- 4a. a PostgreSQL restart under a running scoring task ----------------------------------------


@dataclass(frozen=True)
class Cluster:
    """A throwaway PostgreSQL cluster (the ``pgserver`` binaries) that a test may restart."""

    server: pgserver.PostgresServer
    url: str

    def _pg_ctl(self, *arguments: str) -> None:
        """Run ``pg_ctl`` on the cluster as the user ``pgserver`` runs it as (root may not)."""
        pgserver.pg_ctl(list(arguments), pgdata=self.server.pgdata, user=self.server.system_user)

    def stop(self) -> None:
        """Stop the server, ending every session as a fast shutdown does."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start the server again on its own socket, as ``pgserver`` started it."""
        socket_dir = self.server.get_postmaster_info().socket_dir
        log = str(self.server.log)
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", log, "start")


class RestartHalfway(threading.Thread):
    """Restart the cluster as soon as a scoring transaction is halfway through its writes.

    Tasks read ``FRAUD_SCORE_CHUNK_ROWS`` when they start: one-row chunks make the run that is
    cut off slow enough to be caught halfway, and the restart puts back the normal pace.
    """

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(name="restart-halfway", daemon=True)
        self.cluster = cluster
        self.backend: int | None = None
        self.error: BaseException | None = None
        os.environ["FRAUD_SCORE_CHUNK_ROWS"] = ONE_ROW_CHUNKS

    def run(self) -> None:
        monitor = _monitor(self.cluster.url)
        try:
            self.backend = _poll(  # type: ignore[assignment]
                lambda: _writer_halfway(monitor), "a scoring transaction halfway through"
            )
            monitor.dispose()
            self.cluster.stop()
            self.cluster.start()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            self.error = error
        finally:
            os.environ.pop("FRAUD_SCORE_CHUNK_ROWS", None)


def _copy_day(source: Engine, target: Engine, table: str, day: date) -> None:
    """Copy one day of a table between servers with COPY."""
    start, end = _bounds(day)
    buffer = io.StringIO()
    with source.connect() as connection:
        raw = connection.connection.dbapi_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            query = cursor.mogrify(
                f"select * from {table} where tx_datetime >= %s and tx_datetime < %s",
                (start, end),
            ).decode()
            cursor.copy_expert(f"copy ({query}) to stdout", buffer)
    buffer.seek(0)
    with target.begin() as connection:
        raw = connection.connection.dbapi_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.copy_expert(f"copy {table} from stdin", buffer)


@pytest.fixture(scope="module")
def cluster(bank: Bank) -> Iterator[Cluster]:
    """A migrated warehouse on a throwaway cluster, holding the restarted day's validated rows."""
    server = pgserver.get_server(
        Path(tempfile.mkdtemp(prefix="fraud-restart-pg-")), cleanup_mode="delete"
    )
    throwaway = Cluster(server, server.get_uri("fraud"))
    create_database(throwaway.url)
    engine = create_warehouse_engine(throwaway.url)
    migrate(engine)
    ensure_partitions(engine, *_bounds(RESTARTED_DAY))
    for table in ("staging.transactions", "staging.transaction_features"):
        _copy_day(bank.engine, engine, table, RESTARTED_DAY)
    engine.dispose()
    try:
        yield throwaway
    finally:
        _engine.cache_clear()
        # After a restart pgserver no longer knows the server's process: stop it here.
        throwaway.stop()
        server.cleanup()


@pytest.fixture
def on_the_cluster(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Point the pipeline at the throwaway cluster; yield an engine that watches it."""
    monkeypatch.setenv("FRAUD_DATABASE_URL", cluster.url)
    monkeypatch.delenv("FRAUD_SCORE_CHUNK_ROWS", raising=False)  # restored after the test
    _engine.cache_clear()
    monitor = _monitor(cluster.url)
    yield monitor
    monitor.dispose()
    _engine.cache_clear()


def test_a_restart_fails_the_task_with_one_line_and_its_retry_completes_the_day(
    bank: Bank, cluster: Cluster, on_the_cluster: Engine
) -> None:
    """The task callable, called again as Airflow's retry would call it, in the same process.

    The same process matters: the retry reuses the engine whose pooled connections the restart
    broke, and must get working ones.
    """
    start, end = _bounds(RESTARTED_DAY)
    validated = _validated_ids(on_the_cluster, RESTARTED_DAY)
    score_day(start, end, "before-the-restart")
    before = _scores(on_the_cluster, RESTARTED_DAY)

    restart = RestartHalfway(cluster)
    restart.start()
    with pytest.raises(DatabaseError) as failure:
        score_day(start, end, "cut-off-by-the-restart")
    restart.join(WAIT_SECONDS)
    assert restart.error is None and restart.backend is not None

    message = str(failure.value)
    assert message.startswith(f"database error on {mask_url(sqlalchemy_url(cluster.url))}: ")
    assert "\n" not in message
    pd.testing.assert_frame_equal(_scores(on_the_cluster, RESTARTED_DAY), before)

    retry = score_day(start, end, "retry-after-the-restart")
    assert retry["scored_count"] == len(validated)
    _assert_complete(_scores(on_the_cluster, RESTARTED_DAY), validated, {"retry-after-the-restart"})


@pytest.fixture(scope="module")
def dags(airflow_db: None) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[3] / "dags"))
    assert bag.import_errors == {}
    return without_deadlines(bag.dags)


def _tries(run_id: str) -> pd.DataFrame:
    """Every try of the run's ``score_partition`` task instances, earlier tries included."""
    engine = _monitor(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    columns = "map_index, try_number, state, start_date, end_date"
    with engine.connect() as connection:
        frame = read_frame(
            connection,
            f"select {columns} from task_instance_history"
            " where dag_id = 'fraud_score' and run_id = :run_id and task_id = 'score_partition'"
            f" union all select {columns} from task_instance"
            " where dag_id = 'fraud_score' and run_id = :run_id and task_id = 'score_partition'"
            " order by map_index, try_number",
            {"run_id": run_id},
        )
    engine.dispose()
    return frame


def test_airflow_retries_the_share_a_restart_cut_off_after_its_backoff(
    bank: Bank, cluster: Cluster, on_the_cluster: Engine, dags: dict
) -> None:
    """The real ``fraud_score`` DAG under ``dag.test()``, which honours retries and their delay.

    ``dag.test()`` (Airflow 3.3.2) reschedules an ``up_for_retry`` task instance once the
    scheduler's own ``next_retry_datetime`` (exponential backoff included) has passed. Only the
    base delay is shortened here; the DAG's declared policy is checked as it stands.
    """
    dag = dags["fraud_score"]
    shares = dag.get_task("score_partition")
    assert shares.retries >= 1 and shares.retry_exponential_backoff
    assert shares.retry_delay == timedelta(seconds=30)
    for task in dag.tasks:
        task.retry_delay = TEST_RETRY_DELAY
    _clear_scores(on_the_cluster, RESTARTED_DAY)
    validated = _validated_ids(on_the_cluster, RESTARTED_DAY)

    restart = RestartHalfway(cluster)
    restart.start()
    run = dag.test(logical_date=_bounds(RESTARTED_DAY)[1], mark_success_pattern="wait_for_ingest")
    restart.join(WAIT_SECONDS)
    assert restart.error is None and restart.backend is not None

    assert str(run.state) == "success"
    tries = _tries(run.run_id)
    retried = tries[tries["try_number"] > 1]
    assert not retried.empty
    for row in retried.itertuples():
        first = tries[(tries["map_index"] == row.map_index) & (tries["try_number"] == 1)].iloc[0]
        assert first.state in {"up_for_retry", "failed"}
        assert row.state == "success"
        assert row.start_date - first.end_date >= TEST_RETRY_DELAY
    _assert_complete(_scores(on_the_cluster, RESTARTED_DAY), validated, {run.run_id})


# --- 4b. a backfill of 30 days by several runs at once --------------------------------------------


@dataclass
class Run:
    """One run of one day: the whole day in one task, or its shares and then the day's top k."""

    day: date
    run_id: str
    shares: int

    def first_tasks(self, version: int) -> list[tuple[Callable[..., dict], tuple]]:
        """The calls that start the run, as Airflow's workers would make them."""
        start, end = _bounds(self.day)
        if self.shares == 1:
            return [(score_day, (start, end, self.run_id))]
        return [
            (score_partition, (start, end, self.run_id, index, self.shares, version))
            for index in range(self.shares)
        ]

    def last_task(self, version: int) -> tuple[Callable[..., dict], tuple]:
        """The top k of the day, once every share is in."""
        start, end = _bounds(self.day)
        return mark_top_k, (start, end, version)


def _backfill_runs() -> list[Run]:
    """Per day a run in shares and a whole-day run, and every third day a re-run in shares,
    queued one day after the other so that runs of the same day overlap."""
    runs: list[Run] = []
    for number, day in enumerate(SCORED_DAYS):
        runs.append(Run(day, f"backfill__{day}__shares", BACKFILL_SHARES))
        runs.append(Run(day, f"backfill__{day}__whole", 1))
        if number % 3 == 0:
            runs.append(Run(day, f"backfill__{day}__again", BACKFILL_SHARES))
    return runs


def _run_concurrently(runs: list[Run], version: int, workers: int) -> list[str]:
    """Run every task in a pool of worker processes, at most ``workers`` at once; return errors.

    A run's top-k task joins the front of the queue when its last share finishes, so it runs
    beside later runs' shares of the same or the next days, as Airflow would schedule it.
    """
    queue = deque((run, task) for run in runs for task in run.first_tasks(version))
    shares_left = {run.run_id: run.shares for run in runs if run.shares > 1}
    running: dict[Future, Run] = {}
    errors: list[str] = []
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        while queue or running:
            while queue and len(running) < workers:
                run, (function, arguments) = queue.popleft()
                running[pool.submit(function, *arguments)] = run
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                run = running.pop(future)
                if (error := future.exception()) is not None:
                    errors.append(f"{run.run_id}: {type(error).__name__}: {error}")
                elif run.run_id in shares_left:
                    shares_left[run.run_id] -= 1
                    if shares_left[run.run_id] == 0:
                        del shares_left[run.run_id]
                        queue.appendleft((run, run.last_task(version)))
    return errors


def _expected_alerts(
    engine: Engine, day: date, scores: pd.DataFrame, settings: Settings
) -> set[int]:
    """Every payment of the cards the policy alerts, in memory (cards known before the night
    left out)."""
    start = day_interval(day)[0]
    with engine.connect() as connection:
        since = start - timedelta(days=KNOWN_CARD_LOOKBACK_DAYS)
        known = cards_known_at(connection, since=since, before=start)
    alerts = select_alerts(scores, AlertPolicy.of(settings), left_out=set(known.index))
    return set(scores.loc[scores["customer_id"].isin(alerts["customer_id"]), "transaction_id"])


def test_a_backfill_of_30_days_by_overlapping_runs_scores_each_transaction_once(
    bank: Bank,
) -> None:
    """Concurrent task callables in separate processes stand in for Airflow's backfill.

    ``airflow backfill create`` only queues DAG runs for a scheduler and its executor to run,
    each task in a process of its own; what keeps overlapping runs apart is in the database
    (advisory locks, one transaction per task), so the same calls in worker processes test it
    without a scheduler. Every run in shares uses the same share count (runs of one day with
    different counts are not serialised, as ``fraud.scoring.generations`` says).
    """
    settings = load_settings()
    for day in SCORED_DAYS:
        _clear_scores(bank.engine, day)
    runs = _backfill_runs()

    errors = _run_concurrently(runs, bank.champion, BACKFILL_WORKERS)

    assert errors == []
    for day in SCORED_DAYS:
        scores = _scores(bank.engine, day)
        day_runs = {run.run_id for run in runs if run.day == day}
        assert scores["transaction_id"].tolist() == _validated_ids(bank.engine, day), day
        assert set(scores["run_id"]) <= day_runs, day
        assert set(scores.loc[scores["is_alert"], "transaction_id"]) == _expected_alerts(
            bank.engine, day, scores, settings
        ), day
    with bank.engine.connect() as connection:
        mixed_shares = connection.execute(
            sa.text(
                "select (tx_datetime at time zone 'UTC')::date,"
                " staging.share_of(customer_id, :shares)"
                " from scoring.transaction_scores group by 1, 2 having count(distinct run_id) > 1"
            ),
            {"shares": BACKFILL_SHARES},
        ).all()
    assert mixed_shares == []


# --- 4c. no MLflow server -------------------------------------------------------------------------


@pytest.fixture
def unreachable_registry(monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the tracking URI, with a password, at a loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://fraud:hunter2@127.0.0.1:{port}")
    for variable in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(variable, raising=False)  # the pipeline's defaults, restored after
    return f"MLflow registry at http://fraud:***@127.0.0.1:{port} is unreachable: "


def test_resolving_the_champion_without_a_registry_fails_fast_in_one_masked_line(
    unreachable_registry: str,
) -> None:
    started = time.monotonic()
    with pytest.raises(RegistryError) as failure:
        resolve_champion()
    elapsed = time.monotonic() - started
    message = str(failure.value)
    assert message.startswith(unreachable_registry)
    assert "connection refused" in message.lower()
    assert "\n" not in message and "hunter2" not in message
    assert elapsed < FAIL_FAST_SECONDS


def test_fraud_score_without_a_registry_fails_fast_in_one_masked_line(
    bank: Bank, unreachable_registry: str
) -> None:
    before = _scores(bank.engine, KILLED_DAY)
    started = time.monotonic()
    result = subprocess.run(
        [FRAUD_COMMAND, "score", "--date", KILLED_DAY.isoformat()],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=WAIT_SECONDS,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"fraud: RegistryError: {unreachable_registry}")
    assert result.stderr.count("\n") == 1 and "hunter2" not in result.stderr
    assert elapsed < FAIL_FAST_SECONDS
    pd.testing.assert_frame_equal(_scores(bank.engine, KILLED_DAY), before)
