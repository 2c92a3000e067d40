-- One row per night and monitored column: the population stability index (PSI) of each feature
-- and of the score against the model version's training reference, with its band.
create or replace view analytics.feature_drift_daily as

with

drift as (

    select * from monitoring.feature_drift

),

final as (

    select
        drift_date,
        model_name,
        model_version,
        feature,
        feature = 'score' as is_score,
        psi,
        band,
        rows_compared,
        reference_rows,
        report_path,
        computed_at
    from drift

)

select * from final;

comment on view analytics.feature_drift_daily is
    'Per night and monitored column (every feature and the score): its PSI against the model version''s training reference and its band.';
comment on column analytics.feature_drift_daily.drift_date is
    'UTC day of the transactions compared with the training reference.';
comment on column analytics.feature_drift_daily.model_name is
    'Registered model whose training reference was used.';
comment on column analytics.feature_drift_daily.model_version is
    'Model version whose training reference was used (the champion that night).';
comment on column analytics.feature_drift_daily.feature is
    'Monitored column: a model input feature, or score for the model''s output.';
comment on column analytics.feature_drift_daily.is_score is
    'True for the model score itself, false for an input feature.';
comment on column analytics.feature_drift_daily.psi is
    'Population stability index of the night against the reference: 0 is identical, 0.1 a noticeable shift, 0.25 a large one.';
comment on column analytics.feature_drift_daily.band is
    'Band of the PSI when it was computed: stable (below 0.1 by default), warning, or alert (0.25 or more).';
comment on column analytics.feature_drift_daily.rows_compared is
    'Transactions of the night compared with the reference.';
comment on column analytics.feature_drift_daily.reference_rows is
    'Rows in the training reference of the model version.';
comment on column analytics.feature_drift_daily.report_path is
    'Location of the night''s HTML drift report, on the pipeline''s artifact storage.';
comment on column analytics.feature_drift_daily.computed_at is
    'When the drift of the night was computed.';
