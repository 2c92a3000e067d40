-- Which label source each performance figure is measured on. The matured figures are the
-- reported labels' (chargebacks and dispute outcomes, raw.fraud_labels): they reach every
-- payment, while an investigator's verdict reaches only the alerted cards that were reviewed.
alter table monitoring.model_performance
    add column if not exists label_source text not null default 'reported'
    constraint model_performance_label_source_check
    check (label_source in ('reported', 'investigator'));

comment on column monitoring.model_performance.label_source is
    'The labels the figures are measured on: reported (raw.fraud_labels, known within maturity_days) or investigator (verdicts).';
