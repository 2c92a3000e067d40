-- Everything that should wake someone: task failures, failed batches, drift.
create table if not exists monitoring.alerts (
    alert_id bigserial primary key,
    kind text not null,
    severity text not null check (severity in ('info', 'warning', 'critical')),
    dag_id text,
    task_id text,
    run_id text,
    message text not null,
    details jsonb not null default '{}'::jsonb,
    raised_at timestamptz not null default now()
);

create index if not exists alerts_raised_at_idx on monitoring.alerts (raised_at desc);
