-- Features added after V030: how many of the card's payments of the last day and of the last
-- 7 days (the scored one included) lie above 3 times its older mean (the 30 days before the
-- last 7), a stolen card's spree. Nullable: rows built before this migration keep null
-- (LightGBM reads it as missing) until their interval is rebuilt.
alter table staging.transaction_features
    add column if not exists customer_large_payment_count_1d double precision,
    add column if not exists customer_large_payment_count_7d double precision;
