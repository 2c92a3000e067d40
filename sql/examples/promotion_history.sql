-- Promotion history: every decision of the last 90 days, newest first, with the challenger's and
-- the champion's average precision on the same evaluation window and the version serving after.
select
    decided_at,
    model_name,
    decision,
    challenger_version,
    champion_version,
    champion_version_after,
    round(challenger_average_precision::numeric, 4) as challenger_average_precision,
    round(champion_average_precision::numeric, 4) as champion_average_precision,
    trigger,
    reason
from analytics.model_decisions
where decided_at >= now() - interval '90 days'
order by decided_at desc, decision_id desc;
