"""Every Airflow Asset of the pipeline, named once.

The URIs are plain strings so this module imports without Airflow; :func:`asset` builds the
Airflow object lazily for DAG files. A ``postgres://`` URI names host, database, schema and table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Asset

_WAREHOUSE = "postgres://warehouse:5432/fraud"

VALIDATED_TRANSACTIONS = ("fraud_validated_transactions", f"{_WAREHOUSE}/staging/transactions")
TRANSACTION_FEATURES = ("fraud_transaction_features", f"{_WAREHOUSE}/staging/transaction_features")
TRANSACTION_SCORES = ("fraud_transaction_scores", f"{_WAREHOUSE}/scoring/transaction_scores")
FEATURE_DRIFT = ("fraud_feature_drift", f"{_WAREHOUSE}/monitoring/feature_drift")
RETRAINING_REQUESTS = (
    "fraud_retraining_requests",
    f"{_WAREHOUSE}/monitoring/retraining_requests",
)


def asset(spec: tuple[str, str]) -> Asset:
    """The Airflow Asset for one of the specs above."""
    from airflow.sdk import Asset

    name, uri = spec
    return Asset(name=name, uri=uri)
