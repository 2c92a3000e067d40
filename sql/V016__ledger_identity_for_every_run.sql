-- A failed batch now holds its rows in quarantine, so the row ledger balances for every run.
-- NOT VALID: rows recorded before this migration (failed runs with 0 / 0) are left as they were.
alter table quality.validation_run drop constraint if exists validation_run_rows_accounted;
alter table quality.validation_run
    add constraint validation_run_rows_accounted
    check (extracted_count = validated_count + quarantined_count) not valid;
