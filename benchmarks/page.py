"""The monitoring page's benchmark: reading and rendering the page over a warehouse of many nights.

``fraud benchmark page --rows-per-day N --nights D`` creates a scratch database next to the
configured warehouse (``<database>_page``), migrates it and fills, inside PostgreSQL, what the
page reads: D nights of N scores each (the day's first ``--alerts-per-day`` rows are its alerts,
with reason codes; a night's generation published in ``scoring.scored_day`` as scoring does),
fraud labels for a third of the alerts and a fifth of a percent of the rest, reported seven days
later, the PSI of 20 features and the score every night, the performance rows at 7, 14 and 30
days, a validation run and its quarantined rows per night, decisions and pipeline alerts. It
then runs ``load_dashboard`` (as ``fraud_analyst``, through the page's own engine) and
``render_page`` ``--renders`` times after one warm-up, and reports each one's median, fastest
and slowest milliseconds. The scratch database is dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from benchmarks.process import BenchmarkError, scratch_warehouse
from fraud.config import Settings
from fraud.dashboard.data import analyst_engine, load_dashboard
from fraud.dashboard.html import render_page
from fraud.db import (
    create_warehouse_engine,
    server_name,
)
from fraud.migrations import migrate

_ENSURE_PARTITIONS_SQL = "select staging.ensure_day_partitions(:day)"
_PUBLISH_DAY_SQL = "insert into scoring.scored_day (tx_date, generation) values (:day, 1)"
_VACUUM_SQL = "vacuum analyze"

MODEL_NAME = "fraud-page-benchmark"
FEATURES = 20
QUARANTINE_SHARE = 0.0005

_SCORES_SQL = """
insert into scoring.transaction_scores (
    transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, score, model_name,
    model_version, is_alert, reason_1, reason_1_contribution, reason_2, reason_2_contribution,
    reason_3, reason_3_contribution, run_id, generation
)
select
    g.id,
    :start + (g.id % :rows) * (interval '1 day' / :rows),
    g.id % :customers,
    g.id % 10007,
    round((5 + random() * 200)::numeric, 2),
    case when alert then 0.5 + random() * 0.5 else 0.5 * power(random(), 4) end,
    :model_name, 2, alert,
    case when alert then 'terminal_fraud_risk_7d' end, case when alert then 1.2 end,
    case when alert then 'customer_amount_mean_1d' end, case when alert then 0.6 end,
    case when alert then 'tx_amount' end, case when alert then 0.2 end,
    :run_id, 1
from (
    select id, id % :rows < :alerts as alert
    from generate_series(:first_id, :first_id + :rows - 1) as id
) as g
"""

_LABELS_SQL = """
insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)
select transaction_id, true, tx_datetime + interval '7 days'
from scoring.transaction_scores
where (is_alert and random() < 0.33) or (not is_alert and random() < 0.002)
"""

_DRIFT_SQL = """
insert into monitoring.feature_drift (drift_date, model_name, model_version, feature, psi, band,
    rows_compared, reference_rows, report_path, run_id)
select :day, :model_name, 2, feature, psi,
    case when psi >= 0.25 then 'alert' when psi >= 0.1 then 'warning' else 'stable' end,
    :rows, 200000, null, :run_id
from (
    select feature, round((random() * random() * 0.3)::numeric, 4)::double precision as psi
    from unnest(cast(:features as text[])) as feature
) as columns
"""

_PERFORMANCE_SQL = """
insert into monitoring.model_performance (date, model_name, model_version, maturity_days,
    transactions, frauds_known, average_precision, card_precision_at_100, recall_top_decile,
    alert_precision)
values (:day, :model_name, 2, :maturity, :rows, :frauds, 0.45 + random() * 0.3,
    0.2 + random() * 0.1, 0.6 + random() * 0.2, 0.2 + random() * 0.2)
"""

_VALIDATION_SQL = """
insert into quality.validation_run (run_id, data_interval_start, data_interval_end, status,
    extracted_count, validated_count, quarantined_count)
values (:run_id, :start, :end, 'passed', :rows, :rows - :quarantined, :quarantined)
"""

_QUARANTINE_SQL = """
insert into quality.quarantine (transaction_id, tx_datetime, source_row, failed_expectations,
    run_id, data_interval_start, data_interval_end)
select -id, :start, jsonb_build_object('transaction_id', -id, 'tx_amount', -1),
    array['transactions.expect_column_values_to_be_between(tx_amount)'], :run_id, :start, :end
from generate_series(1, :quarantined) as id
"""

_DECISIONS_SQL = """
insert into monitoring.model_decisions (model_name, challenger_version, champion_version,
    decision, reason, challenger_metrics, evaluation_start, evaluation_end, decided_at)
values
    (:model_name, 1, null, 'bootstrapped', 'first version', '{"average_precision": 0.6}',
     :start, :start, :start),
    (:model_name, 2, 1, 'promoted', 'better on the same window', '{"average_precision": 0.7}',
     :start, :start, :start + interval '30 days')
"""

_ALERTS_SQL = """
insert into monitoring.alerts (kind, severity, message, dag_id, task_id, raised_at)
select 'drift', 'warning', 'score in the PSI alert band', 'fraud_drift', 'request_retraining',
    :start + id * interval '1 day'
from generate_series(1, 20) as id
"""


@dataclass(frozen=True)
class Timings:
    """Milliseconds of each measured run of one step."""

    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_dict(self) -> dict[str, float]:
        return {"median_ms": self.median, "min_ms": min(self.runs), "max_ms": max(self.runs)}


@dataclass(frozen=True)
class PageBenchmark:
    """Every figure of one ``fraud benchmark page`` run."""

    rows_per_day: int
    nights: int
    alerts_per_day: int
    renders: int
    scores: int
    fill_seconds: float
    page_bytes: int
    load: Timings
    render: Timings
    total: Timings
    server: str
    scratch_database: str
    kept: bool
    cpu: str
    cores: int
    load_average: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        for name in ("load", "render", "total"):
            figures[name] = getattr(self, name).as_dict()
        return figures


def fill(
    engine: Engine,
    *,
    rows_per_day: int,
    nights: int,
    alerts_per_day: int,
    today: date,
    progress: Callable[[str], None],
) -> int:
    """Fill the nights before ``today`` with what the page reads; return the scores written."""
    customers = max(rows_per_day // 4, 1)
    features = [f"feature_{index:02d}" for index in range(FEATURES)] + ["score"]
    quarantined = max(int(rows_per_day * QUARANTINE_SHARE), 1)
    first = today - timedelta(days=nights)
    for index in range(nights):
        day = first + timedelta(days=index)
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        names = {"model_name": MODEL_NAME, "run_id": f"benchmark__{day}", "day": day}
        bounds = {"start": start, "end": start + timedelta(days=1)}
        with engine.begin() as connection:
            connection.execute(sa.text(_ENSURE_PARTITIONS_SQL), names)
        with engine.begin() as connection:
            connection.execute(
                sa.text(_SCORES_SQL),
                {
                    **names,
                    **bounds,
                    "rows": rows_per_day,
                    "alerts": alerts_per_day,
                    "customers": customers,
                    "first_id": index * rows_per_day,
                },
            )
            connection.execute(
                sa.text(_PUBLISH_DAY_SQL),
                names,
            )
            connection.execute(
                sa.text(_DRIFT_SQL), {**names, "rows": rows_per_day, "features": features}
            )
            for maturity in (7, 14, 30):
                if day + timedelta(days=maturity) < today:
                    connection.execute(
                        sa.text(_PERFORMANCE_SQL),
                        {**names, "maturity": maturity, "rows": rows_per_day, "frauds": 60},
                    )
            counts = {**names, **bounds, "rows": rows_per_day, "quarantined": quarantined}
            connection.execute(sa.text(_VALIDATION_SQL), counts)
            connection.execute(sa.text(_QUARANTINE_SQL), counts)
        if (index + 1) % 10 == 0 or index + 1 == nights:
            progress(f"filled {index + 1} of {nights} nights")
    with engine.begin() as connection:
        connection.execute(sa.text(_LABELS_SQL))
        start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        connection.execute(sa.text(_DECISIONS_SQL), {"model_name": MODEL_NAME, "start": start})
        connection.execute(sa.text(_ALERTS_SQL), {"start": start})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(_VACUUM_SQL)
    return rows_per_day * nights


def run_page_benchmark(
    settings: Settings,
    *,
    rows_per_day: int,
    nights: int,
    alerts_per_day: int,
    renders: int,
    keep: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> PageBenchmark:
    """Create and fill the scratch warehouse, time the page ``renders`` times, drop it."""
    if rows_per_day < 1 or nights < 1 or renders < 1 or not 0 < alerts_per_day <= rows_per_day:
        raise BenchmarkError(
            "--rows-per-day, --nights and --renders must be at least 1, --alerts-per-day"
            " between 1 and --rows-per-day"
        )
    url = settings.require_database_url()
    with scratch_warehouse(url, "page", progress, keep=keep) as scratch:
        today = datetime.now(UTC).date()
        page_settings = replace(settings, model_name=MODEL_NAME)
        engine = create_warehouse_engine(scratch)
        reader = analyst_engine(scratch)
        load: list[float] = []
        render: list[float] = []
        try:
            migrate(engine)
            started = time.perf_counter()
            scores = fill(
                engine,
                rows_per_day=rows_per_day,
                nights=nights,
                alerts_per_day=alerts_per_day,
                today=today,
                progress=progress,
            )
            fill_seconds = time.perf_counter() - started
            progress(f"warehouse filled: {scores:,} scores in {fill_seconds:.0f} s")
            for attempt in range(renders + 1):  # the first warms the pool and the caches
                started = time.perf_counter()
                dashboard = load_dashboard(reader, page_settings, today)
                loaded = time.perf_counter()
                page = render_page(dashboard, None, datetime.now(UTC))
                rendered = time.perf_counter()
                if attempt:
                    load.append((loaded - started) * 1000)
                    render.append((rendered - loaded) * 1000)
        finally:
            reader.dispose()
            engine.dispose()
    return PageBenchmark(
        rows_per_day=rows_per_day,
        nights=nights,
        alerts_per_day=alerts_per_day,
        renders=renders,
        scores=scores,
        fill_seconds=round(fill_seconds, 1),
        page_bytes=len(page.encode()),
        load=Timings(load),
        render=Timings(render),
        total=Timings([first + second for first, second in zip(load, render, strict=True)]),
        server=server_name(url),
        scratch_database=str(make_url(scratch).database),
        kept=keep,
        cpu=_cpu(),
        cores=os.cpu_count() or 1,
        load_average=tuple(round(value, 2) for value in os.getloadavg()),
    )


def _cpu() -> str:
    """The processor's model name where Linux reports it."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_report(report: PageBenchmark) -> str:
    """The warehouse, then the milliseconds of loading, rendering and both."""
    lines = [
        f"page benchmark: {report.nights} nights of {report.rows_per_day:,} scores"
        f" ({report.scores:,}, {report.alerts_per_day} alerts a night), filled in"
        f" {report.fill_seconds:.0f} s; {report.cores} cores, {report.cpu}",
        f"scratch database {report.scratch_database} on {report.server}"
        f" {'kept' if report.kept else 'dropped'}; page {report.page_bytes:,} bytes;"
        f" load average after {' '.join(f'{value:.2f}' for value in report.load_average)}",
        f"{'step':<24}{'median ms':>12}{'min ms':>10}{'max ms':>10}  over {report.renders} runs",
    ]
    for name, timings in (
        ("load_dashboard", report.load),
        ("render_page", report.render),
        ("both", report.total),
    ):
        figures = timings.as_dict()
        lines.append(
            f"{name:<24}{figures['median_ms']:>12.1f}{figures['min_ms']:>10.1f}"
            f"{figures['max_ms']:>10.1f}"
        )
    return "\n".join(lines)
