"""``fraud status``: the champion, the last run of each DAG and the warehouse's row counts."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud import dag_ids
from fraud.config import Settings
from fraud.db import create_warehouse_engine, describe_error

_ROW_COUNTS_SQL = """
select
    (select count(*) from raw.transactions) as "raw.transactions",
    (select count(*) from raw.fraud_labels) as "raw.fraud_labels",
    (select count(*) from staging.transactions) as "staging.transactions",
    (select count(*) from quality.quarantine) as "quality.quarantine",
    (select count(*) from scoring.transaction_scores) as "scoring.transaction_scores",
    (select count(*) from monitoring.feature_drift) as "monitoring.feature_drift",
    (select count(*) from monitoring.model_decisions) as "monitoring.model_decisions",
    (select count(*) from monitoring.alerts) as "monitoring.alerts"
"""


def warehouse_counts(engine: Engine) -> dict[str, int]:
    """Row counts of the main tables, for ``fraud status``."""
    with engine.connect() as connection:
        counts = connection.execute(sa.text(_ROW_COUNTS_SQL)).one()._mapping
    return {table: int(count) for table, count in counts.items()}


_LAST_RUNS_SQL = """
select distinct on (dag_id) dag_id, run_id, state, logical_date, end_date
from dag_run where dag_id = any(:dag_ids)
order by dag_id, coalesce(logical_date, run_after) desc
"""


def last_runs(airflow_database_url: str) -> dict[str, dict[str, str]]:
    """The latest run of each fraud DAG, read from Airflow's metadata database."""
    engine = create_warehouse_engine(airflow_database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(_LAST_RUNS_SQL), {"dag_ids": list(dag_ids.ALL)}
            ).mappings()
            return {
                row["dag_id"]: {
                    "run_id": row["run_id"],
                    "state": row["state"],
                    "logical_date": str(row["logical_date"]),
                }
                for row in rows
            }
    finally:
        engine.dispose()


_WHO_AM_I_SQL = """
select current_user, r.rolsuper,
    coalesce(array_agg(g.rolname order by g.rolname) filter (where g.rolname is not null), '{}')
from pg_roles r
left join pg_auth_members m on m.member = r.oid
left join pg_roles g on g.oid = m.roleid
where r.rolname = current_user
group by r.rolname, r.rolsuper
"""


def connects_as(url: str) -> str:
    """Which role a URL logs in as and what it is a member of, or the one-line error."""
    engine = create_warehouse_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            user, superuser, groups = connection.execute(sa.text(_WHO_AM_I_SQL)).one()
    except sa.exc.SQLAlchemyError as error:
        return describe_error(error, url)
    finally:
        engine.dispose()
    if superuser:
        return f"{user} (superuser)"
    return f"{user} (member of {', '.join(groups)})" if groups else f"{user} (no group role)"


def connection_roles(settings: Settings) -> dict[str, str]:
    """The role each part of the system connects to PostgreSQL as."""
    parts = {
        "nightly tasks (FRAUD_DATABASE_URL)": settings.database_url,
        "monitoring page (FRAUD_ANALYST_DATABASE_URL)": settings.analyst_database_url
        or settings.database_url,
        "migrations (FRAUD_OWNER_DATABASE_URL)": settings.owner_database_url,
        "verdict imports (FRAUD_INVESTIGATOR_DATABASE_URL)": settings.investigator_database_url,
        "Airflow metadata (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)": settings.airflow_database_url,
    }
    # The owner's URL belongs to the migration step only: its absence here is the point.
    return {
        part: connects_as(url) if url else "not in this environment" for part, url in parts.items()
    }


def collect_status(settings: Settings) -> dict[str, object]:
    """Everything ``fraud status`` prints; each part degrades to an error line on its own."""
    from fraud.model.registry import RegistryError, champion_version

    status: dict[str, object] = {}
    try:
        version = champion_version(settings)
        status["champion"] = (
            f"models:/{settings.model_name}/{version}"
            if version
            else "none yet (run fraud_retrain)"
        )
    except RegistryError as error:
        status["champion"] = f"unknown: {error}"
    if settings.airflow_database_url:
        try:
            status["last_runs"] = last_runs(settings.airflow_database_url)
        except sa.exc.SQLAlchemyError as error:
            status["last_runs"] = describe_error(error, settings.airflow_database_url)
    status["connects_as"] = connection_roles(settings)
    engine = create_warehouse_engine(settings.require_database_url(), pool_size=1)
    try:
        status["rows"] = warehouse_counts(engine)
    finally:
        engine.dispose()
    return status
