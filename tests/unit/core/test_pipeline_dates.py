"""Dates: data intervals, the retraining cut-off and the training windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from airflow.sdk.api.datamodels._generated import DagRunType

from fraud.dates import day_interval
from fraud.model.train import windows_before
from fraud.tasks import retrain_cutoff, retrain_trigger


def test_day_interval_is_one_utc_day() -> None:
    assert day_interval("2026-03-05") == (
        datetime(2026, 3, 5, tzinfo=UTC),
        datetime(2026, 3, 6, tzinfo=UTC),
    )


RUN_AFTER = datetime(2026, 3, 9, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("as_of", "drift_dates", "logical_date", "expected"),
    [
        ("2026-02-01", ["2026-03-01"], RUN_AFTER, datetime(2026, 2, 1, tzinfo=UTC)),
        (None, ["2026-03-01", "2026-03-03"], None, datetime(2026, 3, 4, tzinfo=UTC)),
        (None, [], RUN_AFTER, RUN_AFTER),
        (None, [], None, RUN_AFTER),
    ],
)
def test_retrain_cutoff(as_of, drift_dates, logical_date, expected) -> None:
    assert retrain_cutoff(as_of, drift_dates, logical_date, RUN_AFTER) == expected


def test_windows_leave_a_gap_and_mature_labels() -> None:
    windows = windows_before(
        datetime(2026, 3, 31, 4, tzinfo=UTC), train_days=28, validation_days=7, label_delay_days=7
    )
    assert windows.validation_end == datetime(2026, 3, 17, tzinfo=UTC)
    assert windows.validation_start == datetime(2026, 3, 10, tzinfo=UTC)
    assert windows.train_end == datetime(2026, 3, 3, tzinfo=UTC)
    assert windows.train_start == datetime(2026, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("events", "run_type", "expected"),
    [
        ([], DagRunType.SCHEDULED, "scheduled"),
        ([], "manual", "manual"),
        ([{"reason": "psi 0.4 on tx_amount"}], DagRunType.SCHEDULED, "psi 0.4 on tx_amount"),
        ([{"reason": "a"}, {"reason": "b"}], "asset_triggered", "a; b"),
    ],
)
def test_retrain_trigger_names_the_reason_or_the_plain_run_type(events, run_type, expected) -> None:
    # The task SDK's DagRunType formats as "DagRunType.SCHEDULED"; the record wants the value.
    assert retrain_trigger(events, run_type) == expected
