-- The investigators' queue: every payment of each card alerted on a night (the published
-- generation only), with the latest verdict recorded on it, if any. A card is reviewed for the
-- night it was alerted; its payments of that night are what the cardholder is asked about.
--
-- cases.alert_queue_of(night) is one night's queue and reads that night's day partition only:
-- what an investigator's morning reads. The view is that function over every night with an
-- alert, so the two cannot disagree; a filter on the view's tx_date still computes every night.
create or replace function cases.alert_queue_of(night date)
returns table (
    tx_date date,
    customer_id bigint,
    transaction_id bigint,
    tx_datetime timestamptz,
    terminal_id bigint,
    tx_amount numeric,
    score double precision,
    is_alert boolean,
    model_version integer,
    reason_1 text,
    reason_2 text,
    reason_3 text,
    outcome text,
    decided_by text,
    decided_at timestamptz
)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$

with

published as (

    select transaction_scores.*
    from scoring.transaction_scores
    left join scoring.scored_day on scored_day.tx_date = night
    where transaction_scores.tx_datetime >= night::timestamp at time zone 'UTC'
        and transaction_scores.tx_datetime < (night + 1)::timestamp at time zone 'UTC'
        and transaction_scores.generation = coalesce(scored_day.generation, 0)

),

card_payments as (

    select published.*
    from published
    where published.customer_id in (select alerted.customer_id from published as alerted where alerted.is_alert)

),

latest_verdicts as (

    select distinct on (alert_outcomes.transaction_id)
        alert_outcomes.transaction_id,
        alert_outcomes.outcome,
        alert_outcomes.decided_by,
        alert_outcomes.decided_at
    from cases.alert_outcomes
    where alert_outcomes.transaction_id in (select card_payments.transaction_id from card_payments)
        and alert_outcomes.known_at <= now()
    order by
        alert_outcomes.transaction_id,
        alert_outcomes.known_at desc,
        alert_outcomes.outcome_id desc

)

select
    night,
    card_payments.customer_id,
    card_payments.transaction_id,
    card_payments.tx_datetime,
    card_payments.terminal_id,
    card_payments.tx_amount,
    card_payments.score,
    card_payments.is_alert,
    card_payments.model_version,
    card_payments.reason_1,
    card_payments.reason_2,
    card_payments.reason_3,
    latest_verdicts.outcome,
    latest_verdicts.decided_by,
    latest_verdicts.decided_at
from card_payments
left join latest_verdicts
    on card_payments.transaction_id = latest_verdicts.transaction_id

$$;

comment on function cases.alert_queue_of(date) is
    'cases.alert_queue for one night, reading that night''s day partition only.';

create or replace view cases.alert_queue as

with

alerted_nights as (

    select distinct (tx_datetime at time zone 'UTC')::date as night
    from scoring.transaction_scores
    where is_alert

)

select
    queue.tx_date,
    queue.customer_id,
    queue.transaction_id,
    queue.tx_datetime,
    queue.terminal_id,
    queue.tx_amount::numeric(12, 2) as tx_amount,
    queue.score,
    queue.is_alert,
    queue.model_version,
    queue.reason_1,
    queue.reason_2,
    queue.reason_3,
    queue.outcome,
    queue.decided_by,
    queue.decided_at
from alerted_nights
cross join lateral cases.alert_queue_of(alerted_nights.night) as queue;

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
