"""``fraud benchmark page`` on a small warehouse: every figure, and no database left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.process import scratch_url
from fraud.db import sqlalchemy_url

pytestmark = pytest.mark.integration

FRAUD_COMMAND = str(Path(sys.executable).with_name("fraud"))


def test_the_page_benchmark_reports_its_figures_and_drops_its_database(warehouse_url: str) -> None:
    completed = subprocess.run(
        [FRAUD_COMMAND, "benchmark", "page", "--rows-per-day", "300", "--nights", "35"]
        + ["--alerts-per-day", "5", "--renders", "3", "--json"],
        env={**os.environ, "FRAUD_DATABASE_URL": warehouse_url},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert (report["scores"], report["nights"], report["renders"]) == (300 * 35, 35, 3)
    for step in ("load", "render", "total"):
        figures = report[step]
        assert 0 < figures["min_ms"] <= figures["median_ms"] <= figures["max_ms"]
    assert report["page_bytes"] > 0 and not report["kept"]
    admin = sa.create_engine(sqlalchemy_url(warehouse_url), poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        left = connection.execute(
            sa.text("select 1 from pg_database where datname = :name"),
            {"name": sa.make_url(scratch_url(warehouse_url, "page")).database},
        ).first()
    admin.dispose()
    assert left is None


def test_the_page_benchmark_refuses_more_alerts_than_scores(warehouse_url: str) -> None:
    completed = subprocess.run(
        [FRAUD_COMMAND, "benchmark", "page", "--alerts-per-day", "301", "--rows-per-day", "300"],
        env={**os.environ, "FRAUD_DATABASE_URL": warehouse_url},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode != 0
    assert completed.stderr.strip().splitlines() == [
        "fraud: BenchmarkError: --rows-per-day, --nights and --renders must be at least 1,"
        " --alerts-per-day between 1 and --rows-per-day"
    ]
