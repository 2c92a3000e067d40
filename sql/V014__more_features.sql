-- Features added after V007: the customer's amount z-score and older habit, the terminal's
-- volume and the age of its known frauds. Nullable: rows built before this migration keep
-- null (LightGBM reads it as missing) until their interval is rebuilt.
alter table staging.transaction_features
    add column if not exists customer_amount_zscore_30d double precision,
    add column if not exists amount_to_customer_older_mean double precision,
    add column if not exists terminal_fraud_oldest_days double precision,
    add column if not exists terminal_fraud_newest_days double precision,
    add column if not exists terminal_tx_count_1d double precision,
    add column if not exists terminal_tx_count_7d double precision,
    add column if not exists terminal_tx_count_30d double precision;
