"""Grants as data: the catalog's privileges of PUBLIC and both group roles equal one table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.db import create_warehouse_engine
from fraud.logins import ensure_login
from fraud.migrations import migrate
from fraud.privileges import (
    ANALYST,
    PIPELINE,
    catalog_privileges,
    expected_privileges,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def owner(warehouse_url: str) -> Iterator[Engine]:
    engine = create_warehouse_engine(warehouse_url)
    yield engine
    engine.dispose()


def _differences(engine: Engine) -> dict[str, list[tuple[str, str, str, str]]]:
    with engine.connect() as connection:
        found = catalog_privileges(connection)
    declared = expected_privileges()
    return {"undeclared": sorted(found - declared), "missing": sorted(declared - found)}


def test_catalog_equals_the_declared_table(owner: Engine) -> None:
    assert _differences(owner) == {"undeclared": [], "missing": []}


def test_public_may_not_connect_or_create_temporary_tables(owner: Engine) -> None:
    with owner.connect() as connection:
        public = {row for row in catalog_privileges(connection) if row[0] == "public"}
    assert public == set()


def test_partitions_created_later_get_no_privileges_of_their_own(owner: Engine) -> None:
    with owner.begin() as connection:
        connection.execute(
            sa.text("select staging.ensure_day_partitions(:day)"), {"day": date(2031, 1, 2)}
        )
    assert _differences(owner) == {"undeclared": [], "missing": []}


@pytest.mark.parametrize(
    "stray",
    [
        f"grant delete on raw.transactions to {PIPELINE}",
        f"grant update on monitoring.model_decisions to {PIPELINE}",
        f"grant update (score) on scoring.transaction_scores to {PIPELINE}",
        f"grant select on staging.transactions to {ANALYST}",
        "grant temporary on database {database} to public",
        "grant execute on function staging.ensure_day_partitions(date) to public",
    ],
)
def test_the_next_migration_takes_a_stray_grant_back(owner: Engine, stray: str) -> None:
    with owner.begin() as connection:
        database = connection.execute(sa.text("select current_database()")).scalar_one()
        connection.exec_driver_sql(stray.format(database=f'"{database}"'))
    assert _differences(owner)["undeclared"] != []
    migrate(owner)
    assert _differences(owner) == {"undeclared": [], "missing": []}


def _memberships(connection: sa.Connection, name: str) -> list[str]:
    return list(
        connection.execute(
            sa.text(
                "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid"
                " join pg_roles u on u.oid = m.member where u.rolname = :name"
            ),
            {"name": name},
        ).scalars()
    )


def test_a_login_is_a_member_of_its_group_only(owner: Engine) -> None:
    name = "fraud_test_login_membership"
    with owner.begin() as connection:
        connection.exec_driver_sql(f"drop role if exists {name}")
        ensure_login(connection, name, PIPELINE, "first")
        connection.exec_driver_sql(f"grant {ANALYST} to {name}")  # a mistake made by hand
        ensure_login(connection, name, PIPELINE, "second")
        memberships = _memberships(connection, name)
        attributes = connection.execute(
            sa.text(
                "select rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls"
                " from pg_roles where rolname = :name"
            ),
            {"name": name},
        ).one()
        connection.exec_driver_sql(f"drop role {name}")
    assert memberships == [PIPELINE]
    assert tuple(attributes) == (True, False, False, False, False)


def test_a_login_joins_only_a_group_role(owner: Engine) -> None:
    with owner.begin() as connection, pytest.raises(ValueError, match="not one of the group roles"):
        ensure_login(connection, "fraud_test_login_bad", "pg_write_server_files", "x")
