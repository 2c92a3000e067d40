-- Rows of raw.transactions that passed the data-quality gate for their data interval.
create table if not exists staging.transactions (
    transaction_id bigint primary key,
    tx_datetime timestamptz not null,
    customer_id bigint not null,
    terminal_id bigint not null,
    tx_amount numeric(12, 2) not null,
    run_id text not null,
    validated_at timestamptz not null default now()
);

create index if not exists staging_transactions_tx_datetime_idx on staging.transactions (tx_datetime);
