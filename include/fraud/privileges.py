"""Who may do what in the warehouse: one declared table, applied by every migration run.

Three group roles without login hold the privileges (``sql/V020__roles.sql`` and
``sql/V032__cases_alert_outcomes.sql`` create them): ``fraud_pipeline`` gets what the nightly code
does and no more, ``fraud_analyst`` reads the analytics views, ``fraud_investigator`` reads the
alert queue and records verdicts. People and services log in as roles that are members of exactly one of them
(:mod:`fraud.logins`). :func:`apply_privileges` first takes every privilege of both roles (and
of PUBLIC) away from the warehouse's objects, then grants the table below, so a migration that
adds a table grants nothing until the table says so, and the catalog always equals the table
(``tests/integration/core/test_privileges.py`` reads it back). It runs as the owner, in the
migration's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from psycopg2 import sql
from sqlalchemy.engine import Connection

from fraud.bulk import dbapi

_CURRENT_DATABASE_SQL = "select current_database()"
_EXISTING_SCHEMAS_SQL = "select nspname from pg_namespace where nspname = any(:names)"

PIPELINE = "fraud_pipeline"
ANALYST = "fraud_analyst"
INVESTIGATOR = "fraud_investigator"
GROUP_ROLES = (PIPELINE, ANALYST, INVESTIGATOR)

MANAGED_SCHEMAS = ("raw", "staging", "quality", "scoring", "monitoring", "analytics", "cases")


@dataclass(frozen=True)
class Grant:
    """Privileges of one role on one object; ``columns`` narrows UPDATE to those columns."""

    role: str
    kind: str  # database, schema, table, sequence or function
    name: str  # "" for the warehouse database itself; schema.table; schema.function(args)
    privileges: tuple[str, ...]
    columns: tuple[str, ...] = ()


def _tables(role: str, privileges: tuple[str, ...], *names: str) -> list[Grant]:
    return [Grant(role, "table", name, privileges) for name in names]


_READ_WRITE_DAY = ("SELECT", "INSERT", "DELETE")  # a night replaces its own rows
_LEDGER = ("SELECT", "INSERT")  # append only: no update, no delete

ANALYTICS_VIEWS = (
    "alert_reviews_daily",
    "daily_alerts",
    "drift_summary",
    "feature_drift_daily",
    "labels",
    "model_decisions",
    "model_performance_daily",
    "model_performance_matured",
    "payments",
    "pipeline_alerts",
    "quality_daily",
    "quarantine_reasons_daily",
    "scored_transactions",
)

GRANTS: tuple[Grant, ...] = (
    Grant(PIPELINE, "database", "", ("CONNECT", "TEMPORARY")),  # the features' scratch tables
    Grant(ANALYST, "database", "", ("CONNECT",)),
    *[
        Grant(PIPELINE, "schema", schema, ("USAGE",))
        for schema in ("raw", "staging", "quality", "scoring", "monitoring")
    ],
    Grant(ANALYST, "schema", "analytics", ("USAGE",)),
    # What the payments system writes: read, never changed.
    *_tables(PIPELINE, ("SELECT",), "raw.transactions", "raw.fraud_labels"),
    # What a night replaces for its interval.
    *_tables(
        PIPELINE,
        _READ_WRITE_DAY,
        "staging.transactions",
        "staging.transaction_features",
        "monitoring.feature_drift",
        "monitoring.model_performance",
    ),
    Grant(
        PIPELINE,
        "table",
        "scoring.transaction_scores",
        _READ_WRITE_DAY,
        # The night's alert step marks alerts, their rule, rank and reasons, and carries a
        # share's published rows into the generation it publishes
        # (sql/V025__publish_scored_days.sql).
        columns=(
            "generation",
            "is_alert",
            "alert_rule",
            "alert_rank",
            "reason_1",
            "reason_1_contribution",
            "reason_1_value",
            "reason_2",
            "reason_2_contribution",
            "reason_2_value",
            "reason_3",
            "reason_3_contribution",
            "reason_3_value",
        ),
    ),
    # The policy each night's alerts ran with, replaced with the night's generation.
    *_tables(PIPELINE, _READ_WRITE_DAY, "scoring.alert_nights"),
    # Which generation of each day's scores readers see: the alert step publishes it.
    Grant(
        PIPELINE,
        "table",
        "scoring.scored_day",
        _LEDGER,
        columns=("generation", "published_at"),
    ),
    # Ledgers: every run appends, none rewrites.
    *_tables(
        PIPELINE,
        _LEDGER,
        "quality.validation_run",
        "monitoring.model_decisions",
        "monitoring.alerts",
    ),
    # Quarantined rows stay; a replay only marks them resolved.
    Grant(
        PIPELINE,
        "table",
        "quality.quarantine",
        _LEDGER,
        columns=("resolved_at", "resolved_by_run_id"),
    ),
    # Retraining requests are answered, never removed.
    Grant(
        PIPELINE,
        "table",
        "monitoring.retraining_requests",
        _LEDGER,
        columns=("status", "completed_at", "completed_by_run_id"),
    ),
    *[
        Grant(PIPELINE, "sequence", name, ("USAGE",))
        for name in (
            "quality.quarantine_quarantine_id_seq",
            "quality.validation_run_validation_run_id_seq",
            "monitoring.model_decisions_decision_id_seq",
            "monitoring.alerts_alert_id_seq",
            "monitoring.retraining_requests_request_id_seq",
        )
    ],
    *[
        Grant(PIPELINE, "function", name, ("EXECUTE",))
        for name in (
            "staging.share_of(id bigint, shares integer)",
            "staging.sample_of(id bigint, seed bigint)",
            "staging.ensure_day_partitions(day date)",
            "staging.drop_partitions_before(day date)",
        )
    ],
    *_tables(ANALYST, ("SELECT",), *(f"analytics.{view}" for view in ANALYTICS_VIEWS)),
    # The features in plain words (loaded by the migrations), and one night of the scores: run
    # with its caller's rights, so that the planner inlines it and prunes the day partitions.
    *_tables(ANALYST, ("SELECT",), "analytics.feature_glossary"),
    Grant(ANALYST, "function", "analytics.scored_transactions_on(night date)", ("EXECUTE",)),
    # Labels as of a moment: the pipeline calls it, analytics.labels calls it for analysts. It
    # reads raw.fraud_labels as its owner, so analysts need no grant on raw.*.
    *[
        Grant(role, "function", "cases.labels_as_of(as_of timestamp with time zone)", ("EXECUTE",))
        for role in (PIPELINE, ANALYST)
    ],
    # The frauds known as of a moment (features, training labels, the known-card rule): run with
    # its caller's rights, so that the planner inlines it; the pipeline reads both sources.
    Grant(
        PIPELINE,
        "function",
        "cases.frauds_known(since timestamp with time zone, as_of timestamp with time zone)",
        ("EXECUTE",),
    ),
    # The same rule asked of a few cards (the known-card rule of the night's alerts).
    Grant(
        PIPELINE,
        "function",
        "cases.cards_known(cards bigint[], since timestamp with time zone,"
        " as_of timestamp with time zone)",
        ("EXECUTE",),
    ),
    # The investigators' figures of a range of nights, for the page and analysts; it reads as
    # its owner, as the views do.
    Grant(
        ANALYST,
        "function",
        "analytics.alert_reviews(first_night date, last_night date)",
        ("EXECUTE",),
    ),
    # The pipeline reads verdicts (labels, the known-card rule), never writes them.
    Grant(PIPELINE, "schema", "cases", ("USAGE",)),
    Grant(PIPELINE, "table", "cases.alert_outcomes", ("SELECT",)),
    # Investigators: the queue and their verdicts, append only; nothing of raw.* or the rest.
    Grant(INVESTIGATOR, "database", "", ("CONNECT",)),
    Grant(INVESTIGATOR, "schema", "cases", ("USAGE",)),
    Grant(INVESTIGATOR, "table", "cases.alert_queue", ("SELECT",)),
    Grant(INVESTIGATOR, "function", "cases.alert_queue_of(night date)", ("EXECUTE",)),
    Grant(INVESTIGATOR, "table", "cases.alert_outcomes", _LEDGER),
    # An import checks each verdict against its payment's time, and reads nothing else of raw.*.
    Grant(INVESTIGATOR, "function", "cases.payment_times(ids bigint[])", ("EXECUTE",)),
)


def expected_privileges(grants: Iterable[Grant] = GRANTS) -> set[tuple[str, str, str, str]]:
    """The declared table as ``(role, kind, object, privilege)`` rows, the catalog's shape.

    A column privilege reads as kind ``column``, object ``schema.table.column``, privilege
    ``UPDATE``; ``UPDATE`` in ``privileges`` with columns never appears at table level.
    """
    rows: set[tuple[str, str, str, str]] = set()
    for grant in grants:
        for privilege in grant.privileges:
            rows.add((grant.role, grant.kind, grant.name, privilege))
        for column in grant.columns:
            rows.add((grant.role, "column", f"{grant.name}.{column}", "UPDATE"))
    return rows


def apply_privileges(connection: Connection) -> None:
    """Make the catalog equal the declared table: revoke everything, then grant it."""
    with dbapi(connection).cursor() as cursor:
        for statement in (*_revocations(connection), *_grant_statements(GRANTS)):
            cursor.execute(statement)


def _revocations(connection: Connection) -> list[sql.Composable]:
    """Take away what any earlier migration granted the group roles, and PUBLIC's defaults."""
    roles = sql.SQL(", ").join(sql.Identifier(role) for role in GROUP_ROLES)
    everyone = sql.SQL("public, {}").format(roles)
    schemas = sql.SQL(", ").join(sql.Identifier(schema) for schema in _existing_schemas(connection))
    database = sql.Identifier(str(connection.execute(sa.text(_CURRENT_DATABASE_SQL)).scalar()))
    statements = [
        sql.SQL("revoke all on database {} from {}").format(database, everyone),
        sql.SQL("revoke all on schema {} from {}").format(schemas, everyone),
        sql.SQL("revoke all on all tables in schema {} from {}").format(schemas, everyone),
        sql.SQL("revoke all on all sequences in schema {} from {}").format(schemas, everyone),
        sql.SQL("revoke all on all functions in schema {} from {}").format(schemas, everyone),
        # Partitions a writer creates later get nothing: they are reached through their parent.
        sql.SQL("alter default privileges in schema {} revoke all on tables from {}").format(
            schemas, roles
        ),
        sql.SQL("alter default privileges in schema {} revoke all on sequences from {}").format(
            schemas, roles
        ),
        sql.SQL(
            "alter default privileges in schema {} revoke execute on functions from public"
        ).format(schemas),
        sql.SQL("revoke all on schema public from {}").format(everyone),
    ]
    # Column grants outlive a table-level REVOKE ALL only when granted on their own.
    for table, column in connection.execute(
        sa.text(_COLUMN_GRANTS_SQL), {"roles": list(GROUP_ROLES)}
    ):
        statements.append(
            sql.SQL("revoke all ({}) on {} from {}").format(
                sql.Identifier(column), _qualified(table), roles
            )
        )
    return statements


def _existing_schemas(connection: Connection) -> list[str]:
    present = set(
        connection.execute(
            sa.text(_EXISTING_SCHEMAS_SQL),
            {"names": list(MANAGED_SCHEMAS)},
        ).scalars()
    )
    return [schema for schema in MANAGED_SCHEMAS if schema in present]


_COLUMN_GRANTS_SQL = """
select distinct n.nspname || '.' || c.relname, a.attname
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
cross join lateral aclexplode(a.attacl) acl
join pg_roles r on r.oid = acl.grantee
where a.attacl is not null and r.rolname = any(:roles)
"""


def _qualified(name: str) -> sql.Composable:
    schema, _, table = name.partition(".")
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def _target(grant: Grant) -> sql.Composable:
    """The ON clause of a grant."""
    if grant.kind == "schema":
        return sql.SQL("schema {}").format(sql.Identifier(grant.name))
    if grant.kind == "function":
        schema, _, signature = grant.name.partition(".")
        return sql.SQL("function {}.{}").format(sql.Identifier(schema), sql.SQL(signature))
    return sql.SQL("{} {}").format(sql.SQL(grant.kind), _qualified(grant.name))


def _grant_statements(grants: Iterable[Grant]) -> list[sql.Composable]:
    statements: list[sql.Composable] = []
    for grant in grants:
        privileges = sql.SQL(", ").join(sql.SQL(privilege) for privilege in grant.privileges)
        role = sql.Identifier(grant.role)
        if grant.kind == "database":  # the database the migration runs in, whatever its name
            statements.append(
                sql.SQL(
                    "do $$ begin execute format('grant {} on database %I to {}',"
                    " current_database()); end $$"
                ).format(privileges, role)
            )
        else:
            statements.append(
                sql.SQL("grant {} on {} to {}").format(privileges, _target(grant), role)
            )
        if grant.columns:
            columns = sql.SQL(", ").join(sql.Identifier(column) for column in grant.columns)
            statements.append(
                sql.SQL("grant update ({}) on {} to {}").format(
                    columns, _qualified(grant.name), role
                )
            )
    return statements


# Every privilege PUBLIC or a group role holds on the warehouse's objects, NULL ACLs read as the
# defaults they stand for (a new function is executable by PUBLIC, a new database connectable).
_CATALOG_SQL = """
with acl as (
    -- text, not name: a function's signature may be longer than a name's 63 bytes.
    select 'database' as kind, ''::text as name, aclexplode(coalesce(datacl, acldefault('d', datdba))) as item
    from pg_database where datname = current_database()
    union all
    select 'schema', nspname, aclexplode(coalesce(nspacl, acldefault('n', nspowner)))
    from pg_namespace where nspname = any(:schemas)
    union all
    select case c.relkind when 'S' then 'sequence' else 'table' end,
        n.nspname || '.' || c.relname,
        aclexplode(coalesce(c.relacl, acldefault(
            case c.relkind when 'S' then 's' else 'r' end::"char", c.relowner)))
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(:schemas) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    union all
    select 'column', n.nspname || '.' || c.relname || '.' || a.attname, aclexplode(a.attacl)
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(:schemas) and a.attacl is not null
    union all
    select 'function', n.nspname || '.' || p.proname || '('
            || pg_get_function_identity_arguments(p.oid) || ')',
        aclexplode(coalesce(p.proacl, acldefault('f', p.proowner)))
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = any(:schemas)
)
select coalesce(r.rolname, 'public'), kind, name, (item).privilege_type
from acl left join pg_roles r on r.oid = (item).grantee
where (item).grantee = 0 or r.rolname = any(:roles)
"""


def catalog_privileges(connection: Connection) -> set[tuple[str, str, str, str]]:
    """What the catalog says PUBLIC and the group roles may do, in the declared table's shape."""
    rows = connection.execute(
        sa.text(_CATALOG_SQL), {"schemas": [*MANAGED_SCHEMAS, "public"], "roles": list(GROUP_ROLES)}
    )
    return {
        (str(role), str(kind), str(name), str(privilege)) for role, kind, name, privilege in rows
    }


_CLOSE_TO_PUBLIC_SQL = """
do $$ begin execute format('revoke all on database %I from public', current_database()); end $$
"""


def close_to_public(connection: Connection) -> None:
    """Take CONNECT and TEMP on the connection's database from PUBLIC (Airflow's, MLflow's)."""
    connection.execute(sa.text(_CLOSE_TO_PUBLIC_SQL))
