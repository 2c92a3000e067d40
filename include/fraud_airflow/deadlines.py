"""``fraud_score``'s deadline alert: the scores of day D are published by
``FRAUD_SCORES_DEADLINE_HOURS`` after D ends (6: by 06:00 UTC on D+1), or a person is told.

Airflow's Deadline Alerts do the watching. When a DAG run is created (by the scheduler, a
backfill or a trigger), Airflow evaluates the alert's reference once and stores a deadline for
the run; the scheduler queues the callback of every stored deadline that passes while no success
has pruned it (a run that succeeds in time deletes its deadline; a failed run keeps it, since its
day is still unpublished). The callback runs in the triggerer and raises a ``deadline_missed``
alert through the one notifier (``fraud_airflow.notifier.raise_alert``: the alerts table, then
email and Slack), which the monitoring page lists with the other alerts.

Which runs carry a deadline is decided at creation, by the reference :class:`ScoresDue`, so
that nothing fires for a run that could never have kept the promise:

- the deadline is counted from the end of the run's data interval (its day D), which scheduled,
  backfill and manual runs all have, unlike the logical date (D for a scheduled run, the trigger
  time for a manual one);
- a run created when its day's deadline had already passed gets none: a catch-up of old nights,
  a backfill, a manual run triggered late. It is not a miss of the promise, only a replay;
- a run that rescores a chosen day (its ``date`` param) gets none: it is no night's publication;
- a manual run without a logical date has no data interval, so it gets none either.

One consequence: when the nights queue behind ``max_active_runs``, a night whose run is created
after its deadline raises no deadline alert of its own, but the runs holding it up raise theirs.
Airflow finds the reference on every component through ``plugins/fraud_deadlines.py``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from airflow.sdk.definitions.deadline import (
    REFERENCE_TYPE_FIELD,
    AsyncCallback,
    BaseDeadlineReference,
    DeadlineAlert,
)

from fraud.config import Settings

log = logging.getLogger(__name__)


class ScoresDue(BaseDeadlineReference):
    """The end of a run's day, when that day's scores are still due at the run's creation;
    otherwise no deadline (see the module's docstring). Airflow adds the alert's interval."""

    required_kwargs: ClassVar[set[str]] = {"dag_id", "run_id"}

    def __init__(self, hours_after_day: float = 6.0) -> None:
        self.hours_after_day = float(hours_after_day)

    def _evaluate_with(self, *, session: Any, **kwargs: Any) -> datetime | None:
        """Read the run's day and params from the metadata database, at the run's creation."""
        from airflow.models import DagRun
        from sqlalchemy import select

        from fraud.monitoring.alerts import deadline_applies

        run = session.execute(
            select(DagRun.data_interval_end, DagRun.conf).where(
                DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"]
            )
        ).one_or_none()
        if run is None or run.data_interval_end is None:
            return None
        deadline = timedelta(hours=self.hours_after_day)
        rescored_day = (run.conf or {}).get("date")
        if not deadline_applies(run.data_interval_end, deadline, datetime.now(UTC), rescored_day):
            log.info(
                "no deadline for %s %s: its day's scores were due before it was created,"
                " or it rescores a chosen day",
                kwargs["dag_id"],
                kwargs["run_id"],
            )
            return None
        return run.data_interval_end

    def serialize_reference(self) -> dict[str, Any]:
        return {REFERENCE_TYPE_FIELD: self.reference_name, "hours_after_day": self.hours_after_day}

    @classmethod
    def deserialize_reference(cls, reference_data: dict[str, Any]) -> ScoresDue:
        return cls(hours_after_day=float(reference_data["hours_after_day"]))


def scores_deadline(settings: Settings) -> DeadlineAlert:
    """``fraud_score``'s deadline: its day's scores published ``scores_deadline_hours`` after
    the day ends, else :func:`scores_deadline_missed` runs in the triggerer."""
    return DeadlineAlert(
        reference=ScoresDue(settings.scores_deadline_hours),
        interval=settings.scores_deadline,
        callback=AsyncCallback(scores_deadline_missed),
        name="scores published",
    )


async def scores_deadline_missed(context: dict[str, Any] | None = None, **kwargs: Any) -> str:
    """The deadline callback: raise the ``deadline_missed`` alert (blocking work in a thread, so
    the triggerer's other triggers go on); return its message."""
    return await asyncio.to_thread(notify_deadline_missed, context or {})


def _moment(value: object) -> datetime | None:
    """A datetime from Airflow's context, where it may arrive as ISO text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        return _moment(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return None


def notify_deadline_missed(context: dict[str, Any]) -> str:
    """Record and send the alert for the run in ``context`` (Airflow's deadline context: the
    ``dag_run`` as the REST API shows it and the ``deadline`` with its time)."""
    from fraud.config import load_settings
    from fraud.links import dag_run_url
    from fraud.monitoring.alerts import AlertKind, deadline_message
    from fraud_airflow.connections import use_warehouse_connection
    from fraud_airflow.notifier import raise_alert

    run = context.get("dag_run") or {}
    dag_id, run_id = str(run.get("dag_id", "?")), str(run.get("dag_run_id", "?"))
    day_start = _moment(run.get("data_interval_start"))
    due_at = _moment((context.get("deadline") or {}).get("deadline_time"))
    if day_start is None or due_at is None:
        raise ValueError(f"deadline context of {dag_id} run {run_id} lacks its day or its time")
    try:
        use_warehouse_connection(context)
    except Exception as error:  # noqa: BLE001 - FRAUD_DATABASE_URL stays; the alert must go out
        log.warning("the fraud_warehouse Connection could not be read: %s", type(error).__name__)
    settings = load_settings()
    message = deadline_message(
        settings.base_url, dag_id, run_id, day_start, due_at, run.get("state")
    )
    raise_alert(
        settings,
        AlertKind.DEADLINE_MISSED,
        "critical",
        message,
        context,
        dag_id=dag_id,
        run_id=run_id,
        details={
            "day": f"{day_start:%Y-%m-%d}",
            "due_at": due_at.isoformat(),
            "run_type": run.get("run_type"),
            "run_state": run.get("state"),
            "run_url": dag_run_url(settings.base_url, dag_id, run_id),
        },
    )
    log.warning("%s", message)
    return message
