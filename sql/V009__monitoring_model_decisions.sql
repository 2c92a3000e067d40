-- Every promotion decision: the challenger and champion metrics on the same window, the gate, the outcome.
create table if not exists monitoring.model_decisions (
    decision_id bigserial primary key,
    model_name text not null,
    challenger_version integer not null,
    champion_version integer,
    decision text not null check (decision in ('promoted', 'rejected', 'bootstrapped', 'rolled_back')),
    reason text not null,
    challenger_metrics jsonb not null default '{}'::jsonb,
    champion_metrics jsonb not null default '{}'::jsonb,
    gate jsonb not null default '[]'::jsonb,
    evaluation_start timestamptz,
    evaluation_end timestamptz,
    label_cutoff timestamptz,
    mlflow_run_id text,
    trigger text,
    decided_at timestamptz not null default now()
);
