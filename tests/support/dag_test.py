"""Test support: the DAGs as ``dag.test()`` can run them.

Airflow 3.3.2's ``dag.test()`` runs the in-memory round trip of the DAG's serialization, whose
``deadline`` holds the encoded alerts, not the ids of stored ``deadline_alert`` rows that the
scheduler's copy holds; when such a run succeeds, ``DagRun.update_state`` looks the alerts up by
id and fails. The tests that run ``fraud_score`` under ``dag.test()`` test scoring, not its
deadline, so they run it without one; ``tests/integration/monitoring/test_scores_deadline.py``
tests the deadline through the scheduler and the triggerer, which are not affected.
"""

from __future__ import annotations

from typing import Any


def without_deadlines(dags: dict[str, Any]) -> dict[str, Any]:
    """The parsed DAGs, their deadline alerts removed (in place); return them."""
    for dag in dags.values():
        dag.deadline = None
    return dags
