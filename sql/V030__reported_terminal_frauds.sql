-- Features added after V014: the terminal's frauds reported by the scoring time among its
-- payments of the last 30 days, undelayed, and the age of the newest. Nullable: rows built
-- before this migration keep null (LightGBM reads it as missing) until their interval is rebuilt.
alter table staging.transaction_features
    add column if not exists terminal_reported_fraud_count_30d double precision,
    add column if not exists terminal_reported_fraud_newest_days double precision;
