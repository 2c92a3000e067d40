-- The investigators' queue: every payment of each card alerted on a night (the published
-- generation only), with the latest verdict recorded on it, if any. A card is reviewed for the
-- night it was alerted; its payments of that night are what the cardholder is asked about.
create or replace view cases.alert_queue as

with

published as (

    select transaction_scores.*
    from scoring.transaction_scores
    left join scoring.scored_day
        on (transaction_scores.tx_datetime at time zone 'UTC')::date = scored_day.tx_date
    -- A day's published run only: never a run still under way (sql/V025__publish_scored_days.sql).
    where transaction_scores.generation = coalesce(scored_day.generation, 0)

),

alerted_cards as (

    select distinct
        (tx_datetime at time zone 'UTC')::date as tx_date,
        customer_id
    from published
    where is_alert

),

latest_verdicts as (

    select distinct on (transaction_id)
        transaction_id,
        outcome,
        decided_by,
        decided_at,
        known_at
    from cases.alert_outcomes
    where known_at <= now()
    order by transaction_id, known_at desc, outcome_id desc

),

final as (

    select
        alerted_cards.tx_date,
        published.customer_id,
        published.transaction_id,
        published.tx_datetime,
        published.terminal_id,
        published.tx_amount,
        published.score,
        published.is_alert,
        published.model_version,
        published.reason_1,
        published.reason_2,
        published.reason_3,
        latest_verdicts.outcome,
        latest_verdicts.decided_by,
        latest_verdicts.decided_at

    from published
    inner join alerted_cards
        on (published.tx_datetime at time zone 'UTC')::date = alerted_cards.tx_date
        and published.customer_id = alerted_cards.customer_id
    left join latest_verdicts
        on published.transaction_id = latest_verdicts.transaction_id

)

select * from final;

comment on view cases.alert_queue is
    'Every payment of each card alerted on a night, with its latest verdict; a payment without one is still open.';
comment on column cases.alert_queue.tx_date is
    'UTC night on which the card was alerted.';
comment on column cases.alert_queue.customer_id is
    'The card to review (a card is a customer_id).';
comment on column cases.alert_queue.is_alert is
    'Whether this payment itself raised the alert; the card''s other payments of the night are reviewed too.';
comment on column cases.alert_queue.outcome is
    'Latest verdict on the payment (fraud_confirmed, genuine_confirmed, unreachable), null while open.';
