-- Nightly PSI per feature and for the score, against the model version's training reference.
create table if not exists monitoring.feature_drift (
    drift_date date not null,
    model_name text not null,
    model_version integer not null,
    feature text not null,
    psi double precision not null,
    band text not null check (band in ('stable', 'warning', 'alert')),
    rows_compared bigint not null,
    reference_rows bigint not null,
    report_path text,
    run_id text not null,
    computed_at timestamptz not null default now(),
    primary key (drift_date, model_name, feature)
);
