"""Every Airflow Asset of the pipeline, named once.

Each is a ``(name, uri)`` pair of plain strings, so this module imports without Airflow;
:func:`fraud_airflow.assets.asset` makes the Airflow object for the DAG files. A ``postgres://``
URI names host, database, schema and table.
"""

from __future__ import annotations

_WAREHOUSE = "postgres://warehouse:5432/fraud"

VALIDATED_TRANSACTIONS = ("fraud_validated_transactions", f"{_WAREHOUSE}/staging/transactions")
TRANSACTION_FEATURES = ("fraud_transaction_features", f"{_WAREHOUSE}/staging/transaction_features")
TRANSACTION_SCORES = ("fraud_transaction_scores", f"{_WAREHOUSE}/scoring/transaction_scores")
FEATURE_DRIFT = ("fraud_feature_drift", f"{_WAREHOUSE}/monitoring/feature_drift")
RETRAINING_REQUESTS = (
    "fraud_retraining_requests",
    f"{_WAREHOUSE}/monitoring/retraining_requests",
)
