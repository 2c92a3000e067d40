"""Unit tests of the transaction simulator on small runs (no database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from fraud.simulation.generate import Simulation, progress_days, simulate
from fraud.simulation.params import (
    COMPROMISED_CARD,
    COMPROMISED_TERMINAL,
    CUSTOMER_COMPROMISE_DAYS,
    GENUINE,
    LARGE_AMOUNT,
    LARGE_AMOUNT_THRESHOLD,
    TERMINAL_COMPROMISE_DAYS,
    SimulationParams,
)

# Longer than a terminal compromise, so that its end falls within the run.
SMALL = SimulationParams(
    seed=7, n_customers=50, n_terminals=100, n_days=35, radius=15.0, start_date=date(2026, 3, 1)
)
DRIFT_START = date(2026, 3, 11)


@pytest.fixture(scope="module")
def small() -> Simulation:
    """One small run shared by the read-only tests."""
    return simulate(SMALL)


def _frames(simulation: Simulation) -> list[pd.DataFrame]:
    """Every frame of a simulation, in a fixed order."""
    return [simulation.transactions, simulation.labels, simulation.truth, simulation.compromises]


def _with_truth(simulation: Simulation) -> pd.DataFrame:
    """Transactions joined to their hidden fraud scenario."""
    return simulation.transactions.merge(simulation.truth, on="transaction_id", validate="1:1")


def test_same_seed_gives_identical_frames(small: Simulation) -> None:
    again = simulate(SMALL)
    for first, second in zip(_frames(small), _frames(again), strict=True):
        pd.testing.assert_frame_equal(first, second, check_exact=True)
        assert first.to_csv(index=False) == second.to_csv(index=False)


def test_different_seeds_differ(small: Simulation) -> None:
    other = simulate(replace(SMALL, seed=SMALL.seed + 1))
    assert not small.transactions.equals(other.transactions)


@pytest.mark.parametrize(
    ("frame", "dtypes"),
    [
        (
            "transactions",
            {
                "transaction_id": "int64",
                "tx_datetime": "datetime64[ns, UTC]",
                "customer_id": "int64",
                "terminal_id": "int64",
                "tx_amount": "float64",
                "channel": "object",
                "merchant_category": "object",
                "merchant_country": "object",
                "currency": "object",
                "original_amount": "float64",
            },
        ),
        (
            "labels",
            {"transaction_id": "int64", "is_fraud": "bool", "reported_at": "datetime64[ns, UTC]"},
        ),
        ("truth", {"transaction_id": "int64", "is_fraud": "bool", "fraud_scenario": "int64"}),
        (
            "compromises",
            {
                "fraud_scenario": "int64",
                "entity_id": "int64",
                "compromised_from": "datetime64[ns, UTC]",
                "compromised_until": "datetime64[ns, UTC]",
            },
        ),
    ],
)
@pytest.mark.parametrize("n_days", [SMALL.n_days, 0])
def test_columns_and_dtypes(frame: str, dtypes: dict[str, str], n_days: int) -> None:
    simulation = simulate(replace(SMALL, n_days=n_days))
    assert {name: str(dtype) for name, dtype in getattr(simulation, frame).dtypes.items()} == dtypes


@pytest.mark.parametrize("first_id", [1, 1_000_001])
def test_ids_are_sequential_in_chronological_order(first_id: int) -> None:
    transactions = simulate(replace(SMALL, first_transaction_id=first_id)).transactions
    expected = np.arange(first_id, first_id + len(transactions))
    assert len(transactions) > 1000
    assert np.array_equal(transactions["transaction_id"].to_numpy(), expected)
    ordered = transactions.sort_values(["tx_datetime", "customer_id"], kind="stable")
    assert ordered.index.equals(transactions.index)


def test_datetimes_stay_within_the_simulated_days(small: Simulation) -> None:
    start = pd.Timestamp(SMALL.start_date, tz="UTC")
    tx_datetime = small.transactions["tx_datetime"]
    assert tx_datetime.min() >= start
    assert tx_datetime.max() < start + pd.Timedelta(days=SMALL.n_days)


def test_ids_are_one_based_and_within_the_profiles(small: Simulation) -> None:
    transactions = small.transactions
    assert transactions["customer_id"].between(1, SMALL.n_customers).all()
    assert transactions["terminal_id"].between(1, SMALL.n_terminals).all()


def test_every_label_has_a_transaction_and_comes_later(small: Simulation) -> None:
    labels = small.labels
    joined = labels.merge(small.transactions, on="transaction_id", how="left", validate="1:1")
    assert len(labels) > 0
    assert joined["tx_datetime"].notna().all()
    assert (joined["reported_at"] > joined["tx_datetime"]).all()


def test_labels_agree_with_the_truth(small: Simulation) -> None:
    truth = small.truth.set_index("transaction_id")
    labels = small.labels.set_index("transaction_id")
    assert set(truth.index[truth["is_fraud"]]) <= set(labels.index)
    assert labels["is_fraud"].equals(truth.loc[labels.index, "is_fraud"])


@pytest.mark.parametrize(("rate", "expected_share"), [(0.0, 0.0), (0.2, 0.2), (1.0, 1.0)])
def test_genuine_disputes_follow_their_rate(rate: float, expected_share: float) -> None:
    simulation = simulate(replace(SMALL, genuine_dispute_rate=rate))
    genuine = int((~simulation.truth["is_fraud"]).sum())
    disputes = int((~simulation.labels["is_fraud"]).sum())
    assert disputes / genuine == pytest.approx(expected_share, abs=0.02)


@pytest.mark.parametrize("delay_days", [7.0, 2.5, 0.5])
def test_fixed_delay_is_exact(delay_days: float) -> None:
    simulation = simulate(replace(SMALL, label_delay_days=delay_days, label_delay_shape=None))
    joined = simulation.labels.merge(simulation.transactions, on="transaction_id")
    delays = joined["reported_at"] - joined["tx_datetime"]
    assert (delays == pd.Timedelta(days=delay_days)).all()


def test_gamma_delays_vary_around_their_mean() -> None:
    simulation = simulate(replace(SMALL, n_days=40, label_delay_days=7.0, label_delay_shape=4.0))
    joined = simulation.labels.merge(simulation.transactions, on="transaction_id")
    delay_days = (joined["reported_at"] - joined["tx_datetime"]).dt.total_seconds() / 86_400
    assert delay_days.mean() == pytest.approx(7.0, abs=0.5)
    assert delay_days.std() > 2.0


def test_changing_labels_leaves_transactions_alone(small: Simulation) -> None:
    other = simulate(replace(SMALL, label_delay_shape=None, genuine_dispute_rate=0.5))
    pd.testing.assert_frame_equal(small.transactions, other.transactions)
    pd.testing.assert_frame_equal(small.truth, other.truth)


def test_every_amount_above_the_threshold_is_fraud(small: Simulation) -> None:
    frame = _with_truth(small)
    large = frame[frame["tx_amount"] > LARGE_AMOUNT_THRESHOLD]
    assert len(large) > 0
    assert large["is_fraud"].all()
    scenario_one = frame[frame["fraud_scenario"] == LARGE_AMOUNT]
    assert (scenario_one["tx_amount"] > LARGE_AMOUNT_THRESHOLD).all()


def test_is_fraud_matches_the_scenario(small: Simulation) -> None:
    truth = small.truth
    assert (
        truth["fraud_scenario"]
        .isin([GENUINE, LARGE_AMOUNT, COMPROMISED_TERMINAL, COMPROMISED_CARD])
        .all()
    )
    assert truth["is_fraud"].equals(truth["fraud_scenario"] != GENUINE)


@pytest.mark.parametrize(
    ("scenario", "per_day", "duration_days"),
    [
        (COMPROMISED_TERMINAL, 2, TERMINAL_COMPROMISE_DAYS),
        (COMPROMISED_CARD, 3, CUSTOMER_COMPROMISE_DAYS),
    ],
)
def test_compromises_are_drawn_daily_with_their_duration(
    small: Simulation, scenario: int, per_day: int, duration_days: int
) -> None:
    compromises = small.compromises[small.compromises["fraud_scenario"] == scenario]
    per_start = compromises.groupby("compromised_from")["entity_id"].agg(["size", "nunique"])
    assert len(per_start) == SMALL.n_days
    assert (per_start["size"] == per_day).all()
    assert (per_start["nunique"] == per_day).all()
    duration = compromises["compromised_until"] - compromises["compromised_from"]
    assert (duration == pd.Timedelta(days=duration_days)).all()


def _covered(frame: pd.DataFrame, compromises: pd.DataFrame, entity: str) -> pd.Series:
    """Whether each transaction falls in a compromise period of its terminal or customer."""
    pairs = frame.reset_index().merge(compromises, left_on=entity, right_on="entity_id")
    inside = (pairs["tx_datetime"] >= pairs["compromised_from"]) & (
        pairs["tx_datetime"] < pairs["compromised_until"]
    )
    hits = set(pairs.loc[inside, "index"])
    return pd.Series(frame.index.isin(list(hits)), index=frame.index)


@pytest.mark.parametrize(
    ("scenario", "entity"),
    [(COMPROMISED_TERMINAL, "terminal_id"), (COMPROMISED_CARD, "customer_id")],
)
def test_scenario_frauds_fall_within_a_compromise(
    small: Simulation, scenario: int, entity: str
) -> None:
    frame = _with_truth(small)
    compromises = small.compromises[small.compromises["fraud_scenario"] == scenario]
    frauds = frame[frame["fraud_scenario"] == scenario]
    assert len(frauds) > 0
    assert _covered(frauds, compromises, entity).all()


def test_every_payment_at_a_compromised_terminal_is_fraud(small: Simulation) -> None:
    frame = _with_truth(small)
    compromises = small.compromises[small.compromises["fraud_scenario"] == COMPROMISED_TERMINAL]
    covered = _covered(frame, compromises, "terminal_id")
    assert covered.sum() > 0
    assert frame.loc[covered, "fraud_scenario"].isin([COMPROMISED_TERMINAL, COMPROMISED_CARD]).all()
    assert not frame.loc[~covered, "fraud_scenario"].eq(COMPROMISED_TERMINAL).any()


def test_about_a_third_of_compromised_card_payments_are_fraud() -> None:
    simulation = simulate(replace(SMALL, n_days=70))
    frame = _with_truth(simulation)
    compromises = simulation.compromises[
        simulation.compromises["fraud_scenario"] == COMPROMISED_CARD
    ]
    covered = frame[_covered(frame, compromises, "customer_id")]
    share = (covered["fraud_scenario"] == COMPROMISED_CARD).mean()
    assert share == pytest.approx(1 / 3, abs=0.1)


def test_compromised_card_frauds_have_amounts_multiplied_by_five(small: Simulation) -> None:
    frame = _with_truth(small)
    card = frame[frame["fraud_scenario"] == COMPROMISED_CARD]
    genuine = frame[frame["fraud_scenario"] == GENUINE]
    usual = genuine.groupby("customer_id")["tx_amount"].mean()
    ratio = card["tx_amount"] / card["customer_id"].map(usual)
    cents = np.rint(card["tx_amount"] * 100).astype(np.int64)
    assert len(card) > 50
    assert (cents % 5 == 0).all()
    assert 4.0 < ratio.median() < 6.0


def test_split_runs_give_the_same_payments(small: Simulation) -> None:
    half = SMALL.n_days // 2
    first = simulate(replace(SMALL, n_days=half))
    second = simulate(
        replace(
            SMALL,
            start_date=SMALL.start_date + timedelta(days=half),
            n_days=SMALL.n_days - half,
            first_transaction_id=len(first.transactions) + 1,
        )
    )
    columns = ["transaction_id", "tx_datetime", "customer_id", "terminal_id"]
    joined = pd.concat([first.transactions, second.transactions], ignore_index=True)
    pd.testing.assert_frame_equal(joined[columns], small.transactions[columns])


def test_customers_without_terminals_in_reach_make_no_payments() -> None:
    simulation = simulate(replace(SMALL, radius=1e-9))
    assert simulation.transactions.empty
    assert simulation.labels.empty


@pytest.fixture(scope="module")
def drifted() -> Simulation:
    """The small run again, with drift injected from the middle of the period."""
    return simulate(replace(SMALL, drift_start=DRIFT_START, drift_strength=1.0))


def _before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of a frame whose timestamp falls before the drift start."""
    return frame[frame[column] < pd.Timestamp(DRIFT_START, tz="UTC")].reset_index(drop=True)


def _after(frame: pd.DataFrame) -> pd.DataFrame:
    """The transactions on or after the drift start."""
    return frame[frame["tx_datetime"] >= pd.Timestamp(DRIFT_START, tz="UTC")]


def test_drift_leaves_the_days_before_it_unchanged(small: Simulation, drifted: Simulation) -> None:
    before = _before(small.transactions, "tx_datetime")
    assert len(before) > 0
    pd.testing.assert_frame_equal(before, _before(drifted.transactions, "tx_datetime"))
    ids = before["transaction_id"]
    for name in ("labels", "truth"):
        clean, shifted = getattr(small, name), getattr(drifted, name)
        pd.testing.assert_frame_equal(
            clean[clean["transaction_id"].isin(ids)].reset_index(drop=True),
            shifted[shifted["transaction_id"].isin(ids)].reset_index(drop=True),
        )


@pytest.mark.parametrize(
    ("measure", "minimum_ratio", "maximum_ratio"),
    [
        (lambda frame: frame["tx_amount"].median(), 1.7, 2.3),
        (lambda frame: len(frame), 1.15, 1.6),
        (lambda frame: frame["tx_datetime"].dt.hour.mean(), 0.5, 0.85),
    ],
    ids=["median_amount", "volume", "hour_of_day"],
)
def test_drift_moves_the_days_after_it(
    small: Simulation,
    drifted: Simulation,
    measure: Callable[[pd.DataFrame], float],
    minimum_ratio: float,
    maximum_ratio: float,
) -> None:
    ratio = measure(_after(drifted.transactions)) / measure(_after(small.transactions))
    assert minimum_ratio < ratio < maximum_ratio


def test_drift_starts_on_its_first_day(small: Simulation, drifted: Simulation) -> None:
    first_day = pd.Timestamp(DRIFT_START, tz="UTC")

    def day_median(frame: pd.DataFrame) -> float:
        on_day = frame["tx_datetime"].dt.normalize() == first_day
        return float(frame.loc[on_day, "tx_amount"].median())

    assert day_median(drifted.transactions) > 1.5 * day_median(small.transactions)


@pytest.mark.parametrize(
    "change",
    [
        {"n_customers": 0},
        {"n_terminals": 0},
        {"n_days": -1},
        {"radius": 0.0},
        {"label_delay_days": 0.0},
        {"label_delay_shape": -1.0},
        {"genuine_dispute_rate": 1.5},
        {"first_transaction_id": 0},
    ],
)
def test_invalid_parameters_are_rejected(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        simulate(replace(SMALL, **change))


@pytest.mark.parametrize(
    ("n_days", "reported_after"),
    [
        (90, [9, 18, 27, 36, 45, 54, 63, 72, 81, 90]),
        (35, [4, 7, 11, 14, 18, 21, 25, 28, 32, 35]),
        (5, [1, 2, 3, 4, 5]),
        (1, [1]),
        (0, []),
    ],
)
def test_progress_after_each_tenth_of_the_days(n_days: int, reported_after: list[int]) -> None:
    assert progress_days(n_days) == reported_after


def test_a_run_reports_each_tenth_of_its_days_then_the_fraud() -> None:
    lines: list[str] = []
    simulation = simulate(SMALL, progress=lines.append)
    days = [line.split()[1] for line in lines[:-1]]
    assert days == [f"{day}/35" for day in progress_days(35)]
    assert all(line.startswith("simulated ") and line.endswith(" s") for line in lines[:-1])
    assert lines[-1].startswith(f"added fraud and labels ({len(simulation.labels):,} labels) in ")


def test_an_id_base_moves_every_id_and_nothing_else() -> None:
    base = 10**12
    plain = simulate(SMALL)
    moved = simulate(replace(SMALL, id_base=base))
    for column in ("transaction_id", "customer_id", "terminal_id"):
        assert (moved.transactions[column] - base).equals(plain.transactions[column])
        assert moved.transactions[column].min() > base
    assert (moved.labels["transaction_id"] - base).equals(plain.labels["transaction_id"])
    assert (moved.compromises["entity_id"] - base).equals(plain.compromises["entity_id"])
    assert moved.transactions["tx_amount"].equals(plain.transactions["tx_amount"])
