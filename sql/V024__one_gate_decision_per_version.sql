-- The promotion gate decides each challenger version once. decide_promotion writes its decision
-- row before it moves any alias, and a retry finds the row and only finishes the registry steps;
-- this index makes a second gate decision for one version impossible, even from two attempts
-- racing. Rollbacks are not gate decisions: a version may be rolled back to more than once.
create unique index if not exists model_decisions_one_gate_decision
    on monitoring.model_decisions (model_name, challenger_version)
    where decision in ('bootstrapped', 'promoted', 'rejected');
