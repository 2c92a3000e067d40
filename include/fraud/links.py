"""Every web address the pipeline hands to a person, built from one configured base URL.

Alerts (the table, email, Slack), task logs and the Airflow UI's task buttons point at the
monitoring page's routes on the Airflow api-server, at the Airflow UI's task log and at the MLflow
UI: never at a file path, which opens nowhere but on the machine that wrote it. Each path segment
is URL-encoded here, so a run id with ``+`` or ``:`` or a model name with a space still opens.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from urllib.parse import quote

# Where plugins/fraud_monitoring.py mounts the monitoring page on the Airflow api-server, and the
# page's routes for the nightly Evidently reports and the Great Expectations Data Docs site.
URL_PREFIX = "/fraud-monitoring"
REPORTS_ROUTE = "reports"
DATA_DOCS_ROUTE = "data-docs"
DATA_DOCS_INDEX = "index.html"


def _segments(parts: Iterable[object]) -> str:
    """Path segments joined by ``/``, each one URL-encoded whole (a ``/`` inside one included)."""
    return "/".join(quote(str(part), safe="") for part in parts)


def page_url(base_url: str) -> str:
    """The monitoring page."""
    return f"{base_url.rstrip('/')}{URL_PREFIX}/"


def drift_report_name(drift_date: date | str) -> str:
    """The file name of a night's Evidently report (``YYYY-MM-DD.html``)."""
    day = drift_date if isinstance(drift_date, date) else date.fromisoformat(drift_date)
    return f"{day:%Y-%m-%d}.html"


def drift_report_url(base_url: str, drift_date: date | str) -> str:
    """A night's Evidently drift report, as the monitoring page serves it."""
    name = drift_report_name(drift_date)
    return f"{base_url.rstrip('/')}{URL_PREFIX}/{REPORTS_ROUTE}/{_segments([name])}"


def data_docs_url(base_url: str, page: str = DATA_DOCS_INDEX) -> str:
    """A page of the Data Docs site (its index unless a page's path inside the site is given)."""
    parts = [part for part in page.replace("\\", "/").split("/") if part]
    if not parts or any(part in {".", ".."} for part in parts):
        raise ValueError(f"Data Docs page {page!r} is not a path inside the site")
    return f"{base_url.rstrip('/')}{URL_PREFIX}/{DATA_DOCS_ROUTE}/{_segments(parts)}"


def task_log_url(
    base_url: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None = None,
    try_number: int | None = None,
) -> str:
    """The Airflow UI's page of one task instance, which opens on its log.

    The route is Airflow 3's ``dags/:dagId/runs/:runId/tasks/:taskId[/mapped/:mapIndex]``, as
    ``TaskInstance.log_url`` builds it; a mapped instance has a map index of 0 or more.
    """
    parts: list[object] = ["dags", dag_id, "runs", run_id, "tasks", task_id]
    if map_index is not None and map_index >= 0:
        parts += ["mapped", map_index]
    query = f"?try_number={try_number}" if try_number is not None and try_number > 0 else ""
    return f"{base_url.rstrip('/')}/{_segments(parts)}{query}"


def dag_run_url(base_url: str, dag_id: str, run_id: str) -> str:
    """The Airflow UI's page of one DAG run: its tasks' states, each opening on its log."""
    return f"{base_url.rstrip('/')}/{_segments(['dags', dag_id, 'runs', run_id])}"


def mlflow_run_url(mlflow_ui: str, experiment_id: str, run_id: str) -> str:
    """The MLflow UI's page of one run."""
    route = _segments(["experiments", experiment_id, "runs", run_id])
    return f"{mlflow_ui.rstrip('/')}/#/{route}"
