-- Per UTC day and model version: how many transactions were scored, how many became alerts,
-- and how many of those alerts are confirmed fraud so far.
create or replace view analytics.daily_alerts as

with

scores as (

    select
        transaction_id,
        (tx_datetime at time zone 'UTC')::date as tx_date,
        customer_id,
        model_name,
        model_version,
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

-- The policy each night's published alerts ran with (scoring.alert_nights).
policies as (

    select
        alert_nights.tx_date,
        alert_nights.alert_ranking,
        alert_nights.review_capacity,
        alert_nights.alert_threshold,
        alert_nights.budget_cards,
        alert_nights.threshold_cards
    from scoring.alert_nights
    inner join scoring.scored_day
        on alert_nights.tx_date = scored_day.tx_date
        and alert_nights.generation = scored_day.generation

),

counted as (

    select
        scores.tx_date,
        scores.model_name,
        scores.model_version,
        count(*) as transactions_scored,
        count(*) filter (where scores.is_alert) as alerts,
        (count(*) filter (where scores.is_alert))::double precision / count(*) as alert_rate,
        count(distinct scores.customer_id) filter (where scores.is_alert) as customers_alerted,
        count(frauds_known_now.transaction_id) filter (
            where scores.is_alert
        ) as confirmed_frauds_among_alerts,
        count(frauds_labelled_now.transaction_id) filter (
            where scores.is_alert
        ) as known_frauds_among_alerts

    from scores
    left join frauds_known_now
        on scores.transaction_id = frauds_known_now.transaction_id
    left join frauds_labelled_now
        on scores.transaction_id = frauds_labelled_now.transaction_id
    group by scores.tx_date, scores.model_name, scores.model_version

),

final as (

    select
        counted.*,
        policies.alert_ranking,
        policies.review_capacity,
        policies.alert_threshold,
        policies.budget_cards,
        policies.threshold_cards
    from counted
    left join policies on counted.tx_date = policies.tx_date

)

select * from final;

comment on view analytics.daily_alerts is
    'Per UTC day and model version: transactions scored, alerts raised, alert rate and the alerts confirmed as fraud so far.';
comment on column analytics.daily_alerts.tx_date is
    'UTC day of the transactions (one nightly batch).';
comment on column analytics.daily_alerts.model_name is
    'Registered model that scored the day.';
comment on column analytics.daily_alerts.model_version is
    'Version of the registered model that scored the day.';
comment on column analytics.daily_alerts.transactions_scored is
    'Transactions of the day that received a score.';
comment on column analytics.daily_alerts.alerts is
    'Transactions of the day sent for review: every payment of each alerted card.';
comment on column analytics.daily_alerts.alert_rate is
    'alerts / transactions_scored, between 0 and 1.';
comment on column analytics.daily_alerts.customers_alerted is
    'Distinct customers (cards) with at least one alert that day.';
comment on column analytics.daily_alerts.confirmed_frauds_among_alerts is
    'Alerts of the day with a fraud report known now (label source: reported); grows for days after the batch as reports arrive.';
comment on column analytics.daily_alerts.known_frauds_among_alerts is
    'Alerts of the day that are fraud by the label known now, reported or, until a report is known, an investigator''s latest verdict: known the morning after the night for the reviewed cards.';
comment on column analytics.daily_alerts.alert_ranking is
    'How the night ranked its cards for the review budget: score (the card''s highest score) or expected_loss (docs/alerts.md); null for nights alerted before the budget was recorded.';
comment on column analytics.daily_alerts.review_capacity is
    'The review capacity the night ran with: at most this many cards alerted within the budget.';
comment on column analytics.daily_alerts.alert_threshold is
    'The alert threshold the night ran with: cards with a payment at or above it alerted beyond the budget; null when off.';
comment on column analytics.daily_alerts.budget_cards is
    'Cards alerted within the budget (alert_rule budget).';
comment on column analytics.daily_alerts.threshold_cards is
    'Cards alerted beyond the budget by the threshold (alert_rule threshold).';
