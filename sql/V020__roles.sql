-- Least privilege. Two group roles without login; people and services log in as their own
-- roles and are made members (docs/analysts.md):
--   fraud_analyst  reads the analytics views, nothing else, and writes nowhere;
--   fraud_pipeline reads raw.* and reads and writes the layers the DAGs fill, without DDL.
-- Roles belong to the server and grants to each database: the roles are created once, by the
-- first database to migrate (an administrator may create them beforehand; the migration then
-- needs no CREATEROLE), and granted here in every database. Several databases may migrate at
-- the same moment, hence the exception handlers.
-- The analytics views run with their owner's privileges, so analysts need no grant on the
-- tables behind them. Default privileges cover the tables and views later migrations create,
-- as long as migrations keep running as the same owner.
do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'fraud_analyst') then
        create role fraud_analyst nologin;
        comment on role fraud_analyst is
            'Group role of analysts: read-only on the analytics views of the fraud warehouse.';
    end if;
exception when duplicate_object or unique_violation then
    null;
end
$$;

do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'fraud_pipeline') then
        create role fraud_pipeline nologin;
        comment on role fraud_pipeline is
            'Group role of the fraud DAGs: reads raw, writes staging, quality, scoring, monitoring; no DDL.';
    end if;
exception when duplicate_object or unique_violation then
    null;
end
$$;

do $$
begin
    execute 'grant connect on database ' || quote_ident(current_database())
        || ' to fraud_analyst, fraud_pipeline';
end
$$;

-- PostgreSQL 15 already refuses CREATE in the public schema to ordinary roles; older servers do not.
revoke create on schema public from public;

-- Analysts: the analytics schema only.
grant usage on schema analytics to fraud_analyst;
grant select on all tables in schema analytics to fraud_analyst;
alter default privileges in schema analytics grant select on tables to fraud_analyst;

-- Pipeline: read what the payments system writes, never change it.
grant usage on schema raw to fraud_pipeline;
grant select on all tables in schema raw to fraud_pipeline;
alter default privileges in schema raw grant select on tables to fraud_pipeline;

-- Pipeline: the layers it fills; rows only, no DDL and no truncate.
grant usage on schema staging, quality, scoring, monitoring to fraud_pipeline;
grant select, insert, update, delete
    on all tables in schema staging, quality, scoring, monitoring to fraud_pipeline;
grant usage, select on all sequences in schema staging, quality, scoring, monitoring to fraud_pipeline;
alter default privileges in schema staging, quality, scoring, monitoring
    grant select, insert, update, delete on tables to fraud_pipeline;
alter default privileges in schema staging, quality, scoring, monitoring
    grant usage, select on sequences to fraud_pipeline;
