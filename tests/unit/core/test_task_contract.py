"""Every task of ``fraud.tasks`` keeps one contract: declared by ``@task`` (one-line errors), its
interval normalised once at the edge, and a result typed field for field like its stage's outcome.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from datetime import UTC, datetime, timedelta, timezone

import pendulum
import pytest

from fraud import results, tasks
from fraud.features.nightly import FeatureOutcome
from fraud.model.challenger import Challenger
from fraud.model.registry import VersionRef
from fraud.monitoring.drift import DriftOutcome, DriftReport
from fraud.monitoring.performance import PerformanceOutcome
from fraud.monitoring.retraining import RetrainingRequest
from fraud.quality.validate import ValidationOutcome
from fraud.scoring.score import ScoreOutcome, TopKOutcome

# Each task and the stage outcome its result carries.
OUTCOMES: dict[str, type] = {
    "validate_batch": ValidationOutcome,
    "build_features": FeatureOutcome,
    "resolve_champion": VersionRef,
    "score_partition": ScoreOutcome,
    "mark_top_k": TopKOutcome,
    "score_day": ScoreOutcome,
    "compute_drift": DriftOutcome,
    "write_drift_report": DriftReport,
    "compute_performance": PerformanceOutcome,
    "request_retraining": RetrainingRequest,
    "drop_expired_partitions": tasks.RetentionOutcome,
    "train_challenger": Challenger,
    "decide_promotion": tasks.PromotionOutcome,
}
# The module's other public functions: what a DAG computes before it calls a task.
HELPERS = {"scoring_interval", "requested_drift_dates", "retrain_cutoff", "retrain_trigger", "task"}


def test_every_task_is_declared_and_has_an_outcome() -> None:
    assert sorted(tasks.TASKS) == sorted(OUTCOMES)


def test_every_public_function_is_a_task_or_a_named_helper() -> None:
    functions = {
        name
        for name, value in vars(tasks).items()
        if inspect.isfunction(value) and value.__module__ == tasks.__name__ and name[0] != "_"
    }
    assert functions == set(tasks.TASKS) | HELPERS


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_a_task_wraps_its_errors(name: str) -> None:
    function = getattr(tasks, name)
    assert function.__wrapped__.__name__ == name


def _result_type(name: str) -> type:
    """The TypedDict a task's result is annotated with (``None`` aside)."""
    returned = typing.get_type_hints(getattr(tasks, name))["return"]
    if typing.get_origin(returned) in (typing.Union, types.UnionType):
        (returned,) = (option for option in typing.get_args(returned) if option is not type(None))
    return typing.cast(type, returned)


@pytest.mark.parametrize(("name", "outcome"), sorted(OUTCOMES.items()))
def test_a_result_has_the_fields_of_its_outcome(name: str, outcome: type) -> None:
    result = _result_type(name)
    assert typing.is_typeddict(result)
    assert getattr(results, result.__name__) is result
    assert list(result.__annotations__) == [field.name for field in dataclasses.fields(outcome)]


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 3, 1),
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        pendulum.datetime(2026, 3, 1, tz="UTC"),
    ],
    ids=["naive", "utc", "offset", "pendulum"],
)
def test_the_interval_is_utc_once_at_the_edge(start: datetime) -> None:
    interval = tasks.Interval.of(start, start + timedelta(days=1))
    assert interval == tasks.Interval(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    )
    assert type(interval.start) is datetime and interval.start.tzinfo is UTC


def test_an_empty_interval_is_refused_at_the_edge() -> None:
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="empty data interval"):
        tasks.Interval.of(moment, moment)
