-- The review budget as data (fraud.model.alert_policy, docs/alerts.md): each alerted payment
-- records the rule that raised its card's alert and the card's rank, and the values of its
-- three reason features; each night records the policy and capacity it ran with. Columns without
-- a default are added without rewriting the day partitions; rows scored before keep nulls.
alter table scoring.transaction_scores
    add column if not exists alert_rule text,
    add column if not exists alert_rank integer,
    add column if not exists reason_1_value double precision,
    add column if not exists reason_2_value double precision,
    add column if not exists reason_3_value double precision;

comment on column scoring.transaction_scores.alert_rule is
    'Alerts only: the rule that alerted the card this night, budget (within FRAUD_REVIEW_CAPACITY by the ranking) or threshold (a payment at or above FRAUD_ALERT_THRESHOLD, beyond the budget).';
comment on column scoring.transaction_scores.alert_rank is
    'Alerts only: the card''s rank among the night''s candidate cards by the ranking (1 first).';
comment on column scoring.transaction_scores.reason_1_value is
    'Alerts only: the value of feature reason_1 for this payment.';
comment on column scoring.transaction_scores.reason_2_value is
    'Alerts only: the value of feature reason_2 for this payment.';
comment on column scoring.transaction_scores.reason_3_value is
    'Alerts only: the value of feature reason_3 for this payment.';

-- One row per published generation of a night: the policy its alerts were chosen by.
create table if not exists scoring.alert_nights (
    tx_date date not null,
    generation integer not null,
    model_version integer not null,
    alert_ranking text not null check (alert_ranking in ('score', 'expected_loss')),
    review_capacity integer not null check (review_capacity >= 0),
    alert_threshold double precision check (alert_threshold between 0 and 1),
    horizon_days integer not null check (horizon_days >= 0),
    review_cooldown_days integer not null check (review_cooldown_days >= 0),
    budget_cards integer not null check (budget_cards >= 0),
    threshold_cards integer not null check (threshold_cards >= 0),
    alerts integer not null check (alerts >= 0),
    marked_at timestamptz not null default now(),
    primary key (tx_date, generation)
);

comment on table scoring.alert_nights is
    'Per UTC night and generation of its scores: the alert policy and review capacity the night''s alerts were chosen with, and what they gave.';

-- The model features in plain words, one row each: loaded by every `fraud db migrate` from the
-- declaration beside the feature columns (fraud.features.columns.FEATURE_GLOSSARY).
create table if not exists analytics.feature_glossary (
    name text primary key,
    meaning text not null,
    unit text not null
);

comment on table analytics.feature_glossary is
    'Every model feature in plain words: what a reason code means.';
comment on column analytics.feature_glossary.name is
    'The feature''s name, as reason_1, reason_2 and reason_3 give it.';
comment on column analytics.feature_glossary.meaning is
    'What the feature measures, in plain words.';
comment on column analytics.feature_glossary.unit is
    'The unit of the feature''s value.';
