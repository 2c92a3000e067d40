"""The two halves of the features from two small histories equal the features from everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fraud.features.build import assemble, build_features
from fraud.features.rows import KnownFrauds, Rows
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams

DELAY = 7
START = datetime(2026, 2, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def bank() -> tuple[pd.DataFrame, pd.DataFrame]:
    simulation = simulate(SimulationParams(seed=4, n_customers=150, n_terminals=300, n_days=50))
    return simulation.transactions, simulation.labels


@pytest.mark.parametrize("days", [1, 5])
def test_assembled_halves_equal_build_features(
    bank: tuple[pd.DataFrame, pd.DataFrame], days: int
) -> None:
    transactions, labels = bank
    end = START + timedelta(days=days)
    moment = transactions["tx_datetime"]
    in_window = (moment >= START) & (moment < end)
    # A third of the window's customers: a chunk, as the warehouse reads them.
    targets = transactions[in_window & (transactions["customer_id"] % 3 == 1)]
    customers = transactions[
        transactions["customer_id"].isin(targets["customer_id"])
        & (moment >= START - timedelta(days=30))
        & (moment < end)
    ]
    terminal_end = end - timedelta(days=DELAY)
    terminal_rows = transactions[
        transactions["terminal_id"].isin(targets["terminal_id"])
        & (moment >= START - timedelta(days=37))
        & (moment < terminal_end)
    ]
    late_targets = targets[targets["tx_datetime"] >= terminal_end]
    frauds = labels[labels["is_fraud"]]
    # The frauds of [terminal_end, end) that are not targets: only the undelayed count reads them.
    late_frauds = transactions[
        transactions["terminal_id"].isin(targets["terminal_id"])
        & (moment >= terminal_end)
        & (moment < end)
        & transactions["transaction_id"].isin(frauds["transaction_id"])
        & ~transactions["transaction_id"].isin(targets["transaction_id"])
    ]
    terminals = Rows.of(pd.concat([terminal_rows, late_targets, late_frauds], ignore_index=True))
    known = KnownFrauds.of(
        terminals,
        frauds["transaction_id"].to_numpy(),
        frauds["reported_at"].dt.as_unit("ns").astype("int64").to_numpy(),
    )
    ids = targets["transaction_id"].to_numpy()
    split = assemble(Rows.of(customers), terminals, known, ids, DELAY)
    whole = build_features(transactions, labels, ids, DELAY)
    assert len(split) == len(ids) > 50
    pd.testing.assert_frame_equal(split, whole, check_exact=False, rtol=1e-9, atol=1e-9)


def test_frauds_outside_the_history_are_left_out() -> None:
    rows = Rows.from_arrays(
        np.array([5, 2, 9]), np.array([10, 20, 30]), np.ones(3), np.ones(3), np.ones(3)
    )
    known = KnownFrauds.of(rows, np.array([9, 4, 2]), np.array([100, 200, 300]))
    assert known.row.tolist() == [2, 1]
    assert known.reported_ns.tolist() == [100, 300]


def test_a_duplicate_transaction_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate transaction_id"):
        Rows.from_arrays(np.array([1, 1]), np.zeros(2), np.ones(2), np.ones(2), np.ones(2))
