-- Per UTC night: the cards alerted, what the investigators found on them within a day and
-- since, the cards still waiting for a review, and the verdicts a later chargeback contradicts.
-- Investigators review cards (a card is a customer_id), so the precision here is the cards'
-- precision: cards with a payment confirmed as fraud over the cards whose holder was reached.
--
-- analytics.alert_reviews(first, last) computes it for a range of nights, reading only what
-- those nights need: their alerts (the day partitions of the range, through the alerts' partial
-- index) and the verdicts known since the first night, each joined to its payment by primary key;
-- never a night's whole scores. The view is that function over every night; the page calls the
-- function for its window. It runs with its owner's rights, as the views do, so analysts need no
-- grant on the tables behind it.
create or replace function analytics.alert_reviews(first_night date, last_night date)
returns table (
    tx_date date,
    cards_alerted bigint,
    cards_reviewed bigint,
    cards_reviewed_within_a_day bigint,
    cards_reached_within_a_day bigint,
    cards_confirmed_fraud_within_a_day bigint,
    alert_precision_by_verdict double precision,
    unreachable_rate double precision,
    cards_open bigint,
    verdicts_contradicted bigint
)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$

with

bounds as (

    select
        first_night::timestamp at time zone 'UTC' as start_at,
        (last_night + 1)::timestamp at time zone 'UTC' as end_at

),

alerted_cards as (

    select distinct
        (transaction_scores.tx_datetime at time zone 'UTC')::date as tx_date,
        transaction_scores.customer_id
    from scoring.transaction_scores
    cross join bounds
    left join scoring.scored_day
        on (transaction_scores.tx_datetime at time zone 'UTC')::date = scored_day.tx_date
    where transaction_scores.is_alert
        and transaction_scores.tx_datetime >= bounds.start_at
        and transaction_scores.tx_datetime < bounds.end_at
        -- A day's published run only (sql/V025__publish_scored_days.sql).
        and transaction_scores.generation = coalesce(scored_day.generation, 0)

),

-- Every verdict known now on a payment of the range: a verdict follows its payment, so the
-- known_at index bounds the read.
verdicts as (

    select
        alert_outcomes.transaction_id,
        alert_outcomes.outcome,
        alert_outcomes.known_at,
        alert_outcomes.outcome_id,
        (transactions.tx_datetime at time zone 'UTC')::date as tx_date,
        transactions.customer_id
    from cases.alert_outcomes
    cross join bounds
    inner join raw.transactions
        on alert_outcomes.transaction_id = transactions.transaction_id
    where alert_outcomes.known_at >= bounds.start_at
        and alert_outcomes.known_at <= now()
        and transactions.tx_datetime >= bounds.start_at
        and transactions.tx_datetime < bounds.end_at

),

latest_verdicts as (

    select distinct on (transaction_id)
        transaction_id,
        tx_date,
        customer_id,
        outcome
    from verdicts
    order by transaction_id, known_at desc, outcome_id desc

),

-- The latest verdict known by the end of the day after the night: the next morning's review.
first_day_verdicts as (

    select distinct on (transaction_id)
        transaction_id,
        tx_date,
        customer_id,
        outcome
    from verdicts
    where known_at < (tx_date + 2)::timestamp at time zone 'UTC'
    order by transaction_id, known_at desc, outcome_id desc

),

reviewed_cards as (

    select
        latest_verdicts.tx_date,
        latest_verdicts.customer_id,
        count(*) filter (
            where latest_verdicts.outcome = 'fraud_confirmed' and fraud_labels.is_fraud = false
                or latest_verdicts.outcome = 'genuine_confirmed' and fraud_labels.is_fraud
        ) as contradicted
    from latest_verdicts
    left join raw.fraud_labels
        on latest_verdicts.transaction_id = fraud_labels.transaction_id
        and fraud_labels.reported_at <= now()
    group by latest_verdicts.tx_date, latest_verdicts.customer_id

),

first_day_cards as (

    select
        tx_date,
        customer_id,
        bool_or(outcome in ('fraud_confirmed', 'genuine_confirmed')) as reached,
        bool_or(outcome = 'fraud_confirmed') as confirmed_fraud
    from first_day_verdicts
    group by tx_date, customer_id

),

cards as (

    select
        alerted_cards.tx_date,
        reviewed_cards.customer_id is not null as reviewed,
        first_day_cards.customer_id is not null as reviewed_within_a_day,
        coalesce(first_day_cards.reached, false) as reached_within_a_day,
        coalesce(first_day_cards.confirmed_fraud, false) as fraud_within_a_day,
        coalesce(reviewed_cards.contradicted, 0) as contradicted
    from alerted_cards
    left join reviewed_cards
        on alerted_cards.tx_date = reviewed_cards.tx_date
        and alerted_cards.customer_id = reviewed_cards.customer_id
    left join first_day_cards
        on alerted_cards.tx_date = first_day_cards.tx_date
        and alerted_cards.customer_id = first_day_cards.customer_id

)

select
    tx_date,
    count(*) as cards_alerted,
    count(*) filter (where reviewed) as cards_reviewed,
    count(*) filter (where reviewed_within_a_day) as cards_reviewed_within_a_day,
    count(*) filter (where reached_within_a_day) as cards_reached_within_a_day,
    count(*) filter (where fraud_within_a_day) as cards_confirmed_fraud_within_a_day,
    (count(*) filter (where fraud_within_a_day))::double precision
        / nullif(count(*) filter (where reached_within_a_day), 0)
        as alert_precision_by_verdict,
    (count(*) filter (where reviewed_within_a_day and not reached_within_a_day))
        ::double precision
        / nullif(count(*) filter (where reviewed_within_a_day), 0)
        as unreachable_rate,
    count(*) filter (where not reviewed) as cards_open,
    coalesce(sum(contradicted), 0)::bigint as verdicts_contradicted
from cards
group by tx_date

$$;

comment on function analytics.alert_reviews(date, date) is
    'analytics.alert_reviews_daily for the nights first_night to last_night, reading only those nights'' alerts and verdicts.';

create or replace view analytics.alert_reviews_daily as

select * from analytics.alert_reviews('-infinity'::date, 'infinity'::date);

comment on view analytics.alert_reviews_daily is
    'Per night: cards alerted, what investigators found within a day and since, the open queue, and verdicts a later chargeback contradicts.';
comment on column analytics.alert_reviews_daily.tx_date is
    'UTC night on which the cards were alerted.';
comment on column analytics.alert_reviews_daily.cards_alerted is
    'Cards (customer_id) with at least one alert that night.';
comment on column analytics.alert_reviews_daily.cards_reviewed is
    'Alerted cards with a verdict on a payment of the night, known now.';
comment on column analytics.alert_reviews_daily.cards_reviewed_within_a_day is
    'Alerted cards with a verdict known by the end of the day after the night (the next morning''s review).';
comment on column analytics.alert_reviews_daily.cards_reached_within_a_day is
    'Cards reviewed within a day whose holder was reached (a fraud_confirmed or genuine_confirmed verdict).';
comment on column analytics.alert_reviews_daily.cards_confirmed_fraud_within_a_day is
    'Cards with a payment confirmed as fraud by an investigator within a day.';
comment on column analytics.alert_reviews_daily.alert_precision_by_verdict is
    'cards_confirmed_fraud_within_a_day / cards_reached_within_a_day: the alerts'' precision a day after the night, unreachable cards left out.';
comment on column analytics.alert_reviews_daily.unreachable_rate is
    'Share of the cards reviewed within a day whose holder could not be reached.';
comment on column analytics.alert_reviews_daily.cards_open is
    'Alerted cards without any verdict yet: the open queue of that night.';
comment on column analytics.alert_reviews_daily.verdicts_contradicted is
    'Payments whose latest verdict a reported chargeback or dispute outcome now contradicts.';
