-- Per UTC night: the cards alerted, what the investigators found on them within a day and
-- since, the cards still waiting for a review, and the verdicts a later chargeback contradicts.
-- Investigators review cards (a card is a customer_id), so the precision here is the cards'
-- precision: cards with a payment confirmed as fraud over the cards whose holder was reached.
create or replace view analytics.alert_reviews_daily as

with

published as (

    select
        transaction_scores.transaction_id,
        (transaction_scores.tx_datetime at time zone 'UTC')::date as tx_date,
        transaction_scores.customer_id,
        transaction_scores.is_alert
    from scoring.transaction_scores
    left join scoring.scored_day
        on (transaction_scores.tx_datetime at time zone 'UTC')::date = scored_day.tx_date
    -- A day's published run only: never a run still under way (sql/V025__publish_scored_days.sql).
    where transaction_scores.generation = coalesce(scored_day.generation, 0)

),

alerted_cards as (

    select distinct tx_date, customer_id
    from published
    where is_alert

),

card_payments as (

    select
        published.tx_date,
        published.customer_id,
        published.transaction_id
    from published
    inner join alerted_cards
        on published.tx_date = alerted_cards.tx_date
        and published.customer_id = alerted_cards.customer_id

),

verdicts_known_now as (

    select
        alert_outcomes.transaction_id,
        alert_outcomes.outcome,
        alert_outcomes.known_at,
        alert_outcomes.outcome_id
    from cases.alert_outcomes
    where alert_outcomes.known_at <= now()

),

latest_verdicts as (

    select distinct on (card_payments.transaction_id)
        card_payments.transaction_id,
        verdicts_known_now.outcome
    from card_payments
    inner join verdicts_known_now
        on card_payments.transaction_id = verdicts_known_now.transaction_id
    order by
        card_payments.transaction_id,
        verdicts_known_now.known_at desc,
        verdicts_known_now.outcome_id desc

),

-- The latest verdict known by the end of the day after the night: the next morning's review.
first_day_verdicts as (

    select distinct on (card_payments.transaction_id)
        card_payments.transaction_id,
        verdicts_known_now.outcome
    from card_payments
    inner join verdicts_known_now
        on card_payments.transaction_id = verdicts_known_now.transaction_id
    where verdicts_known_now.known_at
        < (card_payments.tx_date + 2)::timestamp at time zone 'UTC'
    order by
        card_payments.transaction_id,
        verdicts_known_now.known_at desc,
        verdicts_known_now.outcome_id desc

),

cards as (

    select
        card_payments.tx_date,
        card_payments.customer_id,
        bool_or(latest_verdicts.outcome is not null) as reviewed,
        bool_or(first_day_verdicts.outcome is not null) as reviewed_within_a_day,
        bool_or(first_day_verdicts.outcome in ('fraud_confirmed', 'genuine_confirmed'))
            as reached_within_a_day,
        bool_or(first_day_verdicts.outcome = 'fraud_confirmed') as fraud_within_a_day,
        count(*) filter (
            where latest_verdicts.outcome = 'fraud_confirmed' and fraud_labels.is_fraud = false
                or latest_verdicts.outcome = 'genuine_confirmed' and fraud_labels.is_fraud
        ) as contradicted
    from card_payments
    left join latest_verdicts
        on card_payments.transaction_id = latest_verdicts.transaction_id
    left join first_day_verdicts
        on card_payments.transaction_id = first_day_verdicts.transaction_id
    left join raw.fraud_labels
        on card_payments.transaction_id = fraud_labels.transaction_id
        and fraud_labels.reported_at <= now()
    group by card_payments.tx_date, card_payments.customer_id

),

final as (

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

)

select * from final;

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
