"""The fraud-monitoring page: its data, read as fraud_analyst, and its HTML; no Airflow here."""
