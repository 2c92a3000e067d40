"""Reason codes of alerts are the features that pushed their score up most, per pred_contrib."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from fraud.model.registry import RegisteredModel
from fraud.scoring.predict import predict, score_frame
from tests.support.simulated_model import COLUMNS, train_on_simulation


@cache
def _scored() -> tuple[lgb.Booster, pd.DataFrame, pd.DataFrame]:
    """A small model trained here, the rows it scored, and score_frame's output for them."""
    booster, frame = train_on_simulation(
        seed=4,
        params={"objective": "binary", "verbosity": -1, "seed": 1, "num_threads": 1},
        rounds=40,
        scoring_window=(datetime(2026, 1, 22, tzinfo=UTC), datetime(2026, 1, 23, tzinfo=UTC)),
    )
    model = RegisteredModel("reason-test", 1, "run", booster)
    # At least ten alerts: the threshold is the tenth highest score.
    threshold = float(np.sort(predict(model, frame))[-10])
    scored = score_frame(model, frame, run_id="test", alert_threshold=threshold)
    return booster, frame, scored


def _expected_reasons(booster: lgb.Booster, row: pd.DataFrame) -> list[tuple[str, float]]:
    """The three largest positive contributions of one row, computed independently."""
    contributions = pd.Series(booster.predict(row[COLUMNS], pred_contrib=True)[0, :-1], COLUMNS)
    positive = contributions[contributions > 0].sort_values(ascending=False, kind="stable")
    return list(positive.head(3).items())


def test_some_rows_alert_and_some_do_not() -> None:
    _, _, scored = _scored()
    assert 10 <= scored["is_alert"].sum() < len(scored)


def test_rows_without_alert_have_no_reasons() -> None:
    _, _, scored = _scored()
    quiet = scored[~scored["is_alert"]]
    assert quiet[["reason_1", "reason_2", "reason_3"]].isna().all().all()


@pytest.mark.parametrize("position", range(10))
def test_alert_reasons_are_the_top_positive_contributions(position: int) -> None:
    booster, frame, scored = _scored()
    row = np.flatnonzero(scored["is_alert"].to_numpy())[position]
    expected = _expected_reasons(booster, frame.iloc[[row]])
    assert expected, "an alert's score was pushed up by at least one feature"
    actual = [
        (scored.iloc[row][f"reason_{n}"], scored.iloc[row][f"reason_{n}_contribution"])
        for n in range(1, len(expected) + 1)
    ]
    assert [name for name, _ in actual] == [name for name, _ in expected]
    np.testing.assert_allclose([value for _, value in actual], [value for _, value in expected])


def test_contributions_add_up_to_the_raw_score() -> None:
    booster, frame, scored = _scored()
    alerts = frame[scored["is_alert"].to_numpy()]
    contributions = booster.predict(alerts[COLUMNS], pred_contrib=True)
    raw = booster.predict(alerts[COLUMNS], raw_score=True)
    np.testing.assert_allclose(contributions.sum(axis=1), raw, rtol=1e-9, atol=1e-9)
