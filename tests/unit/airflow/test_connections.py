"""The DAGs' Connections: the warehouse taken from ``fraud_warehouse`` before a task runs, else
``FRAUD_DATABASE_URL``; the Connections `make up` writes resolve to the URLs they came from."""

from __future__ import annotations

import os

import pytest
from sqlalchemy.engine import make_url

from fraud.config import load_settings
from fraud.db import sqlalchemy_url
from fraud.local.environment import postgres_connection
from fraud_airflow.connections import (
    WAREHOUSE_CONN_ID,
    WAREHOUSE_VARIABLE,
    use_warehouse_connection,
    warehouse_connection_url,
)
from fraud_airflow.defaults import skip_for_a_chosen_day, task_defaults

CONNECTION = "AIRFLOW_CONN_FRAUD_WAREHOUSE"
ENVIRONMENT_URL = "postgresql://fraud_pipeline_login:env@env.internal:5432/fraud"


@pytest.fixture(autouse=True)
def environment_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WAREHOUSE_VARIABLE, ENVIRONMENT_URL)
    monkeypatch.delenv(CONNECTION, raising=False)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://fraud_pipeline_login:s3cret@db.internal:5433/fraud",
        # A password with characters a URL must quote.
        "postgresql://fraud_pipeline_login:a%40%2F@db.internal/fraud",
        # The embedded server: a socket directory in the query.
        "postgresql://fraud_pipeline_login:s3cret@/fraud?host=/tmp/pg",
        "postgresql://fraud_pipeline_login:s3cret@db.internal/fraud?sslmode=verify-full",
    ],
)
def test_the_connection_make_up_writes_resolves_to_its_url(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv(CONNECTION, postgres_connection(url))
    resolved = warehouse_connection_url()
    assert resolved is not None
    assert make_url(resolved) == make_url(sqlalchemy_url(url))


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        (
            "postgresql://fraud_pipeline_login:conn@conn.internal:5432/fraud",
            "postgresql+psycopg2://fraud_pipeline_login:conn@conn.internal:5432/fraud",
        ),
        (
            '{"conn_type": "postgres", "login": "fraud_pipeline_login", "password": "conn",'
            ' "host": "conn.internal", "schema": "fraud",'
            ' "extra": {"sqlalchemy_scheme": "postgresql+psycopg"}}',
            "postgresql+psycopg2://fraud_pipeline_login:conn@conn.internal/fraud",
        ),
        (None, ENVIRONMENT_URL),
    ],
)
def test_tasks_take_the_warehouse_from_the_connection_else_the_environment(
    monkeypatch: pytest.MonkeyPatch, connection: str | None, expected: str
) -> None:
    if connection is not None:
        monkeypatch.setenv(CONNECTION, connection)
    used = use_warehouse_connection({})
    assert used == (WAREHOUSE_CONN_ID if connection else WAREHOUSE_VARIABLE)
    assert os.environ[WAREHOUSE_VARIABLE] == expected
    assert load_settings().require_database_url() == expected


def test_every_task_resolves_the_connection_before_it_runs() -> None:
    assert task_defaults()["pre_execute"] is use_warehouse_connection


@pytest.mark.parametrize(("params", "skipped"), [({"date": "2026-02-21"}, True), ({}, False)])
def test_the_wait_is_skipped_for_a_chosen_day(params: dict, skipped: bool) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    if skipped:
        with pytest.raises(AirflowSkipException, match="rescoring 2026-02-21"):
            skip_for_a_chosen_day({"params": params})
    else:
        skip_for_a_chosen_day({"params": params})
