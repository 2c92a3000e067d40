-- Drift over the last 14 nights: per night, the worst band, the feature that moved most, how many
-- features are in the warning and alert bands, and the PSI of the score itself.
select
    drift_date,
    model_version,
    night_band,
    worst_feature,
    round(max_feature_psi::numeric, 4) as max_feature_psi,
    features_monitored,
    features_warning,
    features_alert,
    round(score_psi::numeric, 4) as score_psi,
    score_band,
    report_path
from analytics.drift_summary
where drift_date >= (now() at time zone 'UTC')::date - 14
order by drift_date desc, model_name;
