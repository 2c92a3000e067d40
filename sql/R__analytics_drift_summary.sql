-- One row per night and model version: how far the night's features and score moved from the
-- model's training reference, measured by the population stability index (PSI).
create or replace view analytics.drift_summary as

with

drift as (

    select
        *,
        feature = 'score' as is_score
    from monitoring.feature_drift

),

nights as (

    select
        drift_date,
        model_name,
        model_version,
        count(*) filter (where not is_score) as features_monitored,
        max(psi) filter (where not is_score) as max_feature_psi,
        (array_agg(feature order by psi desc) filter (where not is_score))[1] as worst_feature,
        count(*) filter (where not is_score and band = 'stable') as features_stable,
        count(*) filter (where not is_score and band = 'warning') as features_warning,
        count(*) filter (where not is_score and band = 'alert') as features_alert,
        max(psi) filter (where is_score) as score_psi,
        max(band) filter (where is_score) as score_band,
        bool_or(band = 'alert') as any_alert,
        bool_or(band = 'warning') as any_warning,
        max(rows_compared) as rows_compared,
        max(reference_rows) as reference_rows,
        max(report_path) as report_path,
        max(computed_at) as computed_at
    from drift
    group by drift_date, model_name, model_version

),

final as (

    select
        drift_date,
        model_name,
        model_version,
        case
            when any_alert then 'alert'
            when any_warning then 'warning'
            else 'stable'
        end as night_band,
        max_feature_psi,
        worst_feature,
        features_monitored,
        features_stable,
        features_warning,
        features_alert,
        score_psi,
        score_band,
        rows_compared,
        reference_rows,
        report_path,
        computed_at
    from nights

)

select * from final;

comment on view analytics.drift_summary is
    'Per night and model version: the largest feature PSI, how many features fall in each band, the score''s PSI and band, and the report.';
comment on column analytics.drift_summary.drift_date is
    'UTC day of the transactions compared with the training reference.';
comment on column analytics.drift_summary.model_name is
    'Registered model whose training reference was used.';
comment on column analytics.drift_summary.model_version is
    'Model version whose training reference was used (the champion that night).';
comment on column analytics.drift_summary.night_band is
    'Worst band of the night over every feature and the score: stable, warning or alert.';
comment on column analytics.drift_summary.max_feature_psi is
    'Largest PSI among the features (the score excluded).';
comment on column analytics.drift_summary.worst_feature is
    'The feature with the largest PSI.';
comment on column analytics.drift_summary.features_monitored is
    'Number of features compared that night (the score excluded).';
comment on column analytics.drift_summary.features_stable is
    'Features with PSI below the warning level (0.1 by default).';
comment on column analytics.drift_summary.features_warning is
    'Features with PSI between the warning and alert levels (0.1 to 0.25 by default).';
comment on column analytics.drift_summary.features_alert is
    'Features with PSI at or above the alert level (0.25 by default).';
comment on column analytics.drift_summary.score_psi is
    'PSI of the model score itself; null if the score was not compared.';
comment on column analytics.drift_summary.score_band is
    'Band of the score''s PSI: stable, warning or alert.';
comment on column analytics.drift_summary.rows_compared is
    'Transactions of the night compared with the reference.';
comment on column analytics.drift_summary.reference_rows is
    'Rows in the training reference of the model version.';
comment on column analytics.drift_summary.report_path is
    'Location of the night''s HTML drift report, on the pipeline''s artifact storage.';
comment on column analytics.drift_summary.computed_at is
    'When the drift of the night was computed.';
