"""Buttons on a task's page in the Airflow UI: "Data Docs", "Drift report" and "MLflow run".

A task records the http link it produced (:func:`record_link`): the link goes to the task's
log at INFO and to an XCom key of its own. The DAG file attaches the matching link class to that
task only (:func:`with_links`). When the task ends, Airflow 3 calls each attached link's
``get_link`` on the worker and stores the answer as XCom; the api-server shows the button from
the serialized DAG and that XCom, without importing this module. That is why no plugin registers
these links: a plugin's links would run inside the api-server, and its global links would sit on
every task of every DAG.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, XComArg
    from airflow.sdk.types import TaskInstanceKey

    from fraud.config import Settings

log = logging.getLogger(__name__)


class FraudLink(BaseOperatorLink):
    """A link a task recorded under ``source_key``; no button when the task recorded none."""

    name: ClassVar[str]  # a constant here, a property in Airflow's base
    source_key: ClassVar[str]

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task instance pushed, or "" (Airflow then shows no button)."""
        from airflow.sdk.execution_time.xcom import XCom

        value = XCom.get_value(ti_key=ti_key, key=self.source_key)
        return value if isinstance(value, str) else ""


class DataDocsLink(FraudLink):
    """The Great Expectations Data Docs of the validation, on the monitoring page."""

    name = "Data Docs"
    source_key = "fraud_data_docs_url"


class DriftReportLink(FraudLink):
    """The night's Evidently drift report, on the monitoring page."""

    name = "Drift report"
    source_key = "fraud_drift_report_url"


class MlflowRunLink(FraudLink):
    """The training run in the MLflow UI."""

    name = "MLflow run"
    source_key = "fraud_mlflow_run_url"


def with_links(output: XComArg, *links: FraudLink) -> XComArg:
    """Attach link buttons to the task behind ``output`` (and to no other task); return it."""
    operator = getattr(output, "operator", None)
    if operator is None:
        raise TypeError(f"links go on one task's output, not on {output!r}")
    operator.operator_extra_links = links
    return output


def record_link(link: FraudLink, url: str) -> str:
    """Log ``url`` under the link's name at INFO and push it for the task's button; return it."""
    from airflow.sdk import get_current_context

    log.info("%s: %s", link.name, url)
    get_current_context()["ti"].xcom_push(key=link.source_key, value=url)
    return url


def link_data_docs(settings: Settings) -> str:
    """Record the Data Docs site's link (every validation renders its pages into that site)."""
    from fraud.links import data_docs_url

    return record_link(DataDocsLink(), data_docs_url(settings.base_url))


def link_drift_report(settings: Settings, drift_date: str) -> str:
    """Record the link to the night's Evidently report."""
    from fraud.links import drift_report_url

    return record_link(DriftReportLink(), drift_report_url(settings.base_url, drift_date))


def link_mlflow_run(settings: Settings, experiment_id: str, run_id: str) -> str | None:
    """Record the link to the training run; without a web address for MLflow, log the run id."""
    from fraud.links import mlflow_run_url

    if settings.mlflow_browser_url is None:
        log.info("MLflow run %s (set FRAUD_MLFLOW_UI_URL for a link to it)", run_id)
        return None
    url = mlflow_run_url(settings.mlflow_browser_url, experiment_id, run_id)
    return record_link(MlflowRunLink(), url)
