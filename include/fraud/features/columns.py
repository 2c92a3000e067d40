"""The feature columns, named once, and how much history one day's features need.

Importing this costs nothing (no pandas, no numpy): DAG files, the SQL builders and the
registry's column checks read it.
"""

from __future__ import annotations

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
