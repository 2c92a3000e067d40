"""The feature columns, named once, and how much history one day's features need.

Importing this costs nothing (no pandas, no numpy): DAG files, the SQL builders and the
registry's column checks read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

KEY_COLUMNS: tuple[str, ...] = ("transaction_id", "tx_datetime", "customer_id", "terminal_id")
WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30)
FEATURE_COLUMNS: tuple[str, ...] = (
    "tx_amount",
    *(f"customer_tx_count_{days}d" for days in WINDOWS_DAYS),
    *(f"customer_mean_amount_{days}d" for days in WINDOWS_DAYS),
    "amount_to_customer_mean_30d",
    "customer_seconds_since_previous",
    *(f"terminal_fraud_count_{days}d" for days in WINDOWS_DAYS),
    *(f"terminal_fraud_risk_{days}d" for days in WINDOWS_DAYS),
    "is_weekend",
    "is_night",
    # Added by V014: appended so the table's column order stays the COPY order.
    "customer_amount_zscore_30d",
    "amount_to_customer_older_mean",
    "terminal_fraud_oldest_days",
    "terminal_fraud_newest_days",
    *(f"terminal_tx_count_{days}d" for days in WINDOWS_DAYS),
    # Added by V030: frauds reported by the scoring time in the terminal's undelayed 30 days.
    "terminal_reported_fraud_count_30d",
    "terminal_reported_fraud_newest_days",
    # Added by V031: the card's payments of the last 1 and 7 days far above its older mean.
    "customer_large_payment_count_1d",
    "customer_large_payment_count_7d",
)

LONGEST_WINDOW_DAYS = max(WINDOWS_DAYS)


def history_start(interval_start: datetime, label_delay_days: int) -> datetime:
    """Earliest tx_datetime a batch starting at interval_start needs in its history."""
    return interval_start - timedelta(days=LONGEST_WINDOW_DAYS + label_delay_days)


@dataclass(frozen=True)
class FeatureDoc:
    """One model feature in plain words: what a reason code means (``analytics.feature_glossary``)."""

    name: str
    meaning: str
    unit: str


_TERMINAL_WINDOW = "the {days} day(s) ending one label delay before the payment"
# Every feature of FEATURE_COLUMNS, in its order: the analysts' glossary is generated from it
# (loaded by `fraud db migrate`, rendered in docs/analysts.md); a feature without an entry fails
# the tests.
FEATURE_GLOSSARY: tuple[FeatureDoc, ...] = (
    FeatureDoc("tx_amount", "The payment's amount.", "currency"),
    *(
        FeatureDoc(
            f"customer_tx_count_{days}d",
            f"Payments of the card in the {days} day(s) up to this one, this one included.",
            "payments",
        )
        for days in WINDOWS_DAYS
    ),
    *(
        FeatureDoc(
            f"customer_mean_amount_{days}d",
            f"Mean amount of the card's payments in the {days} day(s) up to this one, this one"
            " included.",
            "currency",
        )
        for days in WINDOWS_DAYS
    ),
    FeatureDoc(
        "amount_to_customer_mean_30d",
        "The amount divided by the card's 30-day mean amount: how unusual it is for this card.",
        "ratio",
    ),
    FeatureDoc(
        "customer_seconds_since_previous",
        "Time since the card's previous payment (0 for payments at the same instant, at most"
        " 30 days).",
        "seconds",
    ),
    *(
        FeatureDoc(
            f"terminal_fraud_count_{days}d",
            f"Frauds known at the terminal among its payments of {_TERMINAL_WINDOW}.".format(
                days=days
            ),
            "payments",
        )
        for days in WINDOWS_DAYS
    ),
    *(
        FeatureDoc(
            f"terminal_fraud_risk_{days}d",
            f"Share of the terminal's payments of {_TERMINAL_WINDOW} known as fraud.".format(
                days=days
            ),
            "fraction (0 to 1)",
        )
        for days in WINDOWS_DAYS
    ),
    FeatureDoc(
        "is_weekend", "The payment was made on a Saturday or Sunday (UTC).", "flag (0 or 1)"
    ),
    FeatureDoc("is_night", "The payment was made between 00:00 and 06:59 UTC.", "flag (0 or 1)"),
    FeatureDoc(
        "customer_amount_zscore_30d",
        "How many standard deviations the amount lies from the card's 30-day mean (0 when the"
        " card always pays the same).",
        "standard deviations",
    ),
    FeatureDoc(
        "amount_to_customer_older_mean",
        "The amount divided by the card's mean amount of the weeks before the last 7 days: its"
        " habit before a recent theft could inflate it.",
        "ratio",
    ),
    FeatureDoc(
        "terminal_fraud_oldest_days",
        "Days since the oldest fraud known at the terminal in its delayed 30-day window (the"
        " window's far edge when none).",
        "days",
    ),
    FeatureDoc(
        "terminal_fraud_newest_days",
        "Days since the newest fraud known at the terminal in its delayed 30-day window (the"
        " window's far edge when none).",
        "days",
    ),
    *(
        FeatureDoc(
            f"terminal_tx_count_{days}d",
            f"Payments at the terminal in {_TERMINAL_WINDOW}.".format(days=days),
            "payments",
        )
        for days in WINDOWS_DAYS
    ),
    FeatureDoc(
        "terminal_reported_fraud_count_30d",
        "Frauds at the terminal in the 30 days before the payment already reported when it was"
        " scored.",
        "payments",
    ),
    FeatureDoc(
        "terminal_reported_fraud_newest_days",
        "Days since the newest of those reported frauds (30 when none).",
        "days",
    ),
    FeatureDoc(
        "customer_large_payment_count_1d",
        "The card's payments of the last day, this one included, above 3 times its older mean"
        " amount.",
        "payments",
    ),
    FeatureDoc(
        "customer_large_payment_count_7d",
        "The card's payments of the last 7 days, this one included, above 3 times its older mean"
        " amount.",
        "payments",
    ),
)

GLOSSARY_BEGIN = "<!-- feature glossary: generated from FEATURE_GLOSSARY, do not edit -->"
GLOSSARY_END = "<!-- end of the feature glossary -->"


def glossary_markdown(glossary: tuple[FeatureDoc, ...] = FEATURE_GLOSSARY) -> str:
    """The glossary as docs/analysts.md renders it, between its two markers."""
    rows = [f"| `{doc.name}` | {doc.meaning} | {doc.unit} |" for doc in glossary]
    table = ["| feature | meaning | unit |", "|---|---|---|", *rows]
    return "\n".join([GLOSSARY_BEGIN, *table, GLOSSARY_END])


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def glossary_sql(glossary: tuple[FeatureDoc, ...] = FEATURE_GLOSSARY) -> str:
    """``sql/R__analytics_feature_glossary.sql``: the repeatable step of ``fraud db migrate`` that
    makes ``analytics.feature_glossary`` hold exactly the declaration."""
    rows = ",\n".join(
        f"    ({_quoted(doc.name)}, {_quoted(doc.meaning)}, {_quoted(doc.unit)})"
        for doc in glossary
    )
    names = ", ".join(_quoted(doc.name) for doc in glossary)
    return (
        "-- Generated from fraud.features.columns.FEATURE_GLOSSARY (glossary_sql): do not edit.\n"
        "-- Every model feature in plain words; run again by `fraud db migrate` whenever it changes.\n"
        "insert into analytics.feature_glossary (name, meaning, unit)\nvalues\n"
        f"{rows}\n"
        "on conflict (name) do update set meaning = excluded.meaning, unit = excluded.unit;\n\n"
        f"delete from analytics.feature_glossary where name not in ({names});\n"
    )
