"""The login roles: people and services log in as roles that are members of one group role only.

``fraud db logins`` (and ``make up``) create the three logins below with the passwords the
settings hold; a person gets a login of their own the same way (``docs/analysts.md``). The group
roles and what they may do are :mod:`fraud.privileges`.
"""

from __future__ import annotations

import sqlalchemy as sa
from psycopg2 import sql
from sqlalchemy.engine import Connection

from fraud.bulk import dbapi
from fraud.config import ConfigError, Settings
from fraud.privileges import ANALYST, GROUP_ROLES, INVESTIGATOR, PIPELINE

_ROLE_EXISTS_SQL = "select 1 from pg_roles where rolname = :name"

# The login roles `fraud db logins` creates; each is a member of one group role only.
LOGINS = {
    "fraud_pipeline_login": PIPELINE,
    "fraud_analyst_login": ANALYST,
    "fraud_investigator_login": INVESTIGATOR,
}


def ensure_login(connection: Connection, name: str, group: str, password: str) -> None:
    """Create or update a LOGIN role that is a member of ``group`` and of nothing else."""
    if group not in GROUP_ROLES:
        raise ValueError(f"{group}: not one of the group roles {', '.join(GROUP_ROLES)}")
    exists = connection.execute(sa.text(_ROLE_EXISTS_SQL), {"name": name}).scalar()
    verb = "alter" if exists else "create"
    attributes = "login inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls"
    with dbapi(connection).cursor() as cursor:
        cursor.execute(
            sql.SQL("{} role {} with {} password {}").format(
                sql.SQL(verb), sql.Identifier(name), sql.SQL(attributes), sql.Literal(password)
            )
        )
        others = connection.execute(sa.text(_MEMBERSHIPS_SQL), {"name": name}).scalars().all()
        for other in others:
            if other != group:
                cursor.execute(
                    sql.SQL("revoke {} from {}").format(sql.Identifier(other), sql.Identifier(name))
                )
        cursor.execute(
            sql.SQL("grant {} to {}").format(sql.Identifier(group), sql.Identifier(name))
        )


_MEMBERSHIPS_SQL = """
select g.rolname from pg_auth_members m
join pg_roles g on g.oid = m.roleid
join pg_roles u on u.oid = m.member
where u.rolname = :name
"""


def ensure_logins(connection: Connection, settings: Settings) -> None:
    """Create or update every login of :data:`LOGINS` with the passwords the settings hold."""
    passwords = {
        "fraud_pipeline_login": ("FRAUD_PIPELINE_DB_PASSWORD", settings.pipeline_db_password),
        "fraud_analyst_login": ("FRAUD_ANALYST_DB_PASSWORD", settings.analyst_db_password),
        "fraud_investigator_login": (
            "FRAUD_INVESTIGATOR_DB_PASSWORD",
            settings.investigator_db_password,
        ),
    }
    missing = [variable for variable, password in passwords.values() if not password]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} not set: each login needs its password")
    for login, group in LOGINS.items():
        ensure_login(connection, login, group, str(passwords[login][1]))
