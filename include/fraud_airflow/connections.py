"""The Airflow Connections of the fraud DAGs: the warehouse (``fraud_warehouse``) and Slack
(``fraud_slack``).

The domain package reads the warehouse from ``FRAUD_DATABASE_URL``, as the ``fraud`` command
line does. A task of the DAGs takes it from the Connection when one is defined: its execute
callback resolves the Connection through the Postgres provider's ``PostgresHook`` and hands the
URL to the package, in the task's own process, before the task runs. Without the Connection, the
environment's ``FRAUD_DATABASE_URL`` stays.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "fraud_warehouse"
SLACK_CONN_ID = "fraud_slack"
# The warehouse code streams COPY through psycopg2, whatever driver a Connection's extra names.
WAREHOUSE_SCHEME = "postgresql+psycopg2"
# The variable the domain package reads the warehouse from (fraud.config).
WAREHOUSE_VARIABLE = "FRAUD_DATABASE_URL"


def connection_defined(conn_id: str) -> bool:
    """Whether Airflow knows the Connection (environment, secrets backend or metadata database)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def warehouse_connection_url() -> str | None:
    """The SQLAlchemy URL of the ``fraud_warehouse`` Connection, or None when it is not defined."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    if not connection_defined(WAREHOUSE_CONN_ID):
        return None
    hook = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID, sqlalchemy_scheme=WAREHOUSE_SCHEME)
    return hook.get_uri()


def use_warehouse_connection(context: object = None) -> str:
    """Point this task's process at the ``fraud_warehouse`` Connection when it is defined, else
    keep ``FRAUD_DATABASE_URL``; return which one the task uses."""
    from fraud.db import server_name

    url = warehouse_connection_url()
    if url is None:
        log.info("warehouse: %s (no Airflow connection %r)", WAREHOUSE_VARIABLE, WAREHOUSE_CONN_ID)
        return WAREHOUSE_VARIABLE
    os.environ[WAREHOUSE_VARIABLE] = url
    log.info("warehouse: Airflow connection %r (%s)", WAREHOUSE_CONN_ID, server_name(url))
    return WAREHOUSE_CONN_ID
