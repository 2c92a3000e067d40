-- The retention minimum: the derived day partitions of the most recent days can never be dropped,
-- whatever day the caller names. staging.drop_partitions_before(day) runs with the owner's
-- rights and the pipeline's login may call it, so the floor lives here, in a table only the
-- owner can write: `fraud db migrate` (and `make up`) store the settings' minimum, the oldest
-- label maturity the performance monitoring reads plus one day (31 by default).

create table if not exists staging.retention_minimum (
    only_row boolean primary key default true check (only_row),
    days integer not null check (days >= 1),
    set_at timestamptz not null default now()
);

comment on table staging.retention_minimum is
    'The fewest days of derived partitions that are always kept (FRAUD_RETENTION_DAYS may not be lower); written by the owner only.';

insert into staging.retention_minimum (days) values (31) on conflict (only_row) do nothing;

create or replace function staging.drop_partitions_before(day date)
returns setof text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    partition record;
    minimum integer := coalesce((select days from staging.retention_minimum), 31);
    latest date := (now() at time zone 'utc')::date - (minimum - 1);
begin
    if day is null or day > latest then
        raise exception using
            errcode = 'FR001',
            message = format(
                'drop_partitions_before(%s) refused: %s is inside the retention minimum of %s'
                ' days (the latest day allowed today is %s; FRAUD_RETENTION_DAYS must be at least'
                ' %s)',
                coalesce(day::text, 'null'), coalesce(day::text, 'null'), minimum, latest, minimum
            );
    end if;
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
    'Drop the day partitions of the staged transactions, features and scores older than the given day; returns their names. Refuses a day inside the retention minimum (staging.retention_minimum). Never touches raw.*.';
