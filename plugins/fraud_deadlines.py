"""Registers ``fraud_score``'s deadline reference with Airflow.

The scheduler evaluates a DAG's deadline reference when it creates a run, and Airflow finds a
reference of its own only among the plugins' ``deadline_references``: without this plugin the
scheduler could not read ``fraud_score``'s deadline. The reference itself lives in
``fraud_airflow.deadlines`` (the DAG file imports it from there).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from fraud_airflow.deadlines import ScoresDue


class FraudDeadlinesPlugin(AirflowPlugin):
    """``ScoresDue``: when a night's scores are due (``FRAUD_SCORES_DEADLINE_HOURS``)."""

    name = "fraud_deadlines"
    deadline_references = [ScoresDue]
