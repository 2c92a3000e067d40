-- Per UTC day and model version, how well the scores separated fraud from genuine, using the
-- labels known now. Labels arrive days late: read label_maturity_days before trusting a day.
-- Computed from scores and labels here; it does not depend on any stored metric table.
create or replace view analytics.model_performance_daily as

with

scores as (

    select
        transaction_id,
        (tx_datetime at time zone 'UTC')::date as tx_date,
        model_name,
        model_version,
        score,
        is_alert
    from scoring.transaction_scores
    left join scoring.scored_day
        on (transaction_scores.tx_datetime at time zone 'UTC')::date = scored_day.tx_date
    -- A day's published run only: never a run still under way (sql/V025__publish_scored_days.sql).
    where transaction_scores.generation = coalesce(scored_day.generation, 0)

),

frauds_known_now as (

    select transaction_id
    from raw.fraud_labels
    where is_fraud and reported_at <= now()

),

-- Reported or found by an investigator (cases.labels_as_of): a report wins, else the latest verdict.
frauds_labelled_now as (

    select transaction_id
    from cases.labels_as_of(now())
    where is_fraud

),

labelled as (

    select
        scores.*,
        frauds_known_now.transaction_id is not null as is_fraud_reported,
        frauds_labelled_now.transaction_id is not null as is_fraud_known
    from scores
    left join frauds_known_now
        on scores.transaction_id = frauds_known_now.transaction_id
    left join frauds_labelled_now
        on scores.transaction_id = frauds_labelled_now.transaction_id

),

per_day as (

    select
        tx_date,
        model_name,
        model_version,
        count(*) as transactions,
        count(*) filter (where is_fraud_reported) as frauds_reported,
        count(*) filter (where is_alert) as alerts,
        count(*) filter (where is_alert and is_fraud_reported) as alerts_confirmed,
        avg(score) filter (where is_fraud_reported) as average_score_fraud,
        avg(score) filter (where not is_fraud_reported) as average_score_genuine,
        count(*) filter (where is_fraud_known) as frauds_known,
        count(*) filter (where is_alert and is_fraud_known) as alerts_known_fraud
    from labelled
    group by tx_date, model_name, model_version

),

final as (

    select
        tx_date,
        model_name,
        model_version,
        transactions,
        frauds_reported,
        frauds_reported::double precision / transactions as fraud_rate_reported,
        alerts,
        alerts_confirmed,
        alerts_confirmed::double precision / nullif(alerts, 0) as alert_precision,
        alerts_confirmed::double precision / nullif(frauds_reported, 0) as alert_recall,
        average_score_fraud,
        average_score_genuine,
        (now() at time zone 'UTC')::date - tx_date as label_maturity_days,
        frauds_known,
        alerts_known_fraud
    from per_day

)

select * from final;

comment on view analytics.model_performance_daily is
    'Per UTC day and model version: frauds reported so far, alert precision and recall, and mean scores of fraud and genuine, from scores and the labels known now.';
comment on column analytics.model_performance_daily.tx_date is
    'UTC day of the transactions (one nightly batch).';
comment on column analytics.model_performance_daily.model_name is
    'Registered model that scored the day.';
comment on column analytics.model_performance_daily.model_version is
    'Version of the registered model that scored the day.';
comment on column analytics.model_performance_daily.transactions is
    'Transactions of the day that received a score.';
comment on column analytics.model_performance_daily.frauds_reported is
    'Transactions of the day with a fraud report known now.';
comment on column analytics.model_performance_daily.fraud_rate_reported is
    'frauds_reported / transactions: the fraud rate as known now (a lower bound until the labels mature).';
comment on column analytics.model_performance_daily.alerts is
    'Transactions of the day sent for review.';
comment on column analytics.model_performance_daily.alerts_confirmed is
    'Alerts of the day with a fraud report known now (true positives so far).';
comment on column analytics.model_performance_daily.alert_precision is
    'alerts_confirmed / alerts: share of alerts that were fraud; null when the day had no alert.';
comment on column analytics.model_performance_daily.alert_recall is
    'alerts_confirmed / frauds_reported: share of reported frauds that were alerted; null while no fraud is reported.';
comment on column analytics.model_performance_daily.average_score_fraud is
    'Mean score of the day''s transactions with a fraud report; null while none is reported.';
comment on column analytics.model_performance_daily.average_score_genuine is
    'Mean score of the day''s transactions without a fraud report (so far).';
comment on column analytics.model_performance_daily.label_maturity_days is
    'Days between the transactions'' day and today (UTC): labels arrive about a week late, so younger days understate fraud.';
comment on column analytics.model_performance_daily.frauds_known is
    'Transactions of the day that are fraud by the label known now: reported or, until a report is known, an investigator''s latest verdict (the other columns count reports only).';
comment on column analytics.model_performance_daily.alerts_known_fraud is
    'Alerts of the day that are fraud by the label known now, reported or by an investigator''s verdict.';
