-- Why a retraining started: a drift or performance reason, pending until a retraining run takes it.
create table if not exists monitoring.retraining_requests (
    request_id bigserial primary key,
    drift_date date not null,
    model_name text not null,
    model_version integer not null,
    reason text not null,
    details jsonb not null default '{}'::jsonb,
    status text not null default 'pending' check (status in ('pending', 'done')),
    requested_at timestamptz not null default now(),
    completed_at timestamptz,
    completed_by_run_id text
);

create unique index if not exists retraining_requests_one_pending
    on monitoring.retraining_requests (model_name) where status = 'pending';
