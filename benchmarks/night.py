"""The night-at-scale benchmark: one night's real tasks and one retraining on a large warehouse.

``fraud benchmark night --rows-per-day N --history-days H`` creates a scratch database next to
the configured warehouse (``<database>_night``), fills H days of N payments a day inside
PostgreSQL (:mod:`benchmarks.night_data`), and then runs, each in a process of its own as a
worker would run a task (:mod:`benchmarks.night_child`):

1. one retraining with the labels known at the night's start, which registers the champion the
   night scores with (a scratch MLflow store in a temporary folder);
2. the night: ``validate_batch``, ``build_features`` for every share, ``resolve_champion``,
   ``score_partition`` for every share, ``mark_top_k``, ``compute_drift`` and
   ``compute_performance`` (on earlier days' scores filled in for it), with
   ``write_drift_report`` beside them, as the DAGs run them;
3. the feature step's I/O floor, in the same run (:mod:`benchmarks.night_floor`).

It reports each step's seconds and peak memory, and the night's total; the scratch database and
the temporary folder are dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from benchmarks.night_data import Warehouse, fill, fill_scores
from benchmarks.process import BenchmarkError, run_child, scratch_warehouse
from fraud.config import Settings
from fraud.dates import day_interval
from fraud.db import (
    create_warehouse_engine,
    server_name,
)
from fraud.migrations import migrate

MODEL_NAME = "fraud-night-benchmark"
# The steps whose seconds make the night: what must run before analysts read a night's scores.
NIGHT_STEPS = ("validate", "features", "resolve", "score", "top_k", "drift", "performance")


@dataclass(frozen=True)
class StepFigures:
    """One step in its process: seconds of the task itself, wall seconds with the process's start,
    its peak memory, and what the task returned."""

    step: str
    share: int | None
    seconds: float
    wall_seconds: float
    peak_rss_mib: float
    baseline_rss_mib: float
    result: Any = field(repr=False)


@dataclass(frozen=True)
class NightBenchmark:
    """Every figure of one ``fraud benchmark night`` run."""

    rows_per_day: int
    history_days: int
    night: str
    feature_shares: int
    score_shares: int
    feature_chunk_rows: int
    server: str
    scratch_database: str
    kept: bool
    cores: int
    warehouse: Warehouse
    steps: list[StepFigures]
    # The retraining's windows in days; shorter than the settings' when the history is.
    train_days: int
    validation_days: int

    def total(self, names: tuple[str, ...]) -> float:
        """Wall seconds of the named steps, process starts included."""
        return sum(step.wall_seconds for step in self.steps if step.step in names)

    @property
    def night_seconds(self) -> float:
        """The night: validate, features, score, top k, drift and performance, one after the other."""
        return self.total(NIGHT_STEPS)

    @property
    def feature_seconds(self) -> float:
        """The feature step's own seconds, every share."""
        return sum(step.seconds for step in self.steps if step.step == "features")

    @property
    def feature_floor_seconds(self) -> float | None:
        floors = [step for step in self.steps if step.step == "features_floor"]
        return floors[0].result["seconds"] if floors else None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able figures, totals included."""
        floor = self.feature_floor_seconds
        return {
            **{
                name: getattr(self, name)
                for name in self.__dataclass_fields__
                if name not in {"steps", "warehouse"}
            },
            "warehouse": asdict(self.warehouse),
            "steps": [asdict(step) for step in self.steps],
            "night_seconds": self.night_seconds,
            "retraining_seconds": self.total(("retraining",)),
            "feature_seconds": self.feature_seconds,
            "feature_floor_seconds": floor,
            "feature_to_floor": self.feature_seconds / floor if floor else None,
            "largest_nightly_peak_rss_mib": max(
                (step.peak_rss_mib for step in self.steps if step.step in NIGHT_STEPS),
                default=0.0,
            ),
        }


def retraining_windows(settings: Settings, history_days: int) -> tuple[int, int]:
    """The training and validation days a retraining on ``history_days`` of history can have.

    Retraining needs its windows, the gap between them and the labels' maturity before the
    cut-off: the settings' windows when the history holds them, else shorter ones that fit.
    """
    delay = settings.label_delay_days
    if settings.train_days + settings.validation_days + 3 * delay < history_days:
        return settings.train_days, settings.validation_days
    validation = 2
    return max(history_days - validation - 3 * delay - 1, 2), validation


def _step(
    step: str,
    spec: dict[str, Any],
    environment: dict[str, str],
    progress: Callable[[str], None],
    share: int | None = None,
) -> StepFigures:
    """Run one step in a child process and collect its figures."""
    where = "" if share is None else f" share {share}"
    progress(f"{step}{where}: running")
    started = time.perf_counter()
    measured = run_child(
        "benchmarks.night_child", {**spec, "step": step, "share": share}, step, environment
    )
    figures = StepFigures(
        step=step,
        share=share,
        seconds=round(measured["seconds"], 3),
        wall_seconds=round(time.perf_counter() - started, 3),
        peak_rss_mib=round(measured["peak_rss_mib"], 1),
        baseline_rss_mib=round(measured["baseline_rss_mib"], 1),
        result=measured["result"],
    )
    progress(
        f"{step}{where}: {figures.seconds:.1f} s ({figures.wall_seconds:.1f} s with the process),"
        f" peak {figures.peak_rss_mib:.0f} MiB"
    )
    return figures


def run_night_benchmark(
    settings: Settings,
    *,
    rows_per_day: int,
    history_days: int,
    keep: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> NightBenchmark:
    """Create the scratch warehouse, fill it, run the retraining and the night, drop it."""
    if rows_per_day < 1 or history_days < 2:
        raise BenchmarkError("--rows-per-day must be at least 1 and --history-days at least 2")
    url = settings.require_database_url()
    with scratch_warehouse(url, "night", progress, keep=keep) as scratch:
        night = datetime.now(UTC).date() - timedelta(days=1)
        start, end = day_interval(night)
        engine = create_warehouse_engine(scratch)
        steps: list[StepFigures] = []
        try:
            with tempfile.TemporaryDirectory(prefix="fraud-night-") as work:
                folder = Path(work)
                started = time.perf_counter()
                migrate(engine)
                progress(f"migrated the scratch warehouse in {time.perf_counter() - started:.1f} s")
                warehouse = fill(
                    engine,
                    rows_per_day=rows_per_day,
                    history_days=history_days,
                    night=night,
                    progress=progress,
                )
                progress(
                    f"warehouse filled: {warehouse.rows:,} payments in {warehouse.seconds:.0f} s"
                )
                matured = [
                    night - timedelta(days=days)
                    for days in settings.performance_maturity_days
                    if days < history_days
                ]
                started = time.perf_counter()
                scored = fill_scores(engine, MODEL_NAME, matured)
                progress(
                    f"scores for {len(matured)} matured day(s): {scored:,} rows"
                    f" in {time.perf_counter() - started:.1f} s"
                )
                environment = {
                    "FRAUD_DATABASE_URL": scratch,
                    "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
                    "_MLFLOW_SERVER_ARTIFACT_ROOT": str(folder / "mlartifacts"),
                    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
                    "FRAUD_ARTIFACT_DIR": str(folder / "artifacts"),
                    "FRAUD_MODEL_NAME": MODEL_NAME,
                    "GIT_PYTHON_REFRESH": "quiet",
                }
                spec: dict[str, Any] = {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "run_id": f"benchmark__{night}",
                    "shares": settings.feature_shares,
                    "csv_path": str(folder / "features.csv"),
                    "cutoff": start.isoformat(),
                }
                train_days, validation_days = retraining_windows(settings, history_days)
                windows = {
                    "FRAUD_TRAIN_DAYS": str(train_days),
                    "FRAUD_VALIDATION_DAYS": str(validation_days),
                }
                steps.append(_step("retraining", spec, {**environment, **windows}, progress))
                steps.append(_step("validate", spec, environment, progress))
                for share in range(settings.feature_shares):
                    steps.append(_step("features", spec, environment, progress, share))
                steps.append(_step("features_floor", spec, environment, progress))
                resolved = _step("resolve", spec, environment, progress)
                steps.append(resolved)
                version = resolved.result["model_version"]
                score_spec = {**spec, "shares": settings.score_shares, "model_version": version}
                for share in range(settings.score_shares):
                    steps.append(_step("score", score_spec, environment, progress, share))
                steps.append(_step("top_k", score_spec, environment, progress))
                for name in ("drift", "report", "performance"):
                    steps.append(_step(name, spec, environment, progress))
        finally:
            engine.dispose()
    return NightBenchmark(
        rows_per_day=rows_per_day,
        history_days=history_days,
        night=night.isoformat(),
        feature_shares=settings.feature_shares,
        score_shares=settings.score_shares,
        feature_chunk_rows=settings.feature_chunk_rows,
        server=server_name(url),
        scratch_database=str(make_url(scratch).database),
        kept=keep,
        cores=os.cpu_count() or 1,
        warehouse=warehouse,
        steps=steps,
        train_days=train_days,
        validation_days=validation_days,
    )


def format_report(report: NightBenchmark) -> str:
    """The steps as a table, then the night's totals and the feature step against its floor."""
    figures = report.as_dict()
    lines = [
        f"night benchmark: {report.rows_per_day:,} payments a day, {report.history_days} days of"
        f" history ({report.warehouse.rows:,} payments, filled in {report.warehouse.seconds:.0f} s),"
        f" night {report.night}, {report.cores} cores",
        f"shares: {report.feature_shares} for features (chunks of {report.feature_chunk_rows:,}"
        f" rows), {report.score_shares} for scoring; scratch database {report.scratch_database}"
        f" on {report.server} {'kept' if report.kept else 'dropped'}",
        f"{'step':<16}{'share':>6}{'seconds':>10}{'with process':>14}{'peak RSS MiB':>14}",
    ]
    for step in report.steps:
        share = "" if step.share is None else str(step.share)
        lines.append(
            f"{step.step:<16}{share:>6}{step.seconds:>10.1f}{step.wall_seconds:>14.1f}"
            f"{step.peak_rss_mib:>14.0f}"
        )
    lines.append(
        f"retraining: {figures['retraining_seconds']:.1f} s with its process, windows of"
        f" {report.train_days} training and {report.validation_days} validation days"
    )
    lines.append(
        f"night (validate, features, score, top k, drift, performance): "
        f"{figures['night_seconds']:.1f} s with process starts;"
        f" largest peak {figures['largest_nightly_peak_rss_mib']:.0f} MiB"
    )
    floor = figures["feature_floor_seconds"]
    if floor:
        lines.append(
            f"features: {report.feature_seconds:.1f} s, I/O floor {floor:.1f} s"
            f" (ours / floor {figures['feature_to_floor']:.2f})"
        )
    return "\n".join(lines)
