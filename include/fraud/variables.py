"""The environment variables the settings are read from, by name, with their attribute and type.

:func:`fraud.config.load_settings` reads them; nothing else reads the environment. Deployment files
(``docker-compose.yaml``, ``.env.example``) and the README's configuration table are checked
against :data:`ENVIRONMENT_VARIABLES`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

# Airflow's own setting for where its UI is reached: the links' base unless FRAUD_BASE_URL is set.
AIRFLOW_BASE_URL = "AIRFLOW__API__BASE_URL"
VARIABLES: dict[str, tuple[str, type]] = {
    "FRAUD_DATABASE_URL": ("database_url", str),
    "FRAUD_ANALYST_DATABASE_URL": ("analyst_database_url", str),
    "FRAUD_INVESTIGATOR_DATABASE_URL": ("investigator_database_url", str),
    "FRAUD_OWNER_DATABASE_URL": ("owner_database_url", str),
    "FRAUD_PIPELINE_DB_PASSWORD": ("pipeline_db_password", str),
    "FRAUD_ANALYST_DB_PASSWORD": ("analyst_db_password", str),
    "FRAUD_INVESTIGATOR_DB_PASSWORD": ("investigator_db_password", str),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": ("airflow_database_url", str),
    "MLFLOW_TRACKING_URI": ("mlflow_tracking_uri", str),
    "FRAUD_MLFLOW_UI_URL": ("mlflow_ui_url", str),
    "FRAUD_BASE_URL": ("base_url", str),
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": ("mlflow_request_max_retries", int),
    "MLFLOW_HTTP_REQUEST_TIMEOUT": ("mlflow_request_timeout_seconds", int),
    "FRAUD_MODEL_NAME": ("model_name", str),
    "FRAUD_ALERT_EMAIL": ("alert_email", str),
    "FRAUD_SLACK_WEBHOOK_URL": ("slack_webhook_url", str),
    "FRAUD_ARTIFACT_DIR": ("artifact_dir", Path),
    "FRAUD_SCHEDULE_START": ("schedule_start", date),
    "FRAUD_RETRAIN_CRON": ("retrain_cron", str),
    "FRAUD_LABEL_DELAY_DAYS": ("label_delay_days", int),
    "FRAUD_TRAIN_DAYS": ("train_days", int),
    "FRAUD_VALIDATION_DAYS": ("validation_days", int),
    "FRAUD_TRAINING_TIME_BUDGET_SECONDS": ("training_time_budget_seconds", float),
    "FRAUD_RANDOM_SEED": ("random_seed", int),
    "FRAUD_TRAINING_GENUINE_FRACTION": ("training_genuine_share", float),
    "FRAUD_TRAINING_MIN_GENUINE_ROWS": ("training_min_genuine_rows", int),
    "FRAUD_TRAINING_MAX_GENUINE_ROWS": ("training_max_genuine_rows", int),
    "FRAUD_ALERT_THRESHOLD": ("alert_threshold", float),
    "FRAUD_ALERT_RANKING": ("alert_ranking", str),
    "FRAUD_REVIEW_CAPACITY": ("review_capacity", int),
    "FRAUD_REVIEW_COOLDOWN_DAYS": ("review_cooldown_days", int),
    "FRAUD_REVIEW_DELAY_HOURS": ("review_delay_hours", float),
    "FRAUD_SCORE_CHUNK_ROWS": ("score_chunk_rows", int),
    "FRAUD_SCORE_SHARES": ("score_shares", int),
    "FRAUD_SCORE_COMPILED": ("score_compiled", bool),
    "FRAUD_FEATURE_SHARES": ("feature_shares", int),
    "FRAUD_FEATURE_CHUNK_ROWS": ("feature_chunk_rows", int),
    "FRAUD_RETENTION_DAYS": ("retention_days", int),
    "FRAUD_SCORES_DEADLINE_HOURS": ("scores_deadline_hours", float),
    "FRAUD_PSI_BINS": ("psi_bins", int),
    "FRAUD_DRIFT_CONSECUTIVE_NIGHTS": ("drift_consecutive_nights", int),
    "FRAUD_PERFORMANCE_MATURITY_DAYS": ("performance_maturity_days", tuple),
    "FRAUD_PERFORMANCE_FLOOR_AP": ("performance_floor_average_precision", float),
}
# The quality gate's variables, read into Settings.quality_gate (GateConfig holds the defaults).
GATE_VARIABLES: dict[str, tuple[str, type]] = {
    "FRAUD_AMOUNT_CEILING": ("amount_ceiling", float),
    "FRAUD_MAX_QUARANTINE_FRACTION": ("max_quarantine_fraction", float),
    "FRAUD_VOLUME_BAND_LOW": ("volume_band_low", float),
    "FRAUD_VOLUME_BAND_HIGH": ("volume_band_high", float),
    "FRAUD_MIN_VOLUME_HISTORY_DAYS": ("min_volume_history_days", int),
}
# The promotion gate's ratio rule on money, read into Settings.promotion_money_gate.
MONEY_GATE_VARIABLES: dict[str, tuple[str, type]] = {
    "FRAUD_GATE_MIN_PREVENTED_RATIO": ("min_ratio", float),
    "FRAUD_GATE_MIN_FRAUD_CARDS": ("min_fraud_cards", int),
}
# Old names that still work, each with the name that replaced it: the glossary's word for a slice
# of a night's cards is "share", never "partition" (a day partition is a table's).
RENAMED_VARIABLES: dict[str, str] = {
    "FRAUD_SCORE_PARTITIONS": "FRAUD_SCORE_SHARES",
    "FRAUD_FEATURE_PARTITIONS": "FRAUD_FEATURE_SHARES",
    # A proportion is a fraction; a share is a slice of a night's cards (the glossary).
    "FRAUD_TRAINING_GENUINE_SHARE": "FRAUD_TRAINING_GENUINE_FRACTION",
    "FRAUD_MAX_QUARANTINE_SHARE": "FRAUD_MAX_QUARANTINE_FRACTION",
    # The review budget is the investigators' capacity: one setting for both.
    "FRAUD_ALERT_TOP_K": "FRAUD_REVIEW_CAPACITY",
}
# Secrets of the deployment that reach the package's processes: their values are masked in alerts,
# email, Slack and logs, and handed to Airflow's masker (Settings.deployment_secrets).
DEPLOYMENT_SECRET_VARIABLES: tuple[str, ...] = (
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_BACKEND_STORE_URI",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
    "AIRFLOW_CONN_FRAUD_WAREHOUSE",
    "AIRFLOW_CONN_FRAUD_SLACK",
    "AIRFLOW_CONN_SMTP_DEFAULT",
    "AIRFLOW__SMTP__SMTP_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
)
# Every variable load_settings reads: deployment files (docker-compose.yaml) are checked against it.
ENVIRONMENT_VARIABLES: tuple[str, ...] = (
    *VARIABLES,
    *GATE_VARIABLES,
    *MONEY_GATE_VARIABLES,
    *RENAMED_VARIABLES,
    "FRAUD_PSI_WARNING",
    "FRAUD_PSI_ALERT",
    AIRFLOW_BASE_URL,
)
