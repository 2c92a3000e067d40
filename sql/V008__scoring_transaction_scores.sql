-- One score per validated transaction, with the model version that produced it and,
-- for alerts only, the three features that pushed the score up most.
create table if not exists scoring.transaction_scores (
    transaction_id bigint primary key,
    tx_datetime timestamptz not null,
    customer_id bigint not null,
    terminal_id bigint not null,
    tx_amount numeric(12, 2) not null,
    score double precision not null check (score >= 0 and score <= 1),
    model_name text not null,
    model_version integer not null,
    is_alert boolean not null,
    reason_1 text,
    reason_1_contribution double precision,
    reason_2 text,
    reason_2_contribution double precision,
    reason_3 text,
    reason_3_contribution double precision,
    run_id text not null,
    scored_at timestamptz not null default now()
);

create index if not exists transaction_scores_tx_datetime_idx
    on scoring.transaction_scores (tx_datetime);
create index if not exists transaction_scores_alert_idx
    on scoring.transaction_scores (tx_datetime) where is_alert;
