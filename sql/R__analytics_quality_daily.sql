-- Per UTC day: the row ledger of the latest validation run of the day's data interval
-- (extracted = validated + quarantined when it passed) and the quarantine rows still open.
-- Replays append runs; only the latest run of each interval counts.
create or replace view analytics.quality_daily as

with

runs as (

    select * from quality.validation_run

),

latest_runs as (

    select distinct on (data_interval_start, data_interval_end)
        *,
        count(*) over (
            partition by data_interval_start, data_interval_end
        ) as runs_of_interval
    from runs
    order by data_interval_start, data_interval_end, checked_at desc, validation_run_id desc

),

days as (

    select
        (data_interval_start at time zone 'UTC')::date as tx_date,
        case when bool_and(status = 'passed') then 'passed' else 'failed' end as status,
        sum(extracted_count) as extracted_count,
        sum(validated_count) as validated_count,
        sum(quarantined_count) as quarantined_count,
        sum(runs_of_interval) as validation_runs,
        (array_agg(run_id order by checked_at desc))[1] as last_run_id,
        max(checked_at) as last_checked_at,
        (array_agg(data_docs_path order by checked_at desc))[1] as data_docs_path
    from latest_runs
    group by 1

),

open_quarantine as (

    select
        (data_interval_start at time zone 'UTC')::date as tx_date,
        count(*) as open_quarantine_rows
    from quality.quarantine
    where resolved_at is null
    group by 1

),

final as (

    select
        days.tx_date,
        days.status,
        days.extracted_count,
        days.validated_count,
        days.quarantined_count,
        days.quarantined_count::double precision
        / nullif(days.extracted_count, 0) as quarantined_share,
        coalesce(open_quarantine.open_quarantine_rows, 0) as open_quarantine_rows,
        days.validation_runs,
        days.last_run_id,
        days.last_checked_at,
        days.data_docs_path
    from days
    left join open_quarantine
        on days.tx_date = open_quarantine.tx_date

)

select * from final;

comment on view analytics.quality_daily is
    'Per UTC day: extracted, validated and quarantined rows and the status of the latest validation run, and the quarantine rows still open.';
comment on column analytics.quality_daily.tx_date is
    'UTC day of the data interval (the transactions'' day).';
comment on column analytics.quality_daily.status is
    'Outcome of the latest validation run: passed (rows went to staging) or failed (the batch was stopped).';
comment on column analytics.quality_daily.extracted_count is
    'Rows read from raw.transactions for the day by the latest run.';
comment on column analytics.quality_daily.validated_count is
    'Rows that passed every row-level check and went to staging; 0 when the run failed.';
comment on column analytics.quality_daily.quarantined_count is
    'Rows set aside in quarantine by the latest run; 0 when the run failed.';
comment on column analytics.quality_daily.quarantined_share is
    'quarantined_count / extracted_count; null on a day without rows.';
comment on column analytics.quality_daily.open_quarantine_rows is
    'Quarantine rows of the day not yet resolved by a later replay (transactions and labels).';
comment on column analytics.quality_daily.validation_runs is
    'How many times the day was validated (replays included).';
comment on column analytics.quality_daily.last_run_id is
    'Airflow run id of the latest validation run.';
comment on column analytics.quality_daily.last_checked_at is
    'When the latest validation run checked the day.';
comment on column analytics.quality_daily.data_docs_path is
    'Location of the latest run''s data-quality report (Great Expectations Data Docs).';
