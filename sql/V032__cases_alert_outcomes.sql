-- Investigators' verdicts: what the cardholder said when an investigator reviewed an alerted card.
-- Append only: a correction is a new row, and for any moment T the verdict that counts is the
-- latest one known by T (known_at). The checks below run in the database, so plain SQL as the
-- investigator login cannot bypass them; `fraud outcomes import` runs the same checks first to
-- name every bad line of a file at once.
create schema if not exists cases;

comment on schema cases is
    'Investigators'' work: the alert queue they read and the verdicts they record.';

create table if not exists cases.alert_outcomes (
    outcome_id bigint generated always as identity primary key,
    transaction_id bigint not null,
    outcome text not null
        constraint alert_outcomes_outcome_check
        check (outcome in ('fraud_confirmed', 'genuine_confirmed', 'unreachable')),
    decided_by text not null
        constraint alert_outcomes_decided_by_check check (btrim(decided_by) <> ''),
    decided_at timestamptz not null,
    note text,
    recorded_at timestamptz not null default now(),
    recorded_by text not null default session_user,
    -- Never earlier than the moment the warehouse held the row: a verdict imported days late
    -- cannot change what a night that ran before it saw.
    known_at timestamptz generated always as (greatest(decided_at, recorded_at)) stored
);

-- The same verdict imported twice is one row: an import skips it and counts it.
create unique index if not exists alert_outcomes_identical_idx on cases.alert_outcomes (
    transaction_id, outcome, decided_by, decided_at, coalesce(note, '')
);
create index if not exists alert_outcomes_transaction_idx
    on cases.alert_outcomes (transaction_id, known_at desc, outcome_id desc);
create index if not exists alert_outcomes_known_at_idx on cases.alert_outcomes (known_at);

comment on table cases.alert_outcomes is
    'Investigators'' verdicts on the payments of reviewed cards, append only; the latest verdict known by a moment counts.';
comment on column cases.alert_outcomes.transaction_id is
    'The payment (raw.transactions) the verdict is about.';
comment on column cases.alert_outcomes.outcome is
    'fraud_confirmed (the cardholder disowns it), genuine_confirmed, or unreachable (not a label).';
comment on column cases.alert_outcomes.decided_by is
    'The investigator who reached the verdict, as the case-management tool names them.';
comment on column cases.alert_outcomes.decided_at is
    'When the investigator reached the verdict (never before the payment, never after recorded_at).';
comment on column cases.alert_outcomes.note is
    'Free text from the investigator; personal data, kept under the retention rule.';
comment on column cases.alert_outcomes.recorded_at is
    'When the warehouse received the row; the database sets it for every login but the owner.';
comment on column cases.alert_outcomes.recorded_by is
    'The database login that wrote the row.';
comment on column cases.alert_outcomes.known_at is
    'greatest(decided_at, recorded_at): from this moment on the verdict may be used.';

-- The checks that need another table or the session: the payment's time, who is writing, and
-- no change to a stored verdict. SECURITY DEFINER so that the payment's time is read without
-- giving investigators raw.transactions; session_user is the login, whatever role it set.
create or replace function cases.check_alert_outcome() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    paid_at timestamptz;
    owner_name name;
begin
    if tg_op <> 'INSERT' then
        raise exception 'cases.alert_outcomes is append only: record a correction as a new row'
            using errcode = 'insufficient_privilege';
    end if;
    select c.relowner::regrole::name into owner_name
    from pg_catalog.pg_class as c where c.oid = tg_relid;
    -- Only the warehouse's owner (the simulator, the evaluation protocol) writes simulated time.
    if not pg_catalog.pg_has_role(session_user, owner_name, 'USAGE') then
        new.recorded_at := pg_catalog.now();
        new.recorded_by := session_user;
    end if;
    select t.tx_datetime into paid_at
    from raw.transactions as t where t.transaction_id = new.transaction_id;
    -- Checked here rather than by a foreign key, which would stop raw.* from being truncated.
    if paid_at is null then
        raise exception 'transaction_id %: unknown transaction', new.transaction_id
            using errcode = 'foreign_key_violation', column = 'transaction_id';
    end if;
    if new.decided_at < paid_at then
        raise exception 'transaction_id %: decided_at % is before the payment (%)',
            new.transaction_id, new.decided_at, paid_at
            using errcode = 'check_violation', column = 'decided_at';
    end if;
    if new.decided_at > new.recorded_at then
        raise exception 'transaction_id %: decided_at % is in the future (recorded at %)',
            new.transaction_id, new.decided_at, new.recorded_at
            using errcode = 'check_violation', column = 'decided_at';
    end if;
    return new;
end
$$;

drop trigger if exists alert_outcomes_check on cases.alert_outcomes;
create trigger alert_outcomes_check
    before insert or update or delete on cases.alert_outcomes
    for each row execute function cases.check_alert_outcome();

-- The group role of investigators: reads the alert queue, inserts verdicts, nothing else
-- (include/fraud/privileges.py grants it; `fraud db logins` makes its login).
do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'fraud_investigator') then
        create role fraud_investigator nologin;
        comment on role fraud_investigator is
            'Group role of investigators: reads the alert queue, records verdicts; no raw.*, no update or delete.';
    end if;
exception when duplicate_object or unique_violation then
    null;
end
$$;

-- What was known about a payment as of a moment: a reported label (raw.fraud_labels, one row
-- per payment, fraud or genuine) known by then wins over any verdict, whatever its value;
-- otherwise the latest verdict known by then. An unreachable verdict is returned with a null
-- label: the cardholder was not reached, so nothing is known. One row per payment with anything
-- known; a payment without a row is unlabelled as of that moment.
create or replace function cases.labels_as_of(as_of timestamptz)
returns table (
    transaction_id bigint,
    is_fraud boolean,
    source text,
    outcome text,
    known_at timestamptz
)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    with reported as (
        select
            fraud_labels.transaction_id,
            fraud_labels.is_fraud,
            'reported'::text as source,
            case when fraud_labels.is_fraud then 'fraud_reported' else 'genuine_reported' end
                as outcome,
            fraud_labels.reported_at as known_at
        from raw.fraud_labels
        where fraud_labels.reported_at <= as_of
    ),

    latest_verdict as (
        select distinct on (alert_outcomes.transaction_id)
            alert_outcomes.transaction_id,
            case alert_outcomes.outcome
                when 'fraud_confirmed' then true
                when 'genuine_confirmed' then false
            end as is_fraud,
            'investigator'::text as source,
            alert_outcomes.outcome,
            alert_outcomes.known_at
        from cases.alert_outcomes
        where alert_outcomes.known_at <= as_of
        order by
            alert_outcomes.transaction_id,
            alert_outcomes.known_at desc,
            alert_outcomes.outcome_id desc
    )

    select * from reported
    union all
    select latest_verdict.*
    from latest_verdict
    where not exists (
        select from reported where reported.transaction_id = latest_verdict.transaction_id
    )
$$;

comment on function cases.labels_as_of(timestamptz) is
    'What was known about each payment as of a moment: the reported label if any, else the latest verdict (unreachable: null).';

-- When each named payment was made, for an import's checks, without giving its caller raw.*:
-- only the ids it already holds, and only their time.
create or replace function cases.payment_times(ids bigint[])
returns table (transaction_id bigint, tx_datetime timestamptz)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select t.transaction_id, t.tx_datetime
    from raw.transactions as t
    where t.transaction_id = any(ids)
$$;

comment on function cases.payment_times(bigint[]) is
    'The time of each named payment, for checking verdicts; nothing else of raw.transactions.';
