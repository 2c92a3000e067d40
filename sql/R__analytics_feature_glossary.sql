-- Generated from fraud.features.columns.FEATURE_GLOSSARY (glossary_sql): do not edit.
-- Every model feature in plain words; run again by `fraud db migrate` whenever it changes.
insert into analytics.feature_glossary (name, meaning, unit)
values
    ('tx_amount', 'The payment''s amount.', 'currency'),
    ('customer_tx_count_1d', 'Payments of the card in the 1 day(s) up to this one, this one included.', 'payments'),
    ('customer_tx_count_7d', 'Payments of the card in the 7 day(s) up to this one, this one included.', 'payments'),
    ('customer_tx_count_30d', 'Payments of the card in the 30 day(s) up to this one, this one included.', 'payments'),
    ('customer_mean_amount_1d', 'Mean amount of the card''s payments in the 1 day(s) up to this one, this one included.', 'currency'),
    ('customer_mean_amount_7d', 'Mean amount of the card''s payments in the 7 day(s) up to this one, this one included.', 'currency'),
    ('customer_mean_amount_30d', 'Mean amount of the card''s payments in the 30 day(s) up to this one, this one included.', 'currency'),
    ('amount_to_customer_mean_30d', 'The amount divided by the card''s 30-day mean amount: how unusual it is for this card.', 'ratio'),
    ('customer_seconds_since_previous', 'Time since the card''s previous payment (0 for payments at the same instant, at most 30 days).', 'seconds'),
    ('terminal_fraud_count_1d', 'Frauds known at the terminal among its payments of the 1 day(s) ending one label delay before the payment.', 'payments'),
    ('terminal_fraud_count_7d', 'Frauds known at the terminal among its payments of the 7 day(s) ending one label delay before the payment.', 'payments'),
    ('terminal_fraud_count_30d', 'Frauds known at the terminal among its payments of the 30 day(s) ending one label delay before the payment.', 'payments'),
    ('terminal_fraud_risk_1d', 'Share of the terminal''s payments of the 1 day(s) ending one label delay before the payment known as fraud.', 'fraction (0 to 1)'),
    ('terminal_fraud_risk_7d', 'Share of the terminal''s payments of the 7 day(s) ending one label delay before the payment known as fraud.', 'fraction (0 to 1)'),
    ('terminal_fraud_risk_30d', 'Share of the terminal''s payments of the 30 day(s) ending one label delay before the payment known as fraud.', 'fraction (0 to 1)'),
    ('is_weekend', 'The payment was made on a Saturday or Sunday (UTC).', 'flag (0 or 1)'),
    ('is_night', 'The payment was made between 00:00 and 06:59 UTC.', 'flag (0 or 1)'),
    ('customer_amount_zscore_30d', 'How many standard deviations the amount lies from the card''s 30-day mean (0 when the card always pays the same).', 'standard deviations'),
    ('amount_to_customer_older_mean', 'The amount divided by the card''s mean amount of the weeks before the last 7 days: its habit before a recent theft could inflate it.', 'ratio'),
    ('terminal_fraud_oldest_days', 'Days since the oldest fraud known at the terminal in its delayed 30-day window (the window''s far edge when none).', 'days'),
    ('terminal_fraud_newest_days', 'Days since the newest fraud known at the terminal in its delayed 30-day window (the window''s far edge when none).', 'days'),
    ('terminal_tx_count_1d', 'Payments at the terminal in the 1 day(s) ending one label delay before the payment.', 'payments'),
    ('terminal_tx_count_7d', 'Payments at the terminal in the 7 day(s) ending one label delay before the payment.', 'payments'),
    ('terminal_tx_count_30d', 'Payments at the terminal in the 30 day(s) ending one label delay before the payment.', 'payments'),
    ('terminal_reported_fraud_count_30d', 'Frauds at the terminal in the 30 days before the payment already reported when it was scored.', 'payments'),
    ('terminal_reported_fraud_newest_days', 'Days since the newest of those reported frauds (30 when none).', 'days'),
    ('customer_large_payment_count_1d', 'The card''s payments of the last day, this one included, above 3 times its older mean amount.', 'payments'),
    ('customer_large_payment_count_7d', 'The card''s payments of the last 7 days, this one included, above 3 times its older mean amount.', 'payments')
on conflict (name) do update set meaning = excluded.meaning, unit = excluded.unit;

delete from analytics.feature_glossary where name not in ('tx_amount', 'customer_tx_count_1d', 'customer_tx_count_7d', 'customer_tx_count_30d', 'customer_mean_amount_1d', 'customer_mean_amount_7d', 'customer_mean_amount_30d', 'amount_to_customer_mean_30d', 'customer_seconds_since_previous', 'terminal_fraud_count_1d', 'terminal_fraud_count_7d', 'terminal_fraud_count_30d', 'terminal_fraud_risk_1d', 'terminal_fraud_risk_7d', 'terminal_fraud_risk_30d', 'is_weekend', 'is_night', 'customer_amount_zscore_30d', 'amount_to_customer_older_mean', 'terminal_fraud_oldest_days', 'terminal_fraud_newest_days', 'terminal_tx_count_1d', 'terminal_tx_count_7d', 'terminal_tx_count_30d', 'terminal_reported_fraud_count_30d', 'terminal_reported_fraud_newest_days', 'customer_large_payment_count_1d', 'customer_large_payment_count_7d');
