-- The row ledger: every validation run, with extracted = validated + quarantined.
create table if not exists quality.validation_run (
    validation_run_id bigserial primary key,
    run_id text not null,
    data_interval_start timestamptz not null,
    data_interval_end timestamptz not null,
    status text not null check (status in ('passed', 'failed')),
    extracted_count bigint not null,
    validated_count bigint not null,
    quarantined_count bigint not null,
    failures jsonb not null default '[]'::jsonb,
    data_docs_path text,
    checked_at timestamptz not null default now(),
    constraint validation_run_rows_accounted
        check (status = 'failed' or extracted_count = validated_count + quarantined_count)
);

create index if not exists validation_run_interval_idx
    on quality.validation_run (data_interval_start, checked_at);
