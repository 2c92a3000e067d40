"""The scoring benchmark: our streamed scoring step beside the I/O floor and the to_sql way.

``fraud benchmark scoring --rows N`` creates a scratch database next to the configured warehouse,
fills one day with N transactions and their features, and scores that day three ways, each in
a fresh process so that its peak memory is its own:

- ours: :func:`fraud.score.score_interval` (stream, predict, reason codes for alerts, COPY in),
  with the model compiled as scoring compiles it (:mod:`fraud.compiled`, unless
  ``FRAUD_SCORE_COMPILED`` is false), once before the methods and timed apart;
- the I/O floor: the same select copied out and the same score rows copied in, nothing computed;
- the to_sql way of most tutorials: ``pandas.read_sql``, ``predict``, ``DataFrame.to_sql``.

The day's rows carry real features: a small population is simulated, its features are built by
:mod:`fraud.features`, and those rows are replicated with fresh transaction ids and shifted
customer ids up to N. The model is, by default, the largest a champion can be (the training
search's most leaves, every round), or with ``--model trained`` one trained on the simulated
history as retraining trains a champion, so that prediction and reason codes cost what they
cost in production.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from fraud.compiled import compile_booster
from fraud.config import Settings
from fraud.db import copy_frame, create_warehouse_engine, migrate, server_name, sqlalchemy_url

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd

    from fraud.registry import RegisteredModel

DAY = date(2026, 3, 2)
METHODS = ("ours", "floor", "tutorial")
TITLES = {
    "ours": "ours (score_interval)",
    "floor": "I/O floor (COPY out + COPY in)",
    "tutorial": "to_sql way (read_sql, predict, to_sql)",
}
MODELS = {
    "largest": "the largest a champion can be: the search's most leaves, every round",
    "trained": "trained as retraining trains a champion (search, early stopping)",
}
MODEL_NAME = "fraud-benchmark"
RUN_ID = "benchmark"
_MAINTENANCE_DATABASE = "postgres"
_LONGEST_NAME = 63  # PostgreSQL cuts longer identifiers, which would name another database

_FILL = """
insert into staging.{table} ({columns})
select replica * :base_rows + position + 1, tx_datetime,
       customer_id + replica * :customer_stride, {copied}
from generate_series(0, :replicas - 1) as replica
cross join benchmark_base
where replica * :base_rows + position < :rows
"""


class BenchmarkError(RuntimeError):
    """The benchmark cannot run or a method misbehaved; the message is one line."""


@dataclass(frozen=True)
class MethodFigures:
    """One method's run: wall time, throughput, memory, rows written, machine load at its start."""

    method: str
    seconds: float
    rows_per_second: float
    peak_rss_mib: float
    baseline_rss_mib: float
    rows_written: int
    load_average: tuple[float, float, float]


@dataclass(frozen=True)
class ScoringBenchmark:
    """Every figure of one ``fraud benchmark scoring`` run."""

    rows: int
    chunk_rows: int
    model: str
    trees: int
    num_leaves: int
    base_rows: int
    alerts: int
    generation_seconds: float
    server: str
    scratch_database: str
    kept: bool
    cores: int
    checkpoints: bool
    # Seconds to compile the model for our step, once before the methods (as a nightly run pays
    # it once per model version and machine); None when FRAUD_SCORE_COMPILED is false.
    compile_seconds: float | None
    methods: dict[str, MethodFigures]

    @property
    def ours_to_floor(self) -> float:
        """How many times the I/O floor our step takes."""
        return self.methods["ours"].seconds / self.methods["floor"].seconds

    @property
    def tutorial_to_ours(self) -> float | None:
        """How many times our step the to_sql way takes; None when it was skipped."""
        if "tutorial" not in self.methods:
            return None
        return self.methods["tutorial"].seconds / self.methods["ours"].seconds

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able figures, ratios included."""
        return {
            **{
                name: getattr(self, name) for name in self.__dataclass_fields__ if name != "methods"
            },
            "alert_rate": self.alerts / self.rows,
            "methods": {name: vars(figures) for name, figures in self.methods.items()},
            "ratios": {
                "ours_to_floor": self.ours_to_floor,
                "tutorial_to_ours": self.tutorial_to_ours,
            },
        }


def day_bounds() -> tuple[datetime, datetime]:
    """The benchmarked UTC day as [start, end)."""
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def scratch_url(url: str) -> str:
    """The configured URL pointed at ``<database>_benchmark`` on the same server."""
    parsed = make_url(sqlalchemy_url(url))
    name = f"{parsed.database or _MAINTENANCE_DATABASE}_benchmark"
    if len(name.encode()) > _LONGEST_NAME:
        raise BenchmarkError(f"scratch database name {name!r} is longer than {_LONGEST_NAME} bytes")
    return parsed.set(database=name).render_as_string(hide_password=False)


def _maintenance_engine(url: str) -> Engine:
    """An autocommit engine on the server's ``postgres`` database, to create and drop databases."""
    target = make_url(sqlalchemy_url(url)).set(database=_MAINTENANCE_DATABASE)
    return sa.create_engine(target, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def create_scratch(url: str) -> str:
    """Create the empty scratch database; fail in one line if the role may not or it exists."""
    scratch = scratch_url(url)
    name = make_url(scratch).database
    engine = _maintenance_engine(url)
    try:
        with engine.connect() as connection:
            role, allowed = connection.execute(
                sa.text(
                    "select rolname, rolcreatedb or rolsuper from pg_roles"
                    " where rolname = current_user"
                )
            ).one()
            if not allowed:
                raise BenchmarkError(
                    f"role {role!r} cannot create databases on {server_name(url)}:"
                    " the benchmark needs CREATEDB for its scratch database"
                )
            exists = sa.text("select 1 from pg_database where datname = :name")
            if connection.execute(exists, {"name": name}).first():
                raise BenchmarkError(
                    f"database {name!r} already exists (kept by an earlier --keep?): drop it first"
                )
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.exec_driver_sql(f"create database {quoted}")
    finally:
        engine.dispose()
    return scratch


def drop_scratch(url: str) -> None:
    """Drop the scratch database of ``url``, closing any session still on it."""
    name = make_url(scratch_url(url)).database
    engine = _maintenance_engine(url)
    try:
        with engine.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.exec_driver_sql(f"drop database if exists {quoted} with (force)")
    finally:
        engine.dispose()


def simulate_base(
    customers: int, seed: int, label_delay_days: int, train_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The benchmarked day's feature rows of a simulated population, and labelled training rows."""
    from fraud import features
    from fraud.history import History
    from fraud.simulate import SimulationParams, simulate
    from fraud.train import labelled_features

    day_start, day_end = day_bounds()
    train_end = day_start - timedelta(days=2 * label_delay_days)
    train_start = train_end - timedelta(days=train_days)
    first = features.history_start(train_start, label_delay_days).date()
    simulation = simulate(
        SimulationParams(
            seed=seed,
            n_customers=customers,
            n_terminals=2 * customers,
            start_date=first,
            n_days=(DAY - first).days + 1,
            label_delay_days=float(label_delay_days),
        )
    )
    transactions, labels = simulation.transactions, simulation.labels
    in_day = transactions["tx_datetime"] >= day_start
    day = features.build_features(
        transactions,
        labels[labels["reported_at"] < day_end],
        transactions.loc[in_day, "transaction_id"].to_numpy(),
        label_delay_days,
    )
    day["tx_amount_exact"] = day["tx_amount"].map("{:.2f}".format)
    day["position"] = range(len(day))
    known_by_training = History(transactions, labels[labels["reported_at"] < day_start])
    training = labelled_features(known_by_training, train_start, train_end, label_delay_days)
    return day, training


def train_model(training: pd.DataFrame, kind: str, settings: Settings) -> lgb.Booster:
    """The benchmark's model: the largest a champion can be, or one trained as retraining does."""
    if kind == "trained":
        from fraud.train import fit_models

        seconds = settings.training_time_budget_seconds
        return fit_models(training, seed=settings.random_seed, time_budget_seconds=seconds).booster
    return largest_champion(training, settings.random_seed)


def largest_champion(training: pd.DataFrame, seed: int) -> lgb.Booster:
    """A booster as large as a champion can get: the search's most leaves, all its rounds."""
    import lightgbm as lgb

    from fraud import features
    from fraud.train import SearchSpace, _lightgbm_params

    space = SearchSpace()
    candidate = {
        "num_leaves": max(space.num_leaves),
        "min_child_samples": min(space.min_child_samples),
        "learning_rate": space.learning_rate[0],
        "scale_pos_weight": space.scale_pos_weight[0],
    }
    names = list(features.FEATURE_COLUMNS)
    dataset = lgb.Dataset(training[names], label=training["is_fraud"])
    return lgb.train(_lightgbm_params(candidate, seed), dataset, num_boost_round=space.n_estimators)


def fill(engine: Engine, base: pd.DataFrame, rows: int, customer_stride: int) -> None:
    """Write ``rows`` transactions and feature rows of the day, replicating the base rows."""
    from fraud import features

    names = ", ".join(features.FEATURE_COLUMNS)
    keys = "transaction_id, tx_datetime, customer_id"
    shapes = {
        "transactions": (f"{keys}, terminal_id, tx_amount, run_id", "terminal_id, tx_amount_exact"),
        "transaction_features": (f"{keys}, terminal_id, {names}, run_id", f"terminal_id, {names}"),
    }
    replicas = -(-rows // len(base))
    values = {
        "base_rows": len(base),
        "customer_stride": customer_stride,
        "replicas": replicas,
        "rows": rows,
    }
    columns = [*features.KEY_COLUMNS, *features.FEATURE_COLUMNS, "run_id", "position"]
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "create temporary table benchmark_base"
            " (like staging.transaction_features) on commit drop"
        )
        connection.exec_driver_sql(
            "alter table benchmark_base"
            " add column position bigint, add column tx_amount_exact numeric(12, 2)"
        )
        frame = base.assign(run_id=RUN_ID)[[*columns, "tx_amount_exact"]]
        copy_frame(connection, frame, "benchmark_base")
        for table, (target, copied) in shapes.items():
            statement = _FILL.format(table=table, columns=target, copied=f"{copied}, run_id")
            connection.execute(sa.text(statement), values)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("vacuum analyze staging.transactions")
        connection.exec_driver_sql("vacuum analyze staging.transaction_features")


def empty_scores(engine: Engine) -> bool:
    """Empty the score table and flush dirty pages, so each method starts alike.

    Returns whether the checkpoint ran (it needs superuser or ``pg_checkpoint``).
    """
    with engine.begin() as connection:
        connection.exec_driver_sql("truncate scoring.transaction_scores")
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("checkpoint")
    except sa.exc.DBAPIError:
        return False
    return True


def count_scores(engine: Engine) -> tuple[int, int]:
    """Rows and alerts stored for the benchmarked day."""
    start, end = day_bounds()
    with engine.connect() as connection:
        rows, alerts = connection.execute(
            sa.text(
                "select count(*), count(*) filter (where is_alert)"
                " from scoring.transaction_scores where tx_datetime >= :start and tx_datetime < :end"
            ),
            {"start": start, "end": end},
        ).one()
    return int(rows), int(alerts)


def export_scores(engine: Engine, path: Path) -> None:
    """Write the stored score rows as the CSV the I/O floor copies back in."""
    from fraud.score import SCORE_COLUMNS

    statement = (
        f"copy (select {', '.join(SCORE_COLUMNS)} from scoring.transaction_scores)"
        " to stdout with (format csv)"
    )
    with engine.connect() as connection, path.open("wb") as target:
        with connection.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.copy_expert(statement, target)


def measure_in_subprocess(method: str, spec: dict[str, object]) -> dict[str, float]:
    """Run one method in a fresh Python process and return what it measured."""
    completed = subprocess.run(
        [sys.executable, "-m", "fraud.benchmark"],
        input=json.dumps({**spec, "method": method}),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkError(f"method {method} failed: {last}")
    return json.loads(lines[-1])


def run_scoring_benchmark(
    settings: Settings,
    *,
    rows: int,
    skip_tutorial: bool = False,
    keep: bool = False,
    customers: int = 5000,
    seed: int = 7,
    model: str = "largest",
    progress: Callable[[str], None] = lambda message: None,
) -> ScoringBenchmark:
    """Create the scratch warehouse, fill the day, measure each method, drop the scratch."""
    if rows < 1 or customers < 1:
        raise BenchmarkError("--rows and --customers must be at least 1")
    if model not in MODELS:
        raise BenchmarkError(f"--model must be one of {', '.join(MODELS)}, not {model!r}")
    url = settings.require_database_url()
    scratch = create_scratch(url)
    progress(f"created scratch database {make_url(scratch).database} on {server_name(url)}")
    engine = create_warehouse_engine(scratch)
    try:
        with tempfile.TemporaryDirectory(prefix="fraud-benchmark-") as work:
            started = time.perf_counter()
            migrate(engine)
            base, training = simulate_base(
                customers, seed, settings.label_delay_days, settings.train_days
            )
            booster = train_model(training, model, settings)
            fill(engine, base, rows, customer_stride=int(base["customer_id"].max()))
            generation_seconds = time.perf_counter() - started
            progress(f"generated {rows:,} rows from {len(base):,} in {generation_seconds:.1f} s")
            model_path, csv_path = Path(work) / "model.txt", Path(work) / "scores.csv"
            booster.save_model(model_path)
            compiled_dir = Path(work) / "compiled"
            compile_seconds = None
            if settings.score_compiled:
                import lightgbm

                # From the saved file, as the measuring process loads it: the same cache key.
                started = time.perf_counter()
                compile_booster(lightgbm.Booster(model_file=str(model_path)), compiled_dir)
                compile_seconds = time.perf_counter() - started
                progress(f"compiled the model for our step in {compile_seconds:.1f} s")
            start, end = day_bounds()
            spec = {
                "url": scratch,
                "model_path": str(model_path),
                "compiled_dir": str(compiled_dir) if settings.score_compiled else None,
                "csv_path": str(csv_path),
                "start": start.isoformat(),
                "end": end.isoformat(),
                "chunk_rows": settings.score_chunk_rows,
                "alert_threshold": settings.alert_threshold,
                "alert_top_k": settings.alert_top_k,
            }
            figures: dict[str, MethodFigures] = {}
            alerts, checkpoints = 0, True
            for method in METHODS:
                if method == "tutorial" and skip_tutorial:
                    continue
                checkpoints = empty_scores(engine) and checkpoints
                figures[method] = _run_method(engine, method, spec, rows)
                progress(f"{TITLES[method]}: {figures[method].seconds:.2f} s")
                if method == "ours":
                    alerts = count_scores(engine)[1]
                    export_scores(engine, csv_path)
    finally:
        engine.dispose()
        if not keep:
            drop_scratch(url)
    return ScoringBenchmark(
        rows=rows,
        chunk_rows=settings.score_chunk_rows,
        model=model,
        trees=booster.num_trees(),
        num_leaves=int(booster.params.get("num_leaves", 0)),
        base_rows=len(base),
        alerts=alerts,
        generation_seconds=generation_seconds,
        server=server_name(url),
        scratch_database=str(make_url(scratch).database),
        kept=keep,
        cores=os.cpu_count() or 1,
        checkpoints=checkpoints,
        compile_seconds=compile_seconds,
        methods=figures,
    )


def _run_method(engine: Engine, method: str, spec: dict[str, object], rows: int) -> MethodFigures:
    """Measure one method in its own process and check that it wrote every row."""
    load = os.getloadavg()
    measured = measure_in_subprocess(method, spec)
    written = count_scores(engine)[0]
    if written != rows:
        raise BenchmarkError(f"method {method} wrote {written:,} score rows, expected {rows:,}")
    return MethodFigures(
        method=method,
        seconds=measured["seconds"],
        rows_per_second=rows / measured["seconds"],
        peak_rss_mib=measured["peak_rss_mib"],
        baseline_rss_mib=measured["baseline_rss_mib"],
        rows_written=written,
        load_average=(load[0], load[1], load[2]),
    )


def format_report(report: ScoringBenchmark) -> str:
    """The figures as a small table and the two ratios."""
    lines = [
        f"scoring benchmark: {report.rows:,} rows of one day, chunks of {report.chunk_rows:,} rows,"
        f" {report.cores} cores",
        f"model: LightGBM, {report.trees} trees of up to {report.num_leaves} leaves"
        f" ({report.model}: {MODELS[report.model]})",
        f"data: {report.base_rows:,} simulated feature rows replicated, generated in"
        f" {report.generation_seconds:.1f} s (not measured below); scratch database"
        f" {report.scratch_database} on {report.server} {'kept' if report.kept else 'dropped'}",
        f"{'method':<40}{'seconds':>9}{'rows/s':>11}{'peak RSS MiB':>14}"
        f"{'start RSS MiB':>15}{'rows written':>14}{'load 1 min':>12}",
    ]
    for method, figures in report.methods.items():
        lines.append(
            f"{TITLES[method]:<40}{figures.seconds:>9.2f}{figures.rows_per_second:>11,.0f}"
            f"{figures.peak_rss_mib:>14.0f}{figures.baseline_rss_mib:>15.0f}"
            f"{figures.rows_written:>14,}{figures.load_average[0]:>12.2f}"
        )
    lines.insert(
        2,
        "ours predicts with LightGBM's own predict (FRAUD_SCORE_COMPILED=false)"
        if report.compile_seconds is None
        else "ours predicts with the model compiled by lleaves (compiled once before the methods"
        f" in {report.compile_seconds:.1f} s, as a night pays it once per model version);"
        " reason codes and the to_sql way's scores come from LightGBM",
    )
    ratio = report.tutorial_to_ours
    lines.append(
        f"ours / floor: {report.ours_to_floor:.2f}   to_sql way / ours: "
        + (f"{ratio:.2f}" if ratio is not None else "skipped")
    )
    lines.append(f"alerts (ours): {report.alerts:,} ({report.alerts / report.rows:.2%})")
    return "\n".join(lines)


def _peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB.

    Linux's ``ru_maxrss`` survives ``exec``: a child would report at least the peak of the
    parent it was forked from. ``VmHWM`` belongs to the process's own address space.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _score_ours(engine: Engine, model: RegisteredModel, spec: dict[str, object]) -> None:
    """Our step: :func:`fraud.score.score_interval` with the configured chunk size."""
    from fraud.score import score_interval

    score_interval(
        engine,
        model,
        interval_start=datetime.fromisoformat(str(spec["start"])),
        interval_end=datetime.fromisoformat(str(spec["end"])),
        run_id=RUN_ID,
        alert_threshold=float(spec["alert_threshold"]),  # type: ignore[arg-type]
        alert_top_k=int(spec["alert_top_k"]),  # type: ignore[call-overload]
        chunk_rows=int(spec["chunk_rows"]),  # type: ignore[call-overload]
    )


def _copy_floor(engine: Engine, model: RegisteredModel, spec: dict[str, object]) -> None:
    """The same select copied out and discarded, the prepared score rows copied in, committed."""
    from fraud.score import SCORE_COLUMNS, WHOLE_DAY, features_copy, features_query

    start = datetime.fromisoformat(str(spec["start"]))
    end = datetime.fromisoformat(str(spec["end"]))
    copy_in = (
        f"copy scoring.transaction_scores ({', '.join(SCORE_COLUMNS)}) from stdin with (format csv)"
    )
    with engine.begin() as connection:
        raw = connection.connection.dbapi_connection
        query = features_query(raw, start, end, WHOLE_DAY)
        with open(os.devnull, "wb") as sink, raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.copy_expert(features_copy(query), sink)
        with open(str(spec["csv_path"]), "rb") as source, raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.copy_expert(copy_in, source)


def _score_tutorial(engine: Engine, model: RegisteredModel, spec: dict[str, object]) -> None:
    """The tutorial way: ``read_sql`` the same select, ``predict``, ``to_sql`` append."""
    import pandas as pd

    from fraud.score import WHOLE_DAY, features_query

    start = datetime.fromisoformat(str(spec["start"]))
    end = datetime.fromisoformat(str(spec["end"]))
    with engine.connect() as connection:
        query = features_query(connection.connection.dbapi_connection, start, end, WHOLE_DAY)
    frame = pd.read_sql(query, engine)
    scores = model.booster.predict(frame[model.booster.feature_name()])
    result = frame[["transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount"]]
    result = result.assign(
        score=scores,
        model_name=model.name,
        model_version=model.version,
        is_alert=scores >= float(spec["alert_threshold"]),  # type: ignore[arg-type]
        run_id=RUN_ID,
    )
    result.to_sql("transaction_scores", engine, schema="scoring", if_exists="append", index=False)


def _load_model(spec: dict[str, object]) -> RegisteredModel:
    """The saved booster as the registry hands it over (MLflow loads the same model file).

    Our step also gets the compiled model, read from the cache the parent process filled.
    """
    import lightgbm as lgb

    from fraud.registry import RegisteredModel

    booster = lgb.Booster(model_file=str(spec["model_path"]))
    model = RegisteredModel(MODEL_NAME, 1, RUN_ID, booster)
    if spec["method"] == "ours" and spec.get("compiled_dir"):
        return replace(model, predictor=compile_booster(booster, Path(str(spec["compiled_dir"]))))
    return model


_MEASURES: dict[str, Callable[[Engine, RegisteredModel, dict[str, object]], None]] = {
    "ours": _score_ours,
    "floor": _copy_floor,
    "tutorial": _score_tutorial,
}


def measure(spec: dict[str, object]) -> dict[str, float]:
    """In the child: import and connect first, then time one method and read the peak memory."""
    import lightgbm  # noqa: F401 - every method starts with the same libraries loaded
    import pandas  # noqa: F401
    import pyarrow.csv  # noqa: F401

    import fraud.score  # noqa: F401

    model = _load_model(spec)
    engine = create_warehouse_engine(str(spec["url"]))
    with engine.connect() as connection:
        connection.exec_driver_sql("select 1")
    baseline = _peak_rss_mib()
    started = time.perf_counter()
    _MEASURES[str(spec["method"])](engine, model, spec)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "peak_rss_mib": _peak_rss_mib(), "baseline_rss_mib": baseline}


if __name__ == "__main__":
    print(json.dumps(measure(json.load(sys.stdin))))
