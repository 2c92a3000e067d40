-- The columns of a bank's authorisation feed beyond the Handbook's five (fraud.payments declares
-- their domains). They are optional: a bank without one leaves it null and everything runs.
-- raw.* takes any text, so that the quality gate, not an insert error, says what is wrong with a
-- value; staging holds the values the gate passed. Adding a column to the partitioned
-- staging.transactions adds it to every day partition, and staging.ensure_day_partitions
-- creates new partitions like the parent, so they have it too.
alter table raw.transactions
    add column if not exists channel text,
    add column if not exists merchant_category text,
    add column if not exists merchant_country text,
    add column if not exists currency text,
    add column if not exists original_amount numeric;

alter table staging.transactions
    add column if not exists channel text,
    add column if not exists merchant_category text,
    add column if not exists merchant_country text,
    add column if not exists currency text,
    add column if not exists original_amount numeric;

comment on column raw.transactions.tx_amount is
    'Amount in the bank''s reporting currency, exact to the cent: what features and money use.';
comment on column raw.transactions.channel is
    'How the card met the merchant: card_present, contactless, ecommerce or atm; null when the feed has no channel.';
comment on column raw.transactions.merchant_category is
    'Merchant category code (ISO 18245), four digits as text; null when unknown.';
comment on column raw.transactions.merchant_country is
    'Merchant''s country (ISO 3166-1 alpha-2, e.g. BE); null when unknown.';
comment on column raw.transactions.currency is
    'Currency of the payment (ISO 4217, e.g. EUR); null when unknown.';
comment on column raw.transactions.original_amount is
    'Amount in that currency, exact as the feed gave it; null when unknown.';
