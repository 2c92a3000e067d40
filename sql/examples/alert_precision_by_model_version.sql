-- Alert precision by model version: of the alerts each version raised, how many turned out to be
-- fraud, and how many of the reported frauds it alerted on. Only days at least 7 days old count,
-- because fraud reports arrive about a week after the transaction.
select
    model_name,
    model_version,
    min(tx_date) as first_day,
    max(tx_date) as last_day,
    count(*) as days,
    sum(transactions) as transactions,
    sum(alerts) as alerts,
    sum(alerts_confirmed) as alerts_confirmed,
    sum(frauds_reported) as frauds_reported,
    round(sum(alerts_confirmed)::numeric / nullif(sum(alerts), 0), 4) as alert_precision,
    round(sum(alerts_confirmed)::numeric / nullif(sum(frauds_reported), 0), 4) as alert_recall
from analytics.model_performance_daily
where label_maturity_days >= 7
group by model_name, model_version
order by model_name, model_version;
