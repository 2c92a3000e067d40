-- Retraining reads every known fraud and a seeded share of the genuine payments
-- (include/fraud/features/window.py): a card is in the sample of seed s at share p when
-- sample_of(customer_id, s) < p, the same cards on every run. A plain SQL function, which the
-- planner inlines.
create or replace function staging.sample_of(id bigint, seed bigint)
returns double precision
language sql
immutable
strict
parallel safe
as $$
    select (hashint8extended(id, seed) & 9007199254740991)::double precision / 9007199254740992.0
$$;

comment on function staging.sample_of(bigint, bigint) is
    'A uniform draw in [0, 1) for an id and a seed: the sample of share p is every id under p.';
