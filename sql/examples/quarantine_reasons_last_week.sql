-- Quarantine reasons last week: which data-quality checks set rows aside over the last 7 days,
-- how many of those rows are still open, and on how many days each check failed.
select
    suite,
    failed_expectation,
    sum(open_rows) as open_rows,
    sum(resolved_rows) as resolved_rows,
    count(distinct tx_date) as days_failed,
    max(last_quarantined_at) as last_quarantined_at
from analytics.quarantine_reasons_daily
where tx_date >= (now() at time zone 'UTC')::date - 7
group by suite, failed_expectation
order by open_rows desc, failed_expectation;
