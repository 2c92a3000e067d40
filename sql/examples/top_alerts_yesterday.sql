-- Top alerts of yesterday: the 20 most suspicious transactions of the last nightly batch
-- (yesterday in UTC), with the three features that pushed each score up and whether a fraud
-- report has arrived since. analytics.scored_transactions_on(night) reads that night's day
-- partition only.
select
    transaction_id,
    tx_datetime,
    customer_id,
    terminal_id,
    tx_amount,
    round(score::numeric, 4) as score,
    model_version,
    reason_1,
    round(reason_1_contribution::numeric, 3) as reason_1_contribution,
    reason_2,
    round(reason_2_contribution::numeric, 3) as reason_2_contribution,
    reason_3,
    round(reason_3_contribution::numeric, 3) as reason_3_contribution,
    is_fraud_reported
from analytics.scored_transactions_on((now() at time zone 'UTC')::date - 1)
where is_alert
order by score desc, transaction_id
limit 20;
