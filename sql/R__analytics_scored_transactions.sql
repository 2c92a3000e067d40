-- One row per scored transaction: the score, the model version that gave it, the alert and its
-- reasons, and the fraud label as far as the bank knows it now: the reported one
-- (is_fraud_reported, kept as it was) and the one of cases.labels_as_of, where an investigator's
-- verdict counts until a report is known (is_fraud_known, label_source).
-- Analytics views read base tables only (never each other), so each file can be replaced alone.
create or replace view analytics.scored_transactions as

with

scores as (

    select transaction_scores.*
    from scoring.transaction_scores
    left join scoring.scored_day
        on (transaction_scores.tx_datetime at time zone 'UTC')::date = scored_day.tx_date
    -- A day's published run only: never a run still under way (sql/V025__publish_scored_days.sql).
    where transaction_scores.generation = coalesce(scored_day.generation, 0)

),

labels_known_now as (

    select
        transaction_id,
        is_fraud,
        reported_at
    from raw.fraud_labels
    where reported_at <= now()

),

-- Reported or found by an investigator; an unreachable verdict is no label.
labels_as_of_now as (

    select
        transaction_id,
        is_fraud,
        source
    from cases.labels_as_of(now())
    where is_fraud is not null

),

glossary as (

    select
        name,
        meaning || ' (' || unit || ')' as meaning
    from analytics.feature_glossary

),

final as (

    select
        scores.transaction_id,
        scores.tx_datetime,
        (scores.tx_datetime at time zone 'UTC')::date as tx_date,
        scores.customer_id,
        scores.terminal_id,
        scores.tx_amount,
        scores.score,
        scores.model_name,
        scores.model_version,
        scores.is_alert,
        scores.reason_1,
        scores.reason_1_contribution,
        scores.reason_2,
        scores.reason_2_contribution,
        scores.reason_3,
        scores.reason_3_contribution,
        coalesce(labels_known_now.is_fraud, false) as is_fraud_reported,
        labels_known_now.reported_at,
        scores.scored_at,
        labels_as_of_now.source as label_source,
        coalesce(labels_as_of_now.is_fraud, false) as is_fraud_known,
        scores.alert_rule,
        scores.alert_rank,
        scores.reason_1_value,
        reason_1_glossary.meaning as reason_1_meaning,
        scores.reason_2_value,
        reason_2_glossary.meaning as reason_2_meaning,
        scores.reason_3_value,
        reason_3_glossary.meaning as reason_3_meaning

    from scores
    left join labels_known_now
        on scores.transaction_id = labels_known_now.transaction_id
    left join labels_as_of_now
        on scores.transaction_id = labels_as_of_now.transaction_id
    left join glossary as reason_1_glossary on scores.reason_1 = reason_1_glossary.name
    left join glossary as reason_2_glossary on scores.reason_2 = reason_2_glossary.name
    left join glossary as reason_3_glossary on scores.reason_3 = reason_3_glossary.name

)

select * from final;

comment on view analytics.scored_transactions is
    'One row per scored transaction: score, model version, alert flag, the three reasons of an alert, and the fraud label known now.';
comment on column analytics.scored_transactions.transaction_id is
    'Transaction identifier, as in the payments system.';
comment on column analytics.scored_transactions.tx_datetime is
    'When the transaction happened.';
comment on column analytics.scored_transactions.tx_date is
    'UTC day of the transaction: the nightly batch that scored it.';
comment on column analytics.scored_transactions.customer_id is
    'Customer (card holder) identifier.';
comment on column analytics.scored_transactions.terminal_id is
    'Terminal (merchant point of sale) identifier.';
comment on column analytics.scored_transactions.tx_amount is
    'Transaction amount, exact to the cent.';
comment on column analytics.scored_transactions.score is
    'Model fraud score between 0 and 1; higher is more suspicious.';
comment on column analytics.scored_transactions.model_name is
    'Registered model that produced the score.';
comment on column analytics.scored_transactions.model_version is
    'Version of the registered model that produced the score.';
comment on column analytics.scored_transactions.is_alert is
    'True when the transaction''s card was alerted that night (every payment of an alerted card is): alert_rule says by which rule.';
comment on column analytics.scored_transactions.reason_1 is
    'Alerts only: the feature that pushed the score up most (largest positive contribution).';
comment on column analytics.scored_transactions.reason_1_contribution is
    'Alerts only: contribution of reason_1 to the score, in log-odds.';
comment on column analytics.scored_transactions.reason_2 is
    'Alerts only: the feature with the second largest positive contribution; null when fewer features pushed the score up.';
comment on column analytics.scored_transactions.reason_2_contribution is
    'Alerts only: contribution of reason_2 to the score, in log-odds.';
comment on column analytics.scored_transactions.reason_3 is
    'Alerts only: the feature with the third largest positive contribution; null when fewer features pushed the score up.';
comment on column analytics.scored_transactions.reason_3_contribution is
    'Alerts only: contribution of reason_3 to the score, in log-odds.';
comment on column analytics.scored_transactions.is_fraud_reported is
    'True when a fraud report or chargeback is known now; false means none reported yet, which becomes reliable only days after the transaction.';
comment on column analytics.scored_transactions.reported_at is
    'When the bank learnt the label (fraud or not); null while no label is known.';
comment on column analytics.scored_transactions.scored_at is
    'When the score was written; a re-run of the night replaces the day''s scores once it is complete.';
comment on column analytics.scored_transactions.label_source is
    'Where the label known now comes from: reported (a fraud report, chargeback or dispute outcome, which wins whenever known) or investigator (the latest verdict on the payment); null while neither is known, or the cardholder was unreachable.';
comment on column analytics.scored_transactions.is_fraud_known is
    'True when the payment is fraud by the label known now (label_source): a reported fraud, or else an investigator''s latest verdict fraud_confirmed.';
comment on column analytics.scored_transactions.alert_rule is
    'Alerts only: the rule that alerted the card that night: budget (one of the FRAUD_REVIEW_CAPACITY cards ranked first by FRAUD_ALERT_RANKING) or threshold (a payment of the card scored at or above FRAUD_ALERT_THRESHOLD, beyond the budget).';
comment on column analytics.scored_transactions.alert_rank is
    'Alerts only: the card''s rank among the night''s candidate cards by the ranking the night ran with (analytics.daily_alerts.alert_ranking), 1 first.';
comment on column analytics.scored_transactions.reason_1_value is
    'Alerts only: the value of feature reason_1 for this payment, in the unit of reason_1_meaning.';
comment on column analytics.scored_transactions.reason_1_meaning is
    'Alerts only: reason_1 in plain words, with its unit (analytics.feature_glossary).';
comment on column analytics.scored_transactions.reason_2_value is
    'Alerts only: the value of feature reason_2 for this payment, in the unit of reason_2_meaning.';
comment on column analytics.scored_transactions.reason_2_meaning is
    'Alerts only: reason_2 in plain words, with its unit (analytics.feature_glossary).';
comment on column analytics.scored_transactions.reason_3_value is
    'Alerts only: the value of feature reason_3 for this payment, in the unit of reason_3_meaning.';
comment on column analytics.scored_transactions.reason_3_meaning is
    'Alerts only: reason_3 in plain words, with its unit (analytics.feature_glossary).';

-- One UTC night of the view, reading that night's day partition only: a lookup of a payment
-- takes its id and its UTC day. SQL, STABLE, SECURITY INVOKER and no SET clause: the planner
-- inlines it into the caller's query, so its plan (EXPLAIN) shows the one partition it reads,
-- and the caller needs nothing but the view.
create or replace function analytics.scored_transactions_on(night date)
returns setof analytics.scored_transactions
language sql stable security invoker as $$
    select *
    from analytics.scored_transactions
    where tx_datetime >= night::timestamp at time zone 'UTC'
        and tx_datetime < (night + 1)::timestamp at time zone 'UTC'
$$;

comment on function analytics.scored_transactions_on(date) is
    'analytics.scored_transactions for one UTC night, reading that night''s day partition only.';
