-- Written by the payments system (or `fraud simulate`); the pipeline never modifies raw.*.
create table if not exists raw.transactions (
    transaction_id bigint primary key,
    tx_datetime timestamptz not null,
    customer_id bigint not null,
    terminal_id bigint not null,
    tx_amount numeric(12, 2) not null,
    loaded_at timestamptz not null default now()
);

create index if not exists transactions_tx_datetime_idx on raw.transactions (tx_datetime);
create index if not exists transactions_customer_idx on raw.transactions (customer_id, tx_datetime);
create index if not exists transactions_terminal_idx on raw.transactions (terminal_id, tx_datetime);

comment on table raw.transactions is 'Card transactions as the payments system wrote them; read-only for the pipeline.';
