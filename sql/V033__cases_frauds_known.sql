-- The payments known as fraud as of a moment, and since when: what point-in-time features and the
-- known-card rule read. Beside cases.labels_as_of, and with its rule: as of a moment T, a
-- raw.fraud_labels row reported by T wins over any verdict, whatever its value; otherwise the
-- latest verdict known by T counts (ties broken by outcome_id, as there).
--
-- A payment is returned when its label as of `as_of` is fraud, with `known_at`, the earliest
-- moment from which its label is fraud at every moment up to `as_of`:
--   * reported as fraud: its reported_at, or earlier when an unbroken run of fraud_confirmed
--     verdicts led up to the report (from the first verdict of that run);
--   * otherwise (its latest verdict is fraud_confirmed): the first verdict of the unbroken run of
--     fraud_confirmed verdicts that ends with it.
-- A fraud verdict corrected by a later genuine_confirmed or unreachable verdict, or by a genuine
-- report, before `as_of` is not a fraud as of `as_of`.
--
-- Bounded by `since`: only the reports and verdicts known in [since, as_of] are read, through the
-- indexes on raw.fraud_labels(reported_at) and cases.alert_outcomes(known_at). A report and a
-- verdict follow their payment, so the answer is whole for every payment made at or after
-- `since`; callers keep those (by payment time) and nothing else. The only read outside that span
-- is a lookup by primary key of each verdict's payment in raw.fraud_labels, a subquery per
-- candidate so that it stays a lookup whatever join settings the caller has set.
--
-- SQL, STABLE, SECURITY INVOKER and no SET clause: the planner inlines it into the caller's
-- query. The caller needs SELECT on raw.fraud_labels and cases.alert_outcomes (the pipeline).
create or replace function cases.frauds_known(since timestamptz, as_of timestamptz)
returns table (
    transaction_id bigint,
    known_at timestamptz,
    source text
)
language sql stable security invoker as $$
    with reports as (
        select
            fraud_labels.transaction_id,
            fraud_labels.is_fraud,
            fraud_labels.reported_at
        from raw.fraud_labels
        where fraud_labels.reported_at >= since and fraud_labels.reported_at <= as_of
    ),

    -- Verdicts known in the span, each before its payment's report if one was known in the span.
    verdicts as (
        select
            alert_outcomes.transaction_id,
            alert_outcomes.known_at,
            alert_outcomes.outcome_id,
            alert_outcomes.outcome = 'fraud_confirmed' as is_fraud
        from cases.alert_outcomes
        left join reports on reports.transaction_id = alert_outcomes.transaction_id
        where alert_outcomes.known_at >= since and alert_outcomes.known_at <= as_of
            and (reports.reported_at is null or alert_outcomes.known_at < reports.reported_at)
    ),

    -- Walking back from each payment's latest verdict: still unbroken while every verdict so far
    -- is fraud_confirmed.
    walked_back as (
        select
            verdicts.transaction_id,
            verdicts.known_at,
            bool_and(verdicts.is_fraud) over (
                partition by verdicts.transaction_id
                order by verdicts.known_at desc, verdicts.outcome_id desc
                rows between unbounded preceding and current row
            ) as unbroken
        from verdicts
    ),

    -- The payments whose latest verdict (before any report) is fraud_confirmed, and when the
    -- unbroken run of fraud verdicts that ends with it began.
    fraud_runs as (
        select
            walked_back.transaction_id,
            min(walked_back.known_at) as started_at
        from walked_back
        where walked_back.unbroken
        group by walked_back.transaction_id
    )

    select
        reports.transaction_id,
        least(reports.reported_at, fraud_runs.started_at) as known_at,
        'reported'::text as source
    from reports
    left join fraud_runs on fraud_runs.transaction_id = reports.transaction_id
    where reports.is_fraud

    union all

    select
        fraud_runs.transaction_id,
        fraud_runs.started_at as known_at,
        'investigator'::text as source
    from fraud_runs
    -- No report known by as_of, whenever it was reported: a scalar subquery, one lookup each.
    where coalesce(
        (
            select fraud_labels.reported_at <= as_of
            from raw.fraud_labels
            where fraud_labels.transaction_id = fraud_runs.transaction_id
        ),
        false
    ) is false
$$;

comment on function cases.frauds_known(timestamptz, timestamptz) is
    'Payments whose label as of as_of is fraud (cases.labels_as_of''s rule), the moment since which it has been, and its source; whole for payments made since `since`.';
