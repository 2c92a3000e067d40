-- Rows that failed a row-level expectation, kept verbatim with the names of what they failed.
-- A replay closes the open rows of its interval (resolved_at) instead of deleting them.
create table if not exists quality.quarantine (
    quarantine_id bigserial primary key,
    transaction_id bigint,
    tx_datetime timestamptz,
    source_row jsonb not null,
    failed_expectations text[] not null,
    run_id text not null,
    data_interval_start timestamptz not null,
    data_interval_end timestamptz not null,
    quarantined_at timestamptz not null default now(),
    resolved_at timestamptz,
    resolved_by_run_id text
);

create index if not exists quarantine_open_idx on quality.quarantine (data_interval_start)
    where resolved_at is null;
create index if not exists quarantine_transaction_idx on quality.quarantine (transaction_id)
    where resolved_at is null;
