-- Customers with repeated alerts: cards alerted on at least two different days in the last 30
-- days, with how much money the alerted transactions moved and whether any fraud is confirmed.
-- The filter is on tx_datetime, from a UTC midnight: only those 30 days' partitions are read.
select
    customer_id,
    count(distinct tx_date) as days_alerted,
    count(*) as alerts,
    sum(tx_amount) as amount_alerted,
    min(tx_datetime) as first_alert_at,
    max(tx_datetime) as last_alert_at,
    count(*) filter (where is_fraud_reported) as alerts_confirmed
from analytics.scored_transactions
where is_alert
    and tx_datetime >= ((now() at time zone 'UTC')::date - 30)::timestamp at time zone 'UTC'
group by customer_id
having count(distinct tx_date) >= 2
order by days_alerted desc, alerts desc, customer_id
limit 50;
