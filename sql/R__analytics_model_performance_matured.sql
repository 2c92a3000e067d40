-- Per UTC day, model version and label maturity: how well the live model ranked the day's
-- transactions, measured by the nightly check once the day's labels were 7, 14 and 30 days old.
-- Unlike model_performance_daily, each figure is frozen at its maturity: a later label does not
-- move it, so the same maturity can be compared from day to day.
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
        label_source
    from measured

)

select * from final;

comment on view analytics.model_performance_matured is
    'Per UTC day, model version and label maturity (7, 14 and 30 days by default): average precision, card precision@100 (new cards only), recall in the top decile and alert precision, on the labels reported within maturity_days; unlike model_performance_daily, a later label does not move them.';
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
