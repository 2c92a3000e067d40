-- What the bank knows now about each payment's truth, and where it comes from: the reported
-- label (raw.fraud_labels: chargebacks and dispute outcomes) when there is one, else the latest
-- investigator's verdict (cases.alert_outcomes). The code asks the same question for any moment
-- through cases.labels_as_of(T), of which this view is the moment now.
create or replace view analytics.labels as

with

labels_known_now as (

    select
        transaction_id,
        is_fraud,
        source,
        outcome,
        known_at
    from cases.labels_as_of(now())

)

select * from labels_known_now;

comment on view analytics.labels is
    'Per payment with anything known: the label known now, its source (reported or investigator) and when it became known.';
comment on column analytics.labels.transaction_id is
    'The payment (join analytics.scored_transactions on transaction_id and tx_date).';
comment on column analytics.labels.is_fraud is
    'true fraud, false genuine, null when the latest verdict is unreachable (not a label).';
comment on column analytics.labels.source is
    'reported (raw.fraud_labels, wins whenever known) or investigator (cases.alert_outcomes).';
comment on column analytics.labels.outcome is
    'fraud_reported, genuine_reported, fraud_confirmed, genuine_confirmed or unreachable.';
comment on column analytics.labels.known_at is
    'When the label became known: reported_at, or the verdict''s known_at.';
