-- A night's scores become visible whole. The shares of a run write their rows as the day's next
-- generation, beside the rows of the generation the readers see; mark_top_k, once every share is
-- in, publishes the next generation in scoring.scored_day and deletes the rows it supersedes, in
-- one transaction. Every reader of scores (the analytics views, drift, performance) shows a row
-- only when its generation is the one its day has published: the previous complete state while
-- a replay runs, nothing for a day whose first night is not finished.
--
-- Rows written before this migration, and rows written by hand, have generation 0, which a day
-- without a row here shows.
create table if not exists scoring.scored_day (
    tx_date date primary key,
    generation integer not null check (generation > 0),
    published_at timestamptz not null default now()
);

comment on table scoring.scored_day is
    'Per UTC day, the generation of scoring.transaction_scores that readers see: the last run whose every share and top k were done.';

-- A constant default adds the column without rewriting the partitions.
alter table scoring.transaction_scores
    add column if not exists generation integer not null default 0;

comment on column scoring.transaction_scores.generation is
    'Which run of the day wrote the row: visible when it equals the day''s scoring.scored_day.generation (0 when the day has none).';

-- A transaction has a row in the published generation and, while a run is under way, one in
-- the next.
do $$
declare
    key_name text;
    key_definition text;
begin
    select conname, pg_get_constraintdef(oid) into key_name, key_definition
    from pg_constraint
    where conrelid = 'scoring.transaction_scores'::regclass and contype = 'p';
    if key_definition like '%generation%' then
        return;
    end if;
    if key_name is not null then
        execute format('alter table scoring.transaction_scores drop constraint %I', key_name);
    end if;
    alter table scoring.transaction_scores
        add primary key (transaction_id, tx_datetime, generation);
end
$$;
