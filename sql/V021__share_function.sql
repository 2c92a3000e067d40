-- Shares of a night: the nightly tasks split a day's rows into disjoint shares by a stable hash
-- of a customer or terminal id (include/fraud/shares.py), so that any worker can take a share
-- and a re-run replaces exactly the rows it wrote. Every query names a share with this function;
-- it is a plain SQL function, which the planner inlines.
create or replace function staging.share_of(id bigint, shares integer)
returns integer
language sql
immutable
strict
parallel safe
as $$
    select mod(hashint8(id)::bigint + 2147483648, shares)::integer
$$;

comment on function staging.share_of(bigint, integer) is
    'The share (0 .. shares - 1) of a customer or terminal id: a stable hash modulo the share count.';
