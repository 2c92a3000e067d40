"""Day partitions of the derived tables: the migration keeps every row, a night touches one
partition, retention drops old days of derived tables and never raw ones, and never a day inside
the retention minimum, whoever asks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import copy_frame
from fraud.config import load_settings
from fraud.dates import day_interval, midnight
from fraud.db import create_warehouse_engine
from fraud.features.build import build_features
from fraud.migrations import migrate
from fraud.partitions import (
    RetentionRefused,
    drop_partitions_before,
    ensure_partitions,
    retention_cutoff,
    retention_minimum,
    set_retention_minimum,
)
from tests.support.bank import simulated_bank
from tests.support.logins import member_login

pytestmark = pytest.mark.integration

# Long past, so that retention may drop these days: the retention minimum counts back from today.
FIRST_DAY = date(2025, 5, 1)
DAYS = 12
DERIVED = ("staging.transactions", "staging.transaction_features", "scoring.transaction_scores")
# What must survive the move, table by table: row counts and sums over every numeric column.
_FINGERPRINTS = {
    "staging.transactions": "count(*), sum(transaction_id), sum(tx_amount), sum(customer_id),"
    " count(distinct run_id), min(tx_datetime), max(tx_datetime)",
    "staging.transaction_features": "count(*), sum(transaction_id), sum(tx_amount),"
    " sum(customer_tx_count_30d), sum(customer_mean_amount_7d), sum(terminal_fraud_risk_30d),"
    " sum(customer_amount_zscore_30d), sum(terminal_tx_count_30d), min(tx_datetime),"
    " max(tx_datetime)",
    "scoring.transaction_scores": "count(*), sum(transaction_id), sum(tx_amount), sum(score),"
    " count(*) filter (where is_alert), count(reason_1), min(tx_datetime), max(tx_datetime)",
}
_OLD_SCORES = """
insert into scoring.transaction_scores (transaction_id, tx_datetime, customer_id, terminal_id,
    tx_amount, score, model_name, model_version, is_alert, reason_1, reason_1_contribution, run_id)
select transaction_id, tx_datetime, customer_id, terminal_id, tx_amount,
    mod(transaction_id * 7919, 1000) / 1000.0, 'fraud-lightgbm', 1,
    mod(transaction_id * 7919, 1000) >= 950,
    case when mod(transaction_id * 7919, 1000) >= 950 then 'tx_amount' end,
    case when mod(transaction_id * 7919, 1000) >= 950 then 0.5 end,
    'before-partitions'
from staging.transactions
"""
_OLD_STAGING = """
insert into staging.transactions (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount,
    run_id)
select transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, 'before-partitions'
from raw.transactions
where tx_datetime >= :start
"""
_PARTITIONS = """
select parent.relname, count(*)
from pg_inherits
join pg_class as parent on parent.oid = pg_inherits.inhparent
where parent.relname in ('transactions', 'transaction_features', 'transaction_scores')
group by 1 order by 1
"""


def _fingerprint(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        return {
            table: tuple(connection.exec_driver_sql(f"select {sums} from {table}").one())
            for table, sums in _FINGERPRINTS.items()
        }


# What analysts see of the scores, from the table before the move and from the views after it
# (the old warehouse has no views: they follow the newest schema).
_SEEN_BEFORE = {
    "scored_transactions": "select transaction_id, tx_datetime, score, model_version, is_alert,"
    " reason_1 from scoring.transaction_scores order by 1",
    "daily_alerts": "select (tx_datetime at time zone 'UTC')::date as tx_date,"
    " count(*) as transactions_scored, count(*) filter (where is_alert) as alerts"
    " from scoring.transaction_scores group by 1 order by 1",
}
_SEEN_AFTER = {
    "scored_transactions": "select transaction_id, tx_datetime, score, model_version, is_alert,"
    " reason_1 from analytics.scored_transactions order by 1",
    "daily_alerts": "select tx_date, transactions_scored, alerts from analytics.daily_alerts"
    " order by 1",
}


def _views(engine: Engine, queries: dict[str, str]) -> dict[str, pd.DataFrame]:
    with engine.connect() as connection:
        return {view: pd.read_sql(query, connection) for view, query in queries.items()}


@pytest.fixture(scope="module")
def old_warehouse(new_database: Callable[[str], str]) -> Iterator[Engine]:
    """A warehouse migrated up to the version before partitions, with a few days of every table."""
    engine = create_warehouse_engine(new_database("before_partitions"))
    migrate(engine, until="V022")
    simulation = simulated_bank(
        engine, seed=3, customers=120, first_day=FIRST_DAY, days=DAYS, bank_columns=False
    )
    since, _ = day_interval(FIRST_DAY + timedelta(days=5))
    with engine.begin() as connection:
        connection.execute(sa.text(_OLD_STAGING), {"start": since})
        ids = simulation.transactions.loc[
            simulation.transactions["tx_datetime"] >= since, "transaction_id"
        ].to_numpy()
        features = build_features(simulation.transactions, simulation.labels, ids, 7)
        # Today's features into the table as it stood then: the columns later migrations add
        # are left out.
        existing = set(
            connection.execute(
                sa.text(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'staging' and table_name = 'transaction_features'"
                )
            ).scalars()
        )
        features = features[[column for column in features.columns if column in existing]]
        copy_frame(
            connection, features.assign(run_id="before-partitions"), "staging.transaction_features"
        )
        connection.exec_driver_sql(_OLD_SCORES)
    yield engine
    engine.dispose()


def test_the_migration_keeps_every_row_and_what_analysts_see(old_warehouse: Engine) -> None:
    before, views_before = _fingerprint(old_warehouse), _views(old_warehouse, _SEEN_BEFORE)
    assert all(fingerprint[0] > 0 for fingerprint in before.values())
    applied = migrate(old_warehouse)
    assert "V023__partition_by_day.sql" in applied
    assert "R__analytics_scored_transactions.sql" in applied
    assert _fingerprint(old_warehouse) == before
    with old_warehouse.connect() as connection:
        partitions = dict(connection.execute(sa.text(_PARTITIONS)).all())
    days = DAYS - 5
    assert partitions == {
        "transaction_features": days,
        "transaction_scores": days,
        "transactions": days,
    }
    for view, frame in _views(old_warehouse, _SEEN_AFTER).items():
        pd.testing.assert_frame_equal(frame, views_before[view], obj=view)
    assert migrate(old_warehouse) == []


def test_a_night_touches_one_partition(old_warehouse: Engine) -> None:
    start, end = day_interval(FIRST_DAY + timedelta(days=7))
    with old_warehouse.connect() as connection:
        plan = connection.execute(
            sa.text(
                "explain (format json) delete from staging.transaction_features"
                " where tx_datetime >= :start and tx_datetime < :end"
            ),
            {"start": start, "end": end},
        ).scalar_one()
    scanned = {
        node["Relation Name"]
        for node in _plan_nodes(plan[0]["Plan"])
        if node["Node Type"].endswith("Scan") and "Relation Name" in node
    }
    assert scanned == {f"transaction_features_{start:%Y%m%d}"}


def _plan_nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def test_retention_drops_old_derived_days_and_never_raw(old_warehouse: Engine) -> None:
    migrate(old_warehouse)
    raw_before = _count(old_warehouse, "raw.transactions")
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    keep_from = retention_cutoff(last, 4)
    assert keep_from == last - timedelta(days=3)
    with old_warehouse.begin() as connection:
        dropped = drop_partitions_before(connection, keep_from)
    assert len(dropped) == 3 * (keep_from - (FIRST_DAY + timedelta(days=5))).days
    assert all(name.startswith(("staging.", "scoring.")) for name in dropped)
    for table in DERIVED:
        with old_warehouse.connect() as connection:
            oldest = connection.exec_driver_sql(f"select min(tx_datetime) from {table}").scalar()
        assert oldest >= midnight(keep_from)
    assert _count(old_warehouse, "raw.transactions") == raw_before


def test_writers_create_the_partitions_of_new_days_once(old_warehouse: Engine) -> None:
    start, _ = day_interval(FIRST_DAY + timedelta(days=DAYS + 3))
    assert ensure_partitions(old_warehouse, start, start + timedelta(days=2)) == 6
    assert ensure_partitions(old_warehouse, start, start + timedelta(days=2)) == 0


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(f"select count(*) from {table}").scalar_one())


# --- the retention minimum ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def recent(warehouse_url: str) -> Iterator[tuple[Engine, date]]:
    """The module's warehouse with the partitions of the last 60 days, and today (UTC)."""
    engine = create_warehouse_engine(warehouse_url)
    today = datetime.now(UTC).date()
    start, _ = day_interval(today - timedelta(days=59))
    ensure_partitions(engine, start, start + timedelta(days=61))
    yield engine, today
    engine.dispose()


def _days_kept(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "select count(*) from pg_inherits"
                    " where inhparent = 'scoring.transaction_scores'::regclass"
                )
            ).scalar_one()
        )


def test_the_migration_sets_the_default_minimum(recent: tuple[Engine, date]) -> None:
    engine, _ = recent
    with engine.connect() as connection:
        assert retention_minimum(connection) == load_settings().retention_minimum_days == 31


@pytest.mark.parametrize("days_back", [0, 1, 29, -5])
def test_a_day_inside_the_minimum_is_refused_in_one_line(
    recent: tuple[Engine, date], days_back: int
) -> None:
    engine, today = recent
    day = today - timedelta(days=days_back)
    before = _days_kept(engine)
    with pytest.raises(RetentionRefused) as refused, engine.begin() as connection:
        drop_partitions_before(connection, day)
    latest = today - timedelta(days=30)
    assert str(refused.value) == (
        f"drop_partitions_before({day}) refused: {day} is inside the retention minimum of 31 days"
        f" (the latest day allowed today is {latest}; FRAUD_RETENTION_DAYS must be at least 31)"
    )
    assert _days_kept(engine) == before


def test_the_pipeline_login_cannot_drop_recent_days_nor_lower_the_minimum(
    recent: tuple[Engine, date], warehouse_url: str
) -> None:
    engine, today = recent
    before = _days_kept(engine)
    with member_login(warehouse_url, "fraud_pipeline") as url:
        pipeline = create_warehouse_engine(url, pool_size=1)
        try:
            # Through the SQL function itself, past the Python wrapper.
            with pytest.raises(sa.exc.DBAPIError, match="inside the retention minimum"):
                with pipeline.begin() as connection:
                    connection.execute(
                        sa.text("select staging.drop_partitions_before(:day)"),
                        {"day": today + timedelta(days=365)},
                    )
            with pytest.raises(sa.exc.DBAPIError, match="inside the retention minimum"):
                with pipeline.begin() as connection:
                    connection.execute(sa.text("select staging.drop_partitions_before(null)"))
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                with pipeline.begin() as connection:
                    set_retention_minimum(connection, 1)
            # The oldest day outside the minimum is the pipeline's to drop.
            with pipeline.begin() as connection:
                dropped = drop_partitions_before(connection, today - timedelta(days=30))
        finally:
            pipeline.dispose()
    assert len(dropped) == 3 * 29  # days today-59 .. today-31, three tables each
    assert _days_kept(engine) == before - 29


def test_the_owner_raises_the_minimum_for_longer_maturities(recent: tuple[Engine, date]) -> None:
    engine, today = recent
    settings = load_settings({"FRAUD_PERFORMANCE_MATURITY_DAYS": "7,14,30,45"})
    assert settings.retention_minimum_days == 46
    with engine.begin() as connection:
        set_retention_minimum(connection, settings.retention_minimum_days)
    try:
        with pytest.raises(RetentionRefused, match=r"minimum of 46 days .* at least 46\)$"):
            with engine.begin() as connection:
                drop_partitions_before(connection, today - timedelta(days=40))
        with engine.begin() as connection:
            assert drop_partitions_before(connection, today - timedelta(days=45)) == []
    finally:
        with engine.begin() as connection:
            set_retention_minimum(connection, 31)
