-- Per UTC day and failed check: how many quarantined rows failed it, still open or resolved.
-- Counts only, never the quarantined rows themselves.
create or replace view analytics.quarantine_reasons_daily as

with

quarantine as (

    select
        (data_interval_start at time zone 'UTC')::date as tx_date,
        unnest(failed_expectations) as failed_expectation,
        resolved_at is null as is_open,
        quarantined_at
    from quality.quarantine

),

final as (

    select
        tx_date,
        split_part(failed_expectation, '.', 1) as suite,
        failed_expectation,
        count(*) filter (where is_open) as open_rows,
        count(*) filter (where not is_open) as resolved_rows,
        max(quarantined_at) as last_quarantined_at
    from quarantine
    group by tx_date, failed_expectation

)

select * from final;

comment on view analytics.quarantine_reasons_daily is
    'Per UTC day and failed data-quality check: quarantined rows still open and rows resolved by a replay.';
comment on column analytics.quarantine_reasons_daily.tx_date is
    'UTC day of the data interval whose validation quarantined the rows.';
comment on column analytics.quarantine_reasons_daily.suite is
    'Expectation suite of the check: transactions or fraud_labels.';
comment on column analytics.quarantine_reasons_daily.failed_expectation is
    'The check that failed, as suite.expectation(column); a row failing several checks counts once under each.';
comment on column analytics.quarantine_reasons_daily.open_rows is
    'Quarantined rows that failed the check and are still open.';
comment on column analytics.quarantine_reasons_daily.resolved_rows is
    'Rows that failed the check and were resolved by a later replay of the day.';
comment on column analytics.quarantine_reasons_daily.last_quarantined_at is
    'When a row last failed the check on that day.';
