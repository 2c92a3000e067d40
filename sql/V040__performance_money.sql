-- The money of each night's alerts, per model version and label maturity (fraud.model.money,
-- docs/monitoring.md "Money"): counts and sums, so that a week's figures are ratios of sums.
-- Null on the rows measured before this migration.
alter table monitoring.model_performance
    add column if not exists alerted_cards bigint,
    add column if not exists alerted_cards_fraud bigint,
    add column if not exists detected_amount numeric(16, 2),
    add column if not exists prevented_amount numeric(16, 2),
    add column if not exists missed_amount numeric(16, 2),
    add column if not exists genuine_amount_alerted numeric(16, 2),
    add column if not exists value_detection_rate double precision;

comment on column monitoring.model_performance.alerted_cards is
    'Cards with an alert that night, leaving out the cards with a fraud known before the night began.';
comment on column monitoring.model_performance.alerted_cards_fraud is
    'Alerted cards with a fraud on a payment of that night, by the labels reported within maturity_days.';
comment on column monitoring.model_performance.detected_amount is
    'Fraud amount of the night''s payments on the alerted cards.';
comment on column monitoring.model_performance.prevented_amount is
    'Fraud amount on the alerted cards confirmed fraud, made from the review (the night''s end plus FRAUD_REVIEW_DELAY_HOURS) until the card''s first fraud report, by the labels reported within maturity_days.';
comment on column monitoring.model_performance.missed_amount is
    'Fraud amount of the night''s payments on the cards not alerted.';
comment on column monitoring.model_performance.genuine_amount_alerted is
    'Genuine amount of the night''s payments on the alerted cards.';
comment on column monitoring.model_performance.value_detection_rate is
    'detected_amount / (detected_amount + missed_amount); null when the night had no known fraud.';
