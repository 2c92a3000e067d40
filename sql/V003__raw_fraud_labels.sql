-- Confirmed fraud and chargebacks, arriving days after the transaction.
-- A transaction with no label row by a cut-off counts as genuine as of that cut-off.
create table if not exists raw.fraud_labels (
    transaction_id bigint primary key,
    is_fraud boolean not null,
    reported_at timestamptz not null
);

create index if not exists fraud_labels_reported_at_idx on raw.fraud_labels (reported_at);

comment on table raw.fraud_labels is 'Fraud reports and chargebacks; reported_at is when the bank learnt the label.';
