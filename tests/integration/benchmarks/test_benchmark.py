"""``fraud benchmark scoring`` on a small day: every figure, every row, no database left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.process import BenchmarkError
from benchmarks.scoring import METHODS, scratch_url
from fraud.db import sqlalchemy_url
from fraud.model.train import SearchSpace

pytestmark = pytest.mark.integration

FRAUD_COMMAND = str(Path(sys.executable).with_name("fraud"))
ROWS = 3000
SMALL_POPULATION = ["--customers", "300"]
FIGURES = ("seconds", "rows_per_second", "peak_rss_mib", "baseline_rss_mib", "rows_written")


def _benchmark(
    url: str, *arguments: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command as a user would, against the warehouse at ``url``."""
    return subprocess.run(
        [FRAUD_COMMAND, "benchmark", "scoring", *arguments],
        env={**os.environ, "FRAUD_DATABASE_URL": url, **(environment or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _admin(url: str) -> sa.Engine:
    return sa.create_engine(
        sqlalchemy_url(url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )


def _database_exists(url: str, name: str) -> bool:
    engine = _admin(url)
    with engine.connect() as connection:
        found = connection.execute(
            sa.text("select 1 from pg_database where datname = :name"), {"name": name}
        ).first()
    engine.dispose()
    return found is not None


def _scratch_name(url: str) -> str:
    return str(sa.make_url(scratch_url(url)).database)


@pytest.fixture(scope="module")
def completed(warehouse_url: str) -> subprocess.CompletedProcess[str]:
    completed = _benchmark(warehouse_url, "--rows", str(ROWS), "--json", *SMALL_POPULATION)
    assert completed.returncode == 0, completed.stderr
    return completed


@pytest.fixture(scope="module")
def report(completed: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(completed.stdout)


# Each phase's line on stderr, in order, and the seconds it ends with.
PHASES = [
    r"created scratch database \S+ on \S+",
    r"migrated the scratch warehouse in \d+\.\d s",
    r"simulated [\d,]+ feature rows to replicate in \d+\.\d s",
    r"largest model: \d+ trees in \d+\.\d s",
    r"filled the day in \d+\.\d s",
    rf"generated {ROWS:,} rows from [\d,]+ in \d+\.\d s",
    r"compiled the model for our step in \d+\.\d s",
    *(
        line
        for title in ("ours", "I/O floor", "to_sql way")
        for line in (rf"{title} .*: measuring", rf"{title} .*: \d+\.\d\d s")
    ),
]


def test_each_phase_says_on_stderr_how_long_it_took(
    completed: subprocess.CompletedProcess[str],
) -> None:
    lines = completed.stderr.splitlines()
    assert len(lines) == len(PHASES), completed.stderr
    for line, phase in zip(lines, PHASES, strict=True):
        assert re.fullmatch(phase, line), (line, phase)


def test_every_method_reports_every_figure(report: dict) -> None:
    assert list(report["methods"]) == list(METHODS)
    for figures in report["methods"].values():
        assert all(figures[name] > 0 for name in FIGURES)
        assert figures["peak_rss_mib"] >= figures["baseline_rss_mib"]
        assert len(figures["load_average"]) == 3
    assert report["ratios"]["ours_to_floor"] > 0
    assert report["ratios"]["tutorial_to_ours"] > 0
    assert report["generation_seconds"] > 0
    assert report["compile_seconds"] > 0  # compiled once, before the clock of our step starts


def test_every_method_writes_every_row(report: dict) -> None:
    assert report["rows"] == ROWS
    assert [figures["rows_written"] for figures in report["methods"].values()] == [ROWS] * 3
    assert 0 < report["alerts"] < ROWS


def test_the_model_has_the_size_a_champion_can_reach(report: dict) -> None:
    space = SearchSpace()
    assert report["trees"] == space.n_estimators
    assert report["num_leaves"] == max(space.num_leaves)


def test_the_scratch_database_is_dropped(report: dict, warehouse_url: str) -> None:
    assert report["kept"] is False
    assert report["scratch_database"] == _scratch_name(warehouse_url)
    assert not _database_exists(warehouse_url, report["scratch_database"])


def test_a_trained_model_and_no_tutorial_print_as_a_table(warehouse_url: str) -> None:
    completed = _benchmark(
        warehouse_url,
        *("--rows", "500", "--skip-tutorial", "--model", "trained", *SMALL_POPULATION),
        environment={"FRAUD_SCORE_COMPILED": "false"},
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert any(line.startswith("ours (score_partition + mark_top_k) ") for line in lines)
    assert any(line.startswith("I/O floor (COPY out + COPY in) ") for line in lines)
    assert not any(line.startswith("to_sql way (") for line in lines)
    assert "to_sql way / ours: skipped" in completed.stdout
    assert "(trained: trained as retraining trains a champion" in completed.stdout
    assert "ours predicts with LightGBM's own predict (FRAUD_SCORE_COMPILED=false)" in lines
    assert not _database_exists(warehouse_url, _scratch_name(warehouse_url))


@pytest.fixture
def role_without_createdb(warehouse_url: str) -> Iterator[str]:
    """A login role that may connect but not create databases; its URL on the warehouse."""
    role = f"fraud_no_createdb_{uuid.uuid4().hex[:8]}"
    engine = _admin(warehouse_url)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"create role {role} login nocreatedb")
    url = sa.make_url(sqlalchemy_url(warehouse_url)).set(username=role, password=None)
    yield url.render_as_string(hide_password=False)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"drop role {role}")
    engine.dispose()


def test_a_role_that_cannot_create_databases_gets_one_line(role_without_createdb: str) -> None:
    completed = _benchmark(role_without_createdb, "--rows", "10")
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert "cannot create databases" in completed.stderr


def test_an_existing_scratch_database_is_left_alone(warehouse_url: str) -> None:
    name = _scratch_name(warehouse_url)
    engine = _admin(warehouse_url)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'create database "{name}"')
    try:
        completed = _benchmark(warehouse_url, "--rows", "10")
        assert completed.returncode == 2
        assert "already exists" in completed.stderr
        assert completed.stderr.count("\n") == 1
        assert _database_exists(warehouse_url, name)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'drop database if exists "{name}"')
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/fraud", "fraud_benchmark"),
        ("postgres://u@db/warehouse", "warehouse_benchmark"),
    ],
)
def test_the_scratch_database_sits_next_to_the_configured_one(url: str, expected: str) -> None:
    assert sa.make_url(scratch_url(url)).database == expected


def test_a_scratch_name_postgresql_would_cut_is_refused() -> None:
    with pytest.raises(BenchmarkError, match="longer than 63 bytes"):
        scratch_url("postgresql://db/" + "w" * 60)
