-- The cards known as fraud as of a moment, asked of a few cards: the known-card rule of the
-- night's alerts (fraud.scoring.alerts) for the cards near the top of the ranking.
--
-- A card is returned when one of its payments made in [since, as_of] is a fraud as of `as_of`,
-- by cases.frauds_known's rule (and cases.labels_as_of's): a raw.fraud_labels row reported by
-- as_of wins, fraud or genuine; otherwise the latest verdict known by as_of counts (ties broken
-- by outcome_id), and only fraud_confirmed makes a fraud. The set of cards equals the cards of
-- cases.frauds_known(since, as_of)'s payments made since `since` (a test holds the two equal).
--
-- Why a second function: cases.frauds_known reads every report and verdict of the span, which
-- at a million payments a day is the 30 days' frauds (seconds). Here the cards' payments come
-- through the card index of raw.transactions and each payment's report and verdicts through
-- their transaction indexes: milliseconds for a few hundred cards.
--
-- SQL, STABLE, SECURITY INVOKER: inlined into the caller's query; the caller needs SELECT on
-- raw.transactions, raw.fraud_labels and cases.alert_outcomes (the pipeline).
create or replace function cases.cards_known(cards bigint[], since timestamptz, as_of timestamptz)
returns table (customer_id bigint)
language sql stable security invoker as $$
    select distinct transactions.customer_id
    from raw.transactions
    left join raw.fraud_labels
        on fraud_labels.transaction_id = transactions.transaction_id
        and fraud_labels.reported_at <= as_of
    where transactions.customer_id = any(cards)
        and transactions.tx_datetime >= since
        and transactions.tx_datetime <= as_of
        and coalesce(
            fraud_labels.is_fraud,
            (
                select alert_outcomes.outcome = 'fraud_confirmed'
                from cases.alert_outcomes
                where alert_outcomes.transaction_id = transactions.transaction_id
                    and alert_outcomes.known_at <= as_of
                order by alert_outcomes.known_at desc, alert_outcomes.outcome_id desc
                limit 1
            ),
            false
        )
$$;

comment on function cases.cards_known(bigint[], timestamptz, timestamptz) is
    'The given cards with a payment made in [since, as_of] whose label as of as_of is fraud (cases.frauds_known''s rule), looked up card by card.';
