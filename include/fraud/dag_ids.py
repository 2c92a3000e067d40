"""The ids of the pipeline's DAGs, named once: DAG files, status and the local stack use these."""

from __future__ import annotations

INGEST = "fraud_ingest"
SCORE = "fraud_score"
DRIFT = "fraud_drift"
RETRAIN = "fraud_retrain"

# The DAGs that run every night, in the order each waits for the one before.
NIGHTLY = (INGEST, SCORE, DRIFT)
ALL = (*NIGHTLY, RETRAIN)
