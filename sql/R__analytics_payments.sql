-- One row per payment the quality gate passed, with the columns of the bank's authorisation feed
-- (channel, merchant category, merchant country, currency, amount in that currency) beside the
-- Handbook's five; analysts join it to analytics.scored_transactions on transaction_id and
-- tx_date. A bank column the feed does not carry is null.
-- Analytics views read base tables only (never each other), so each file can be replaced alone.
create or replace view analytics.payments as

with

staged as (

    select
        transaction_id,
        tx_datetime,
        (tx_datetime at time zone 'UTC')::date as tx_date,
        customer_id,
        terminal_id,
        tx_amount,
        channel,
        merchant_category,
        merchant_country,
        currency,
        original_amount,
        validated_at
    from staging.transactions

)

select * from staged;

comment on view analytics.payments is
    'One row per payment the quality gate passed, with the channel, merchant category, merchant country and currency of the bank''s feed (null when the feed has none).';
comment on column analytics.payments.transaction_id is
    'Transaction identifier, as in the payments system.';
comment on column analytics.payments.tx_datetime is
    'When the transaction happened (filter on it: each UTC day is a partition).';
comment on column analytics.payments.tx_date is
    'UTC day of the transaction: the nightly batch that validated it.';
comment on column analytics.payments.customer_id is
    'Customer (card holder) identifier.';
comment on column analytics.payments.terminal_id is
    'Terminal (merchant point of sale) identifier.';
comment on column analytics.payments.tx_amount is
    'Amount in the bank''s reporting currency, exact to the cent: the amount features and money figures use.';
comment on column analytics.payments.channel is
    'How the card met the merchant: card_present (chip or stripe), contactless, ecommerce (card not present) or atm; null when the feed has no channel.';
comment on column analytics.payments.merchant_category is
    'Merchant category code (ISO 18245), four digits as text (e.g. 5411 grocery stores); null when unknown.';
comment on column analytics.payments.merchant_country is
    'Merchant''s country, ISO 3166-1 alpha-2 (e.g. BE); null when unknown.';
comment on column analytics.payments.currency is
    'Currency the card holder paid in, ISO 4217 (e.g. EUR); null when unknown.';
comment on column analytics.payments.original_amount is
    'Amount in that currency, exact as the feed gave it; equals tx_amount when the currency is the reporting one; null when unknown.';
comment on column analytics.payments.validated_at is
    'When the quality gate passed the payment (a replay of its night passes it again).';
