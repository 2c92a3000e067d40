-- The derived tables that grow by a day each night are range-partitioned by UTC day, so that a
-- night's replace touches one partition and a retention setting can drop whole old days
-- (never raw.*). Every row of the unpartitioned tables moves into its day's partition.
--
-- Partitions are created by staging.ensure_day_partitions(day), which every writer calls for
-- its interval in a short transaction of its own, and dropped by
-- staging.drop_partitions_before(day); both run with the owner's rights, so the pipeline's role
-- needs no DDL. A partition is created as a table and attached, which locks the parent only
-- against other DDL: reads and writes of other days go on.

create or replace function staging.ensure_day_partitions(day date)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    parent text;
    child text;
    created integer := 0;
    lower_bound timestamptz := day::timestamp at time zone 'UTC';
begin
    if to_regclass('scoring.transaction_scores_' || to_char(day, 'YYYYMMDD')) is not null then
        return 0;  -- the last of the three is created last: the day is ready
    end if;
    -- Two writers of the same new day queue here instead of both creating its partitions.
    perform pg_advisory_xact_lock(hashtext('fraud.day_partitions'));
    foreach parent in array array[
        'staging.transactions', 'staging.transaction_features', 'scoring.transaction_scores'
    ] loop
        child := parent || '_' || to_char(day, 'YYYYMMDD');
        if to_regclass(child) is null then
            execute format(
                'create table %s (like %s including defaults including constraints'
                ' including storage including statistics)',
                child, parent
            );
            execute format(
                'alter table %s attach partition %s for values from (%L) to (%L)',
                parent, child, lower_bound, lower_bound + interval '1 day'
            );
            created := created + 1;
        end if;
    end loop;
    return created;
end
$$;

comment on function staging.ensure_day_partitions(date) is
    'Create the UTC day''s partitions of the staged transactions, features and scores if missing; returns how many it created.';

create or replace function staging.drop_partitions_before(day date)
returns setof text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    partition record;
begin
    perform pg_advisory_xact_lock(hashtext('fraud.day_partitions'));
    for partition in
        select format('%I.%I', child_namespace.nspname, child.relname) as name
        from pg_inherits
        join pg_class as child on child.oid = pg_inherits.inhrelid
        join pg_namespace as child_namespace on child_namespace.oid = child.relnamespace
        where pg_inherits.inhparent in (
            'staging.transactions'::regclass,
            'staging.transaction_features'::regclass,
            'scoring.transaction_scores'::regclass
        )
          and child.relname ~ '_[0-9]{8}$'
          and to_date(right(child.relname, 8), 'YYYYMMDD') < day
        order by 1
    loop
        execute format('drop table %s', partition.name);
        return next partition.name;
    end loop;
end
$$;

comment on function staging.drop_partitions_before(date) is
    'Drop the day partitions of the staged transactions, features and scores older than the given day; returns their names. Never touches raw.*.';

do $$
declare
    spec record;
    old_index record;
    day date;
begin
    for spec in
        select schema_name, table_name
        from (values
            ('staging', 'transactions'),
            ('staging', 'transaction_features'),
            ('scoring', 'transaction_scores')
        ) as tables (schema_name, table_name)
    loop
        if exists (
            select 1 from pg_partitioned_table
            where partrelid = format('%I.%I', spec.schema_name, spec.table_name)::regclass
        ) then
            continue;
        end if;
        execute format(
            'alter table %I.%I rename to %I',
            spec.schema_name, spec.table_name, spec.table_name || '_unpartitioned'
        );
        -- Index names are per schema: free them for the partitioned table.
        for old_index in
            select indexname from pg_indexes
            where schemaname = spec.schema_name and tablename = spec.table_name || '_unpartitioned'
        loop
            execute format(
                'alter index %I.%I rename to %I',
                spec.schema_name, old_index.indexname, old_index.indexname || '_unpartitioned'
            );
        end loop;
        execute format(
            'create table %I.%I (like %I.%I including defaults including constraints'
            ' including comments including storage including statistics)'
            ' partition by range (tx_datetime)',
            spec.schema_name, spec.table_name, spec.schema_name, spec.table_name || '_unpartitioned'
        );
        execute format(
            'alter table %I.%I add primary key (transaction_id, tx_datetime)',
            spec.schema_name, spec.table_name
        );
    end loop;
end
$$;

create index if not exists transaction_scores_alert_idx
    on scoring.transaction_scores (tx_datetime) where is_alert;

-- Every day that holds a row gets its partitions; then the rows move.
do $$
declare
    day date;
begin
    if to_regclass('staging.transactions_unpartitioned') is null then
        return;
    end if;
    for day in
        select distinct (tx_datetime at time zone 'UTC')::date from staging.transactions_unpartitioned
        union
        select distinct (tx_datetime at time zone 'UTC')::date from staging.transaction_features_unpartitioned
        union
        select distinct (tx_datetime at time zone 'UTC')::date from scoring.transaction_scores_unpartitioned
    loop
        perform staging.ensure_day_partitions(day);
    end loop;
    insert into staging.transactions select * from staging.transactions_unpartitioned;
    insert into staging.transaction_features
        select * from staging.transaction_features_unpartitioned;
    insert into scoring.transaction_scores select * from scoring.transaction_scores_unpartitioned;
    -- The analytics views over the old tables go with them; the repeatable view migrations,
    -- which run after every versioned one, create them again over the partitioned tables.
    drop table staging.transactions_unpartitioned cascade;
    drop table staging.transaction_features_unpartitioned cascade;
    drop table scoring.transaction_scores_unpartitioned cascade;
end
$$;
