"""The Airflow side of the fraud DAGs: task defaults, the same-day sensor and the alert notifier.

The domain package ``fraud`` imports nothing of Airflow; what the DAG files share that does
lives here, beside it in ``include/``, on the path of every Airflow component and worker.
"""
