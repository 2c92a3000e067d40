#!/usr/bin/env bash
# Runs once, when the postgres container starts on an empty data volume: one server, three
# databases, each reached by its own login. `airflow` owns the Airflow metadata database (also
# the Celery results) and `mlflow` the MLflow store; the superuser owns `fraud`, whose schema,
# group roles and logins `fraud db migrate` and `fraud db logins` create (airflow-init).
#
# No database is open to PUBLIC: CONNECT and TEMPORARY are revoked on all three and CONNECT is
# granted back to the roles that use each (the warehouse migration grants it on `fraud` to
# fraud_pipeline and fraud_analyst). The passwords come from the environment and reach the
# server as psql variables quoted by psql (:'name'), so no character in them can end the literal.
set -euo pipefail

: "${AIRFLOW_DB_PASSWORD:?set AIRFLOW_DB_PASSWORD for the postgres service}"
: "${MLFLOW_DB_PASSWORD:?set MLFLOW_DB_PASSWORD for the postgres service}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set airflow_password="$AIRFLOW_DB_PASSWORD" \
    --set mlflow_password="$MLFLOW_DB_PASSWORD" <<'SQL'
create role airflow login password :'airflow_password';
create role mlflow login password :'mlflow_password';
create database airflow owner airflow;
create database fraud;
create database mlflow owner mlflow;
revoke connect, temporary on database airflow, fraud, mlflow from public;
grant connect on database airflow to airflow;
grant connect on database mlflow to mlflow;
SQL
