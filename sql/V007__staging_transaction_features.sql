-- Point-in-time features of validated transactions, built by the same function as training.
create table if not exists staging.transaction_features (
    transaction_id bigint primary key,
    tx_datetime timestamptz not null,
    customer_id bigint not null,
    terminal_id bigint not null,
    tx_amount double precision not null,
    customer_tx_count_1d double precision not null,
    customer_tx_count_7d double precision not null,
    customer_tx_count_30d double precision not null,
    customer_mean_amount_1d double precision not null,
    customer_mean_amount_7d double precision not null,
    customer_mean_amount_30d double precision not null,
    amount_to_customer_mean_30d double precision not null,
    customer_seconds_since_previous double precision not null,
    terminal_fraud_count_1d double precision not null,
    terminal_fraud_count_7d double precision not null,
    terminal_fraud_count_30d double precision not null,
    terminal_fraud_risk_1d double precision not null,
    terminal_fraud_risk_7d double precision not null,
    terminal_fraud_risk_30d double precision not null,
    is_weekend double precision not null,
    is_night double precision not null,
    run_id text not null
);

create index if not exists transaction_features_tx_datetime_idx
    on staging.transaction_features (tx_datetime);
