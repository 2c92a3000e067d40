"""Waiting on the pipeline through Airflow's REST API, with a line each time there is news.

While the nights run, ``fraud up`` prints ``fraud_ingest 3/7 nights, fraud_score 2/7, fraud_drift
1/7`` whenever a count changes; a failed run stops the wait with one line naming the run and the
UI page of its logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from fraud.local.airflow_api import AirflowApi, AirflowApiError, parsed_dags, run_counts, run_state

T = TypeVar("T")
POLL_SECONDS = 5.0


class PipelineRunError(RuntimeError):
    """A DAG run of the local pipeline failed or did not finish in time."""


def progress_line(counts: Mapping[str, int], expected: int) -> str:
    """``fraud_ingest 3/7 nights, fraud_score 2/7``: the successful runs of each DAG."""
    parts = [f"{dag_id} {done}/{expected}" for dag_id, done in counts.items()]
    if parts:
        parts[0] += " nights"
    return ", ".join(parts)


def changed_line(
    previous: Mapping[str, int] | None, current: Mapping[str, int], expected: int
) -> str | None:
    """The progress line when the counts differ from the last ones shown, else None."""
    if previous is not None and dict(previous) == dict(current):
        return None
    return progress_line(current, expected)


def _transient(error: AirflowApiError) -> bool:
    """Whether a failed call is worth repeating: no answer (a busy server) or a server error."""
    return error.status is None or error.status >= 500


def poll_until(
    check: Callable[[], T | None],
    timeout_seconds: float,
    what: str,
    poll_seconds: float = POLL_SECONDS,
) -> T:
    """Call ``check`` until it returns a value; a server that does not answer is asked again."""
    deadline = time.monotonic() + timeout_seconds
    last_error = ""
    while True:
        try:
            value = check()
        except AirflowApiError as error:
            if not _transient(error):
                raise
            value, last_error = None, f" (last: {error})"
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise PipelineRunError(
                f"timed out after {timeout_seconds:.0f}s waiting for {what}{last_error}"
            )
        time.sleep(poll_seconds)


def wait_for_dags(
    api: AirflowApi,
    dag_ids: Iterable[str],
    timeout_seconds: float,
    poll_seconds: float = POLL_SECONDS,
) -> set[str]:
    """Wait until the DAG processor has stored every one of ``dag_ids``."""
    wanted = set(dag_ids)

    def parsed() -> set[str] | None:
        found = parsed_dags(api, wanted)
        return found if found == wanted else None

    return poll_until(parsed, timeout_seconds, "the DAG processor to parse the DAGs", poll_seconds)


def wait_for_nights(
    api: AirflowApi,
    dag_ids: Iterable[str],
    expected: int,
    timeout_seconds: float,
    say: Callable[[str], None],
    poll_seconds: float = POLL_SECONDS,
) -> dict[str, int]:
    """Wait until each DAG has ``expected`` successful runs, saying each change of the counts."""
    names = tuple(dag_ids)
    shown: dict[str, int] | None = None

    def finished() -> dict[str, int] | None:
        nonlocal shown
        counts = {dag_id: run_counts(api, dag_id) for dag_id in names}
        for dag_id, count in counts.items():
            if count.failed_run_id is not None:
                raise PipelineRunError(
                    f"{dag_id} run {count.failed_run_id} failed:"
                    f" open {api.run_link(dag_id, count.failed_run_id)} for its logs"
                )
        succeeded = {dag_id: count.succeeded for dag_id, count in counts.items()}
        line = changed_line(shown, succeeded, expected)
        if line is not None:
            say(line)
        shown = succeeded
        return succeeded if all(done >= expected for done in succeeded.values()) else None

    what = f"{expected} successful night(s) of {', '.join(names)}"
    return poll_until(finished, timeout_seconds, what, poll_seconds)


def wait_for_run(
    api: AirflowApi,
    dag_id: str,
    run_id: str,
    timeout_seconds: float,
    say: Callable[[str], None],
    poll_seconds: float = POLL_SECONDS,
) -> str:
    """Wait until one DAG run succeeds, saying each state it goes through; fail when it fails."""
    shown: str | None = None

    def succeeded() -> str | None:
        nonlocal shown
        state = run_state(api, dag_id, run_id)
        if state is not None and state != shown:
            say(f"{dag_id} {run_id}: {state}")
            shown = state
        if state == "failed":
            raise PipelineRunError(
                f"{dag_id} run {run_id} failed: open {api.run_link(dag_id, run_id)} for its logs"
            )
        return state if state == "success" else None

    return poll_until(succeeded, timeout_seconds, f"{dag_id} run {run_id}", poll_seconds)
