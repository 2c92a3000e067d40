-- Every alert the pipeline raised: failed tasks, stopped quality gates, drift, missed deadlines.
-- Transactions flagged as suspected fraud are not here: they are in scored_transactions.
create or replace view analytics.pipeline_alerts as

with

alerts as (

    select * from monitoring.alerts

),

final as (

    select
        alert_id,
        raised_at,
        kind,
        severity,
        dag_id,
        task_id,
        run_id,
        message,
        details
    from alerts

)

select * from final;

comment on view analytics.pipeline_alerts is
    'Every alert raised by the pipeline (failed tasks, stopped quality gates, drift, missed deadlines), whether or not it was also sent by email or Slack.';
comment on column analytics.pipeline_alerts.alert_id is
    'Alert identifier, increasing in the order alerts were raised.';
comment on column analytics.pipeline_alerts.raised_at is
    'When the alert was raised.';
comment on column analytics.pipeline_alerts.kind is
    'What happened: task_failure (a task failed after its retries), quality_gate (the quality gate stopped a batch), drift (a monitored column in the alert band) or deadline_missed (a day''s scores not published by their deadline). Each has its on-call page in docs/operations.md.';
comment on column analytics.pipeline_alerts.severity is
    'info, warning or critical.';
comment on column analytics.pipeline_alerts.dag_id is
    'Airflow DAG that raised the alert; null when raised outside a DAG.';
comment on column analytics.pipeline_alerts.task_id is
    'Airflow task that raised the alert; null when raised outside a task.';
comment on column analytics.pipeline_alerts.run_id is
    'Airflow run during which the alert was raised.';
comment on column analytics.pipeline_alerts.message is
    'The alert''s text: one line saying what happened and where to look.';
comment on column analytics.pipeline_alerts.details is
    'Structured context as JSON, such as the drifting columns and the report of a drift alert or the try number of a failure.';
