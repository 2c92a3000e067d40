"""Benchmark the quality gate: validate one day of N raw transactions end to end.

Creates a scratch warehouse next to the configured one (or on ``--admin-url``), fills
``raw.transactions`` server-side with N rows for the benchmarked day plus the history days the
volume band needs (a share of the day's amounts negative, so quarantine is exercised), runs
``fraud.quality.validate.validate_interval`` once and prints rows, seconds, rows/s and the split between
reading, the Great Expectations checks, Data Docs and writing. The scratch database is dropped.

    python -m benchmarks.validate_benchmark --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from fraud.config import load_settings
from fraud.db import create_warehouse_engine
from fraud.gates import GateConfig
from fraud.masking import mask_url
from fraud.migrations import migrate
from fraud.quality.validate import ValidationOutcome, validate_interval
from fraud.scratch import scratch_database, unique_name

_VACUUM_SQL = "vacuum analyze"

DAY = datetime(2026, 3, 2, tzinfo=UTC)

_FILL_DAY_SQL = """
insert into raw.transactions (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount)
select
    :first_id + n,
    :day_start + (n * 86399.0 / :rows) * interval '1 second',
    1 + n % 5000,
    1 + (n * 7) % 10000,
    case when :bad_every > 0 and n % :bad_every = 0 then -1 else 1 end
        * (1 + ((n * 7919) % 30000) / 100.0)
from generate_series(0::bigint, :rows - 1) as n
"""

_FILL_LABELS_SQL = """
insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)
select transaction_id, transaction_id % 3 = 0, :day_start + interval '1 hour'
from raw.transactions
where tx_datetime < :day_start and transaction_id % 500 = 0
"""


def fill(engine: sa.Engine, rows: int, history_days: int, bad_share: float) -> None:
    """Write the benchmarked day, its history days and some labels into raw.*."""
    bad_every = round(1 / bad_share) if bad_share > 0 else 0
    with engine.begin() as connection:
        for days_before in range(history_days, -1, -1):
            connection.execute(
                sa.text(_FILL_DAY_SQL),
                {
                    "first_id": (history_days - days_before) * rows + 1,
                    "day_start": DAY - timedelta(days=days_before),
                    "rows": rows,
                    "bad_every": bad_every if days_before == 0 else 0,
                },
            )
        connection.execute(sa.text(_FILL_LABELS_SQL), {"day_start": DAY})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(_VACUUM_SQL)


def run(admin_url: str, rows: int, history_days: int, bad_share: float) -> None:
    """Create the scratch warehouse, fill it, validate the day once, print the figures, drop it."""
    database = unique_name("fraud_benchmark")
    with scratch_database(admin_url, database) as url:
        engine = create_warehouse_engine(url)
        try:
            migrate(engine)
            started = time.perf_counter()
            fill(engine, rows, history_days, bad_share)
            print(f"server: {mask_url(admin_url)}, scratch database {database}")
            filled = time.perf_counter() - started
            print(f"filled {rows * (history_days + 1):,} rows in {filled:.1f} s")
            gate = GateConfig(min_volume_history_days=min(history_days, 7))
            with tempfile.TemporaryDirectory() as artifacts:
                for label in ("first run of the day", "re-run of the same day"):
                    started = time.perf_counter()
                    outcome = validate_interval(
                        engine,
                        interval_start=DAY,
                        interval_end=DAY + timedelta(days=1),
                        run_id="benchmark",
                        gate=gate,
                        artifact_dir=Path(artifacts),
                    )
                    report(label, outcome, time.perf_counter() - started)
        finally:
            engine.dispose()


def report(label: str, outcome: ValidationOutcome, seconds: float) -> None:
    """Print the counts, the time, the throughput and the split between phases."""
    extracted = outcome.extracted_count
    print(
        f"{label}: {outcome.status}, extracted {extracted:,}, validated"
        f" {outcome.validated_count:,}, quarantined {outcome.quarantined_count:,}"
    )
    print(f"  rows {extracted:,}  seconds {seconds:.2f}  rows/s {extracted / seconds:,.0f}")
    print(
        "  split: "
        + ", ".join(f"{name} {value:.2f} s" for name, value in outcome.phase_seconds.items())
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"  cores {os.cpu_count()}, load average {load}")


def main() -> None:
    """Parse the arguments and run the benchmark once."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the validated day")
    parser.add_argument(
        "--history-days", type=int, default=7, help="earlier days with as many rows (volume band)"
    )
    parser.add_argument("--bad-share", type=float, default=0.01, help="share of negative amounts")
    parser.add_argument(
        "--admin-url",
        default=load_settings().database_url,
        help="server on which to create the scratch database (default: FRAUD_DATABASE_URL)",
    )
    args = parser.parse_args()
    if not args.admin_url:
        parser.error("set FRAUD_DATABASE_URL or pass --admin-url")
    run(args.admin_url, args.rows, args.history_days, args.bad_share)


if __name__ == "__main__":
    main()
