-- Nightly batches of the last 7 days side by side: rows that arrived and passed the quality gate,
-- rows quarantined, then transactions scored and alerts raised.
select
    batch.tx_date,
    quality.status as quality_status,
    quality.extracted_count,
    quality.quarantined_count,
    quality.open_quarantine_rows,
    batch.model_version,
    batch.transactions_scored,
    batch.alerts,
    round(batch.alert_rate::numeric, 4) as alert_rate,
    batch.confirmed_frauds_among_alerts
from analytics.daily_alerts as batch
left join analytics.quality_daily as quality
    on batch.tx_date = quality.tx_date
where batch.tx_date >= (now() at time zone 'UTC')::date - 7
order by batch.tx_date desc, batch.model_version;
