"""One step of the night benchmark, measured in a process of its own, as a worker runs a task.

``python -m benchmarks.night_child`` reads the step and its arguments from stdin; the scratch
warehouse, MLflow store and settings come in the environment. It imports and connects first,
then times only the step (the task function the DAG calls) and prints its seconds, its peak
memory and the task's result.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fraud.bulk import dbapi, inline
from fraud.resources import peak_rss_mib

# Opens the pool's first connection, so its cost is not measured as the step's.
_CONNECT_SQL = "select 1"

Step = Callable[[dict[str, Any]], Any]


def _bounds(spec: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(spec["start"]), datetime.fromisoformat(spec["end"])


def _validate(spec: dict[str, Any]) -> Any:
    from fraud.tasks import validate_batch

    return validate_batch(*_bounds(spec), spec["run_id"])


def _features(spec: dict[str, Any]) -> Any:
    from fraud.tasks import build_features

    return build_features(*_bounds(spec), spec["run_id"], spec["share"], spec["shares"])


def _features_floor(spec: dict[str, Any]) -> Any:
    """The feature step's I/O alone: the same selects copied out, its rows copied back in."""
    from benchmarks.night_floor import feature_floor

    return feature_floor(*_bounds(spec), shares=spec["shares"], csv_path=spec["csv_path"])


def _resolve(spec: dict[str, Any]) -> Any:
    from fraud.tasks import resolve_champion

    return resolve_champion()


def _score(spec: dict[str, Any]) -> Any:
    from fraud.tasks import score_partition

    bounds = _bounds(spec)
    return score_partition(
        *bounds, spec["run_id"], spec["share"], spec["shares"], spec["model_version"]
    )


def _top_k(spec: dict[str, Any]) -> Any:
    from fraud.tasks import mark_top_k

    return mark_top_k(*_bounds(spec), spec["model_version"])


def _drift(spec: dict[str, Any]) -> Any:
    from fraud.tasks import compute_drift

    return compute_drift(*_bounds(spec), spec["run_id"])


def _report(spec: dict[str, Any]) -> Any:
    from fraud.tasks import write_drift_report

    return write_drift_report(*_bounds(spec))


def _performance(spec: dict[str, Any]) -> Any:
    from fraud.tasks import compute_performance

    return compute_performance(*_bounds(spec), spec["run_id"])


def _retraining(spec: dict[str, Any]) -> Any:
    from fraud.tasks import decide_promotion, train_challenger

    challenger = train_challenger(datetime.fromisoformat(spec["cutoff"]), "benchmark")
    return {
        "challenger": challenger,
        "decision": decide_promotion(challenger, spec["run_id"]),
    }


STEPS: dict[str, Step] = {
    "validate": _validate,
    "features": _features,
    "features_floor": _features_floor,
    "resolve": _resolve,
    "score": _score,
    "top_k": _top_k,
    "drift": _drift,
    "report": _report,
    "performance": _performance,
    "retraining": _retraining,
}


def _warm_up() -> None:
    """Load the libraries every step uses and open a connection, before the clock starts."""
    import lightgbm  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.csv  # noqa: F401

    import fraud.features.nightly  # noqa: F401
    import fraud.scoring.score  # noqa: F401
    from fraud.config import load_settings
    from fraud.db import warehouse_engine

    with warehouse_engine(load_settings().require_database_url()).connect() as connection:
        connection.execute(sa.text(_CONNECT_SQL))
        inline(connection, "select %(one)s", {"one": 1})
        dbapi(connection)


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Time one step and read this process's peak memory."""
    _warm_up()
    baseline = peak_rss_mib()
    started = time.perf_counter()
    result = STEPS[spec["step"]](spec)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_rss_mib": peak_rss_mib(),
        "baseline_rss_mib": baseline,
        "result": result,
        "pid": os.getpid(),
    }


if __name__ == "__main__":
    print(json.dumps(measure(json.load(sys.stdin)), default=str))
