"""The local stack behind `make up`: PostgreSQL, Airflow and MLflow as processes, and the demo run.

Nothing here is imported by the DAGs, the plugins or the workers."""
