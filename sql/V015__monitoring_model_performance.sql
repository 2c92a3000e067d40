-- How well one model version ranked one day's transactions, measured again as the day's labels
-- mature (maturity_days after the day, with the labels reported before then).
create table if not exists monitoring.model_performance (
    date date not null,
    model_name text not null,
    model_version integer not null,
    maturity_days integer not null check (maturity_days > 0),
    transactions bigint not null,
    frauds_known bigint not null,
    average_precision double precision,
    card_precision_at_100 double precision,
    recall_top_decile double precision,
    alert_precision double precision,
    computed_at timestamptz not null default now(),
    primary key (date, model_name, model_version, maturity_days)
);

comment on table monitoring.model_performance is
    'Per UTC day, model version and label maturity: ranking metrics on the labels known after maturity_days days; null where a metric is undefined (no fraud known, no alert).';
