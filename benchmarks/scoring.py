"""The scoring benchmark: the nightly scoring step beside the I/O floor and the to_sql way.

``fraud benchmark scoring --rows N`` creates a scratch database next to the configured warehouse,
fills one day with N transactions and their features (:mod:`benchmarks.scoring_data`), and
scores that day three ways, each in a fresh process so that its peak memory is its own
(:mod:`benchmarks.scoring_child`):

- ours: the path ``fraud_score`` and ``fraud score`` run, every share of the day
  (:func:`fraud.scoring.score.score_share`: stream, predict, reason codes for alerts, COPY in)
  and then the day's top k (:func:`fraud.scoring.score.mark_top_k`), with the model compiled as
  scoring compiles it (:mod:`fraud.scoring.compiled`, unless ``FRAUD_SCORE_COMPILED`` is false),
  once before the methods and timed apart;
- the I/O floor: the same select copied out and the same score rows copied in, nothing computed;
- the to_sql way of most tutorials: ``pandas.read_sql``, ``predict``, ``DataFrame.to_sql``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from benchmarks import process
from benchmarks.process import BenchmarkError, run_child, scratch_warehouse
from benchmarks.scoring_data import day_bounds, fill, simulate_base, train_model
from fraud.bulk import dbapi
from fraud.config import Settings
from fraud.db import (
    create_warehouse_engine,
    server_name,
)
from fraud.migrations import migrate
from fraud.scoring.compiled import compile_booster
from fraud.scoring.predict import SCORE_COLUMNS

# The scratch warehouse is <configured database>_benchmark, on the configured server.
SCRATCH_SUFFIX = "benchmark"
METHODS = ("ours", "floor", "tutorial")
TITLES = {
    "ours": "ours (score_partition + mark_top_k)",
    "floor": "I/O floor (COPY out + COPY in)",
    "tutorial": "to_sql way (read_sql, predict, to_sql)",
}
MODELS = {
    "largest": "the largest a champion can be: the search's most leaves, every round",
    "trained": "trained as retraining trains a champion (search, early stopping)",
}

_EMPTY_SCORES_SQL = "truncate scoring.transaction_scores"
_COUNT_SCORES_SQL = """
select count(*), count(*) filter (where is_alert)
from scoring.transaction_scores
where tx_datetime >= :start and tx_datetime < :end
"""
_EXPORT_SCORES_SQL = f"""
copy (select {", ".join(SCORE_COLUMNS)} from scoring.transaction_scores) to stdout with (format csv)
"""


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


def scratch_url(url: str) -> str:
    """The configured URL pointed at ``<database>_benchmark`` on the same server."""
    return process.scratch_url(url, SCRATCH_SUFFIX)


def empty_scores(engine: Engine) -> bool:
    """Empty the score table and flush dirty pages, so each method starts alike.

    Returns whether the checkpoint ran (it needs superuser or ``pg_checkpoint``).
    """
    with engine.begin() as connection:
        connection.execute(sa.text(_EMPTY_SCORES_SQL))
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
            sa.text(_COUNT_SCORES_SQL), {"start": start, "end": end}
        ).one()
    return int(rows), int(alerts)


def export_scores(engine: Engine, path: Path) -> None:
    """Write the stored score rows as the CSV the I/O floor copies back in."""
    with engine.connect() as connection, path.open("wb") as target:
        with dbapi(connection).cursor() as cursor:
            cursor.copy_expert(_EXPORT_SCORES_SQL, target)


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
    with scratch_warehouse(url, SCRATCH_SUFFIX, progress, keep=keep) as scratch:
        engine = create_warehouse_engine(scratch)
        try:
            with tempfile.TemporaryDirectory(prefix="fraud-benchmark-") as work:
                started = time.perf_counter()
                migrate(engine)
                progress(f"migrated the scratch warehouse in {time.perf_counter() - started:.1f} s")
                phase = time.perf_counter()
                base, training = simulate_base(
                    customers, seed, settings.label_delay_days, settings.train_days
                )
                progress(
                    f"simulated {len(base):,} feature rows to replicate"
                    f" in {time.perf_counter() - phase:.1f} s"
                )
                phase = time.perf_counter()
                booster = train_model(training, model, settings)
                progress(
                    f"{model} model: {booster.num_trees()} trees in {time.perf_counter() - phase:.1f} s"
                )
                phase = time.perf_counter()
                fill(engine, base, rows, customer_stride=int(base["customer_id"].max()))
                progress(f"filled the day in {time.perf_counter() - phase:.1f} s")
                generation_seconds = time.perf_counter() - started
                progress(
                    f"generated {rows:,} rows from {len(base):,} in {generation_seconds:.1f} s"
                )
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
                    "shares": settings.score_shares,
                    "alert_ranking": settings.alert_ranking,
                    "review_capacity": settings.review_capacity,
                    "alert_threshold": settings.alert_threshold,
                    "horizon_days": settings.label_delay_days,
                }
                figures: dict[str, MethodFigures] = {}
                alerts, checkpoints = 0, True
                for method in METHODS:
                    if method == "tutorial" and skip_tutorial:
                        continue
                    progress(f"{TITLES[method]}: measuring")
                    checkpoints = empty_scores(engine) and checkpoints
                    figures[method] = _run_method(engine, method, spec, rows)
                    progress(f"{TITLES[method]}: {figures[method].seconds:.2f} s")
                    if method == "ours":
                        alerts = count_scores(engine)[1]
                        export_scores(engine, csv_path)
        finally:
            engine.dispose()
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
    measured = run_child("benchmarks.scoring_child", {**spec, "method": method}, f"method {method}")
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
