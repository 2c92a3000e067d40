"""Least privilege: log in as members of ``fraud_analyst`` and ``fraud_pipeline`` and try things.

Each test creates a throwaway LOGIN role with a generated password, member of the group role,
and connects as it over the same host or socket as the warehouse URL: a real login. Should the
server refuse that login (an authentication method the test cannot satisfy), the test falls
back to ``set session authorization`` on a superuser connection, which checks privileges the same
way; the embedded test server and the development server both trust local logins, so the real
login is what runs there.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa

from fraud.db import (
    create_warehouse_engine,
    database_name,
    sqlalchemy_url,
)
from fraud.migrations import migrate
from fraud.scratch import scratch_database

pytestmark = pytest.mark.integration

ANALYTICS_VIEWS = (
    "scored_transactions",
    "daily_alerts",
    "model_performance_daily",
    "drift_summary",
    "quality_daily",
    "quarantine_reasons_daily",
    "model_decisions",
)

FORBIDDEN_FOR_ANALYST = (
    "select * from raw.transactions limit 1",
    "select * from raw.fraud_labels limit 1",
    "select * from staging.transactions limit 1",
    "select * from staging.transaction_features limit 1",
    "select * from quality.quarantine limit 1",
    "select * from quality.validation_run limit 1",
    "select * from scoring.transaction_scores limit 1",
    "select * from monitoring.model_decisions limit 1",
    "select * from monitoring.feature_drift limit 1",
    "select * from public.schema_migrations limit 1",
    "insert into scoring.transaction_scores (transaction_id) values (1)",
    "update staging.transactions set run_id = 'x'",
    "delete from monitoring.alerts",
    "create table analytics.x (a int)",
    "create view analytics.x as select 1 as a",
    "create table public.x (a int)",
    "create schema x",
)

ALLOWED_FOR_PIPELINE = (
    "select count(*) from raw.transactions",
    "select count(*) from raw.fraud_labels",
    "insert into staging.transactions (transaction_id, tx_datetime, customer_id, terminal_id,"
    " tx_amount, run_id) values (-1, now(), 1, 1, 1.00, 'roles_test')",
    "delete from staging.transactions where run_id = 'roles_test'",
    "insert into scoring.transaction_scores (transaction_id, tx_datetime, customer_id,"
    " terminal_id, tx_amount, score, model_name, model_version, is_alert, run_id)"
    " values (-1, now(), 1, 1, 1.00, 0.5, 'm', 1, false, 'roles_test')",
    "insert into quality.quarantine (source_row, failed_expectations, run_id,"
    " data_interval_start, data_interval_end) values ('{}', '{}', 'roles_test', now(), now())",
    "update quality.quarantine set resolved_at = now() where run_id = 'roles_test'",
    "insert into quality.validation_run (run_id, data_interval_start, data_interval_end, status,"
    " extracted_count, validated_count, quarantined_count)"
    " values ('roles_test', now(), now(), 'passed', 0, 0, 0)",
    "insert into monitoring.alerts (kind, severity, message) values ('test', 'info', 'roles')",
    "update monitoring.retraining_requests set status = 'done' where request_id = -1",
    "select count(*) from monitoring.model_decisions",
)

FORBIDDEN_FOR_PIPELINE = (
    "insert into raw.transactions (transaction_id, tx_datetime, customer_id, terminal_id,"
    " tx_amount) values (-1, now(), 1, 1, 1.00)",
    "update raw.transactions set tx_amount = 0",
    "delete from raw.fraud_labels",
    "truncate staging.transactions",
    "create table staging.x (a int)",
    "create table analytics.x (a int)",
    "alter table scoring.transaction_scores add column x int",
    "drop table monitoring.alerts",
    "select * from analytics.scored_transactions limit 1",
    # Ledgers are append-only; the quarantine and the requests change only their resolution.
    "update quality.validation_run set status = 'passed'",
    "delete from quality.validation_run",
    "update monitoring.model_decisions set decision = 'promoted'",
    "delete from monitoring.model_decisions",
    "update monitoring.alerts set message = 'x'",
    "delete from monitoring.alerts",
    "delete from quality.quarantine",
    "update quality.quarantine set failed_expectations = '{}'",
    "delete from monitoring.retraining_requests",
    "update monitoring.retraining_requests set reason = 'x'",
    "update scoring.transaction_scores set score = 1",
    "select * from public.schema_migrations",
)


def _connection_arguments(url: str) -> dict[str, Any]:
    """libpq keyword arguments of a SQLAlchemy-style URL (host may be a socket directory)."""
    parsed = sa.engine.make_url(sqlalchemy_url(url))
    arguments = {
        "dbname": parsed.database,
        "user": parsed.username,
        "password": parsed.password or None,
        "host": parsed.host or parsed.query.get("host"),
        "port": parsed.port,
    }
    return {key: value for key, value in arguments.items() if value is not None}


@contextmanager
def login_member_of(url: str, group: str) -> Generator[Any, None, None]:
    """A connection as a new LOGIN role that belongs to ``group``; the role is dropped after."""
    name = f"fraud_test_{group.removeprefix('fraud_')}_{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)
    admin = psycopg2.connect(**_connection_arguments(url))
    admin.autocommit = True
    connection = None
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"create role {name} login password %s in role {group}", (password,))
        try:
            connection = psycopg2.connect(
                **{**_connection_arguments(url), "user": name, "password": password}
            )
        except psycopg2.OperationalError:
            connection = psycopg2.connect(**_connection_arguments(url))
            with connection.cursor() as cursor:
                cursor.execute(f"set session authorization {name}")
            connection.commit()
        yield connection
    finally:
        if connection is not None:
            connection.close()
        with admin.cursor() as cursor:
            cursor.execute(f"drop role if exists {name}")
        admin.close()


@pytest.fixture(scope="module")
def analyst(warehouse_url: str) -> Generator[Any, None, None]:
    """A logged-in member of ``fraud_analyst``."""
    with login_member_of(warehouse_url, "fraud_analyst") as connection:
        yield connection


@pytest.fixture(scope="module")
def pipeline(warehouse_url: str) -> Generator[Any, None, None]:
    """A logged-in member of ``fraud_pipeline``, with today's partitions in place."""
    with login_member_of(warehouse_url, "fraud_pipeline") as connection:
        # As every writer of a day does first: the pipeline creates partitions without DDL rights.
        with connection.cursor() as cursor:
            cursor.execute("select staging.ensure_day_partitions((now() at time zone 'UTC')::date)")
        connection.commit()
        yield connection


def _run(connection: Any, statement: str) -> None:
    """Run one statement in its own transaction and roll it back whatever happens."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            if cursor.description is not None:
                cursor.fetchall()
    finally:
        connection.rollback()


def _assert_denied(connection: Any, statement: str) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege) as denied:
        _run(connection, statement)
    assert "permission denied" in str(denied.value) or "must be owner" in str(denied.value)


def test_the_logins_are_not_superusers(analyst: Any, pipeline: Any) -> None:
    for connection, group in ((analyst, "fraud_analyst"), (pipeline, "fraud_pipeline")):
        with connection.cursor() as cursor:
            cursor.execute(
                "select rolsuper, pg_has_role(current_user, %s, 'member')"
                " from pg_roles where rolname = current_user",
                (group,),
            )
            assert cursor.fetchone() == (False, True)
        connection.rollback()


@pytest.mark.parametrize("view", ANALYTICS_VIEWS)
def test_analyst_reads_every_analytics_view(analyst: Any, view: str) -> None:
    with analyst.cursor() as cursor:
        cursor.execute(f"select * from analytics.{view} limit 5")
        assert [column.name for column in cursor.description]
    analyst.rollback()


@pytest.mark.parametrize("statement", FORBIDDEN_FOR_ANALYST)
def test_analyst_is_denied(analyst: Any, statement: str) -> None:
    _assert_denied(analyst, statement)


def test_analyst_holds_no_write_privilege_on_the_views(analyst: Any) -> None:
    """Writes into these views also fail as not updatable; the grants alone must forbid them."""
    with analyst.cursor() as cursor:
        cursor.execute(
            "select c.relname, privilege from pg_class as c"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " cross join unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) as privilege"
            " where n.nspname = 'analytics'"
            " and has_table_privilege(current_user, c.oid, privilege)"
        )
        assert cursor.fetchall() == []
    analyst.rollback()


@pytest.mark.parametrize("statement", ALLOWED_FOR_PIPELINE)
def test_pipeline_may(pipeline: Any, statement: str) -> None:
    _run(pipeline, statement)


@pytest.mark.parametrize("statement", FORBIDDEN_FOR_PIPELINE)
def test_pipeline_is_denied(pipeline: Any, statement: str) -> None:
    _assert_denied(pipeline, statement)


def test_roles_migrate_into_a_second_database_on_the_same_server(warehouse_url: str) -> None:
    """The roles already exist (the warehouse created them); a new database still gets its grants."""
    name = f"{database_name(warehouse_url)}_roles_{uuid.uuid4().hex[:6]}"
    with scratch_database(warehouse_url, name) as url:
        engine = create_warehouse_engine(url)
        try:
            assert "V020__roles.sql" in migrate(engine)
            with engine.connect() as connection:
                readable = connection.exec_driver_sql(
                    "select bool_and(has_table_privilege('fraud_analyst', c.oid, 'SELECT'))"
                    " from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
                    " where n.nspname = 'analytics' and c.relkind = 'v'"
                ).scalar_one()
                writable = connection.exec_driver_sql(
                    "select has_table_privilege('fraud_pipeline', 'scoring.transaction_scores',"
                    " 'INSERT'), has_table_privilege('fraud_pipeline', 'raw.transactions', 'INSERT')"
                ).one()
            assert readable is True
            assert tuple(writable) == (True, False)
        finally:
            engine.dispose()
