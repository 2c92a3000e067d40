-- Every promotion decision, readable: who challenged whom, the gate's metrics side by side,
-- the outcome and why, and which version was champion afterwards.
create or replace view analytics.model_decisions as

with

decisions as (

    select * from monitoring.model_decisions

),

final as (

    select
        decision_id,
        decided_at,
        model_name,
        decision,
        challenger_version,
        champion_version,
        case
            when decision = 'rejected' then champion_version
            else challenger_version
        end as champion_version_after,
        reason,
        trigger,
        (challenger_metrics ->> 'average_precision')::double precision
        as challenger_average_precision,
        (champion_metrics ->> 'average_precision')::double precision
        as champion_average_precision,
        (challenger_metrics ->> 'auc_roc')::double precision as challenger_auc_roc,
        (champion_metrics ->> 'auc_roc')::double precision as champion_auc_roc,
        (challenger_metrics ->> 'card_precision_at_100')::double precision
        as challenger_card_precision_at_100,
        (champion_metrics ->> 'card_precision_at_100')::double precision
        as champion_card_precision_at_100,
        evaluation_start,
        evaluation_end,
        label_cutoff,
        mlflow_run_id,
        (challenger_metrics ->> 'prevented_amount_within_capacity')::numeric
        as challenger_prevented_amount,
        (champion_metrics ->> 'prevented_amount_within_capacity')::numeric
        as champion_prevented_amount,
        (challenger_metrics ->> 'detected_amount_within_capacity')::numeric
        as challenger_detected_amount,
        (champion_metrics ->> 'detected_amount_within_capacity')::numeric
        as champion_detected_amount,
        (challenger_metrics ->> 'fraud_cards')::double precision::bigint as fraud_cards
    from decisions

)

select * from final;

comment on view analytics.model_decisions is
    'Every promotion decision: challenger against champion on the same window, the outcome, the reason and the champion afterwards.';
comment on column analytics.model_decisions.decision_id is
    'Decision identifier, increasing in the order decisions were taken.';
comment on column analytics.model_decisions.decided_at is
    'When the decision was taken.';
comment on column analytics.model_decisions.model_name is
    'Registered model the decision is about.';
comment on column analytics.model_decisions.decision is
    'promoted (the challenger became champion), rejected (the champion stayed), bootstrapped (first champion) or rolled_back (manual return to an earlier version).';
comment on column analytics.model_decisions.challenger_version is
    'Version being judged; for rolled_back, the earlier version restored.';
comment on column analytics.model_decisions.champion_version is
    'Champion version at the time of the decision; null when bootstrapping; for rolled_back, the version taken out.';
comment on column analytics.model_decisions.champion_version_after is
    'Version serving as champion right after the decision.';
comment on column analytics.model_decisions.reason is
    'Why: each gate rule with both metrics (the ratio rule on the prevented amount with both amounts, or why it was skipped), or the reason given for a rollback.';
comment on column analytics.model_decisions.trigger is
    'What started it: the drift reason that requested retraining, the Airflow run type (scheduled, manual), or manual rollback.';
comment on column analytics.model_decisions.challenger_average_precision is
    'Challenger''s average precision on the evaluation window (area under the precision-recall curve).';
comment on column analytics.model_decisions.champion_average_precision is
    'Champion''s average precision on the same window; null when there was no champion.';
comment on column analytics.model_decisions.challenger_auc_roc is
    'Challenger''s area under the ROC curve on the evaluation window.';
comment on column analytics.model_decisions.champion_auc_roc is
    'Champion''s area under the ROC curve on the same window; null when there was no champion.';
comment on column analytics.model_decisions.challenger_card_precision_at_100 is
    'Challenger''s card precision at 100 (the Handbook''s): share of frauded cards among the 100 most suspicious cards per day, leaving out the cards with a fraud reported before the day began.';
comment on column analytics.model_decisions.champion_card_precision_at_100 is
    'Champion''s card precision at 100 on the same window; null when there was no champion.';
comment on column analytics.model_decisions.evaluation_start is
    'Start of the evaluation window both models were scored on.';
comment on column analytics.model_decisions.evaluation_end is
    'End (exclusive) of the evaluation window.';
comment on column analytics.model_decisions.label_cutoff is
    'Only labels reported before this moment were used, as in production.';
comment on column analytics.model_decisions.mlflow_run_id is
    'MLflow run of the challenger''s training, where its metrics and artifacts live.';
comment on column analytics.model_decisions.challenger_prevented_amount is
    'Fraud amount the challenger would have prevented on the evaluation window, alerting FRAUD_REVIEW_CAPACITY cards a day (docs/analysts.md, "Money"); null before the gate counted money.';
comment on column analytics.model_decisions.champion_prevented_amount is
    'Fraud amount the champion would have prevented on the same window and review capacity; the gate''s ratio rule compares the two.';
comment on column analytics.model_decisions.challenger_detected_amount is
    'Fraud amount of the alerted cards'' own days the challenger would have detected on the evaluation window, within the review capacity.';
comment on column analytics.model_decisions.champion_detected_amount is
    'Fraud amount the champion would have detected on the same window, within the review capacity.';
comment on column analytics.model_decisions.fraud_cards is
    'Cards with a fraud in the evaluation window (known cards left out): under FRAUD_GATE_MIN_FRAUD_CARDS the ratio rule is skipped.';
