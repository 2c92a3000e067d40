-- Per UTC day, model version and label maturity: how well the live model ranked the day's
-- transactions, measured by the nightly check once the day's labels were 7, 14 and 30 days old.
-- Unlike model_performance_daily, each figure is frozen at its maturity: a later label does not
-- move it, so the same maturity can be compared from day to day. The money of the alerts comes
-- as counts and sums: a week's alert precision is sum(alerted_cards_fraud) / sum(alerted_cards)
-- and its value detection rate sum(detected_amount) / sum(fraud_amount), not means of rates.
create or replace view analytics.model_performance_matured as

with

measured as (

    select * from monitoring.model_performance

),

final as (

    select
        date as tx_date,
        model_name,
        model_version,
        maturity_days,
        date + maturity_days as measured_on,
        transactions,
        frauds_known,
        average_precision,
        card_precision_at_100,
        recall_top_decile,
        alert_precision,
        computed_at,
        label_source,
        alerted_cards,
        alerted_cards_fraud,
        detected_amount,
        prevented_amount,
        missed_amount,
        genuine_amount_alerted,
        detected_amount + missed_amount as fraud_amount,
        value_detection_rate
    from measured

)

select * from final;

comment on view analytics.model_performance_matured is
    'Per UTC day, model version and label maturity (7, 14 and 30 days by default): average precision, card precision@100 (new cards only), recall in the top decile and alert precision, and the money of the alerts (alerted cards, detected, prevented, missed and genuine amounts), on the labels reported within maturity_days; unlike model_performance_daily, a later label does not move them.';
comment on column analytics.model_performance_matured.tx_date is
    'UTC day of the transactions measured (one nightly batch).';
comment on column analytics.model_performance_matured.model_name is
    'Registered model that scored the day.';
comment on column analytics.model_performance_matured.model_version is
    'Version of the registered model that scored the day.';
comment on column analytics.model_performance_matured.maturity_days is
    'Days of labels the measure used: fraud reports made before the end of tx_date + maturity_days.';
comment on column analytics.model_performance_matured.measured_on is
    'The night whose monitoring run took the measure: tx_date + maturity_days.';
comment on column analytics.model_performance_matured.transactions is
    'Transactions of the day scored by the version.';
comment on column analytics.model_performance_matured.frauds_known is
    'Transactions of the day with a fraud report within maturity_days.';
comment on column analytics.model_performance_matured.average_precision is
    'Average precision of the day''s scores against those reports; null while no fraud is known.';
comment on column analytics.model_performance_matured.card_precision_at_100 is
    'The Handbook''s card precision at 100: share of the day''s 100 highest-scored cards with a known fraud, leaving out the cards with a fraud (on a payment of the 30 days before) reported before the day began, which are blocked already; null when the day had no such card.';
comment on column analytics.model_performance_matured.recall_top_decile is
    'Share of the known frauds among the day''s top tenth of scores; null while no fraud is known.';
comment on column analytics.model_performance_matured.alert_precision is
    'Share of the day''s alerts with a known fraud; null when the day had no alert.';
comment on column analytics.model_performance_matured.computed_at is
    'When the measure was taken.';
comment on column analytics.model_performance_matured.label_source is
    'The labels the figures are measured on: reported (fraud reports and chargebacks known within maturity_days, which reach every payment).';
comment on column analytics.model_performance_matured.alerted_cards is
    'Cards with an alert that night, leaving out the cards with a fraud known before the night began; null before the money was measured.';
comment on column analytics.model_performance_matured.alerted_cards_fraud is
    'Alerted cards with a fraud reported within maturity_days on a payment of that night. A week''s card precision of the alerts is sum(alerted_cards_fraud) / sum(alerted_cards).';
comment on column analytics.model_performance_matured.detected_amount is
    'Fraud amount of the night''s payments on the alerted cards.';
comment on column analytics.model_performance_matured.prevented_amount is
    'Fraud amount on the alerted cards confirmed fraud, made from the review (the night''s end plus FRAUD_REVIEW_DELAY_HOURS) until the card''s first fraud report: what the alerts stopped.';
comment on column analytics.model_performance_matured.missed_amount is
    'Fraud amount of the night''s payments on the cards not alerted.';
comment on column analytics.model_performance_matured.genuine_amount_alerted is
    'Genuine amount of the night''s payments on the alerted cards: the good customers the alerts bothered.';
comment on column analytics.model_performance_matured.fraud_amount is
    'detected_amount + missed_amount: the fraud amount of the night on the cards not known before it.';
comment on column analytics.model_performance_matured.value_detection_rate is
    'detected_amount / fraud_amount; null when the night had no known fraud. Over a week: sum(detected_amount) / sum(fraud_amount).';
