"""Features read share by share from the warehouse equal ``build_features`` on all the data.

A small simulated bank with labels that arrive during the windows (gamma delays around a
week, so some frauds of a window are known before a target's day and some after) is validated
in one batch; then the nightly step builds one day in shares and small chunks, and training
reads windows with and without sampling. Every feature must equal the in-memory reference,
which sees every row and every label, to 1e-9.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import read_frame
from fraud.dates import day_interval
from fraud.db import create_warehouse_engine
from fraud.features.build import build_features
from fraud.features.columns import FEATURE_COLUMNS, KEY_COLUMNS
from fraud.features.window import Sampling, labelled_window
from fraud.simulation.generate import Simulation
from fraud.tasks import build_features as build_share
from fraud.tasks import validate_batch
from tests.support.bank import Bank, simulated_bank

pytestmark = pytest.mark.integration

FIRST_DAY = date(2031, 3, 1)
DAYS = 50
DAY = FIRST_DAY + timedelta(days=45)
DELAY = 7
COMPARED = [*KEY_COLUMNS, *FEATURE_COLUMNS]


@pytest.fixture(scope="module")
def bank(warehouse_url: str) -> Iterator[Bank]:
    engine = create_warehouse_engine(warehouse_url)
    simulation = simulated_bank(engine, seed=11, customers=250, first_day=FIRST_DAY, days=DAYS)
    start, _ = day_interval(FIRST_DAY)
    validate_batch(start, start + timedelta(days=DAYS), "seed__all")
    yield Bank(engine, simulation)
    engine.dispose()


def _reference(simulation: Simulation, ids: np.ndarray) -> pd.DataFrame:
    """The in-memory features of ``ids`` from every row and every label."""
    frame = build_features(simulation.transactions, simulation.labels, ids, DELAY)
    return frame[COMPARED].sort_values("transaction_id", ignore_index=True)


def _stored(engine: Engine, day: date) -> pd.DataFrame:
    start, end = day_interval(day)
    with engine.connect() as connection:
        frame = read_frame(
            connection,
            "select * from staging.transaction_features"
            " where tx_datetime >= :start and tx_datetime < :end order by transaction_id",
            {"start": start, "end": end},
        )
    frame["tx_datetime"] = pd.to_datetime(frame["tx_datetime"], utc=True)
    return frame[COMPARED]


def _assert_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(actual) == len(expected) > 0
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True),
        expected.reset_index(drop=True),
        check_dtype=False,
        check_exact=False,
        rtol=1e-9,
        atol=1e-9,
    )


def test_the_labels_arrive_during_the_windows(bank: Bank) -> None:
    """The case the comparison must cover: frauds reported after some targets' days."""
    labels = bank.simulation.labels.merge(bank.simulation.transactions, on="transaction_id")
    reported_day = labels["reported_at"].dt.floor("D")
    window = labels["tx_datetime"] >= pd.Timestamp(day_interval(DAY)[0]) - pd.Timedelta(days=37)
    assert (window & (reported_day > labels["tx_datetime"].dt.floor("D"))).sum() > 10


@pytest.mark.parametrize(("shares", "chunk_rows"), [(1, 1_000_000), (3, 40), (4, 7)])
def test_a_day_built_in_shares_and_chunks_equals_build_features(
    bank: Bank, monkeypatch: pytest.MonkeyPatch, shares: int, chunk_rows: int
) -> None:
    monkeypatch.setenv("FRAUD_LABEL_DELAY_DAYS", str(DELAY))
    monkeypatch.setenv("FRAUD_FEATURE_CHUNK_ROWS", str(chunk_rows))
    start, end = day_interval(DAY)
    outcomes = [
        build_share(start, end, f"shares-{shares}", index, shares) for index in range(shares)
    ]
    stored = _stored(bank.engine, DAY)
    assert sum(outcome["feature_rows"] for outcome in outcomes) == len(stored)
    assert all(outcome["chunks"] >= 1 for outcome in outcomes)
    if chunk_rows < len(stored) // shares:
        assert all(outcome["chunks"] > 1 for outcome in outcomes)
    _assert_equal(stored, _reference(bank.simulation, stored["transaction_id"].to_numpy()))


def test_rebuilding_one_share_replaces_only_its_rows(
    bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_LABEL_DELAY_DAYS", str(DELAY))
    start, end = day_interval(DAY)
    for index in range(3):
        build_share(start, end, "first", index, 3)
    build_share(start, end, "again", 1, 3)
    with bank.engine.connect() as connection:
        runs = dict(
            connection.execute(
                sa.text(
                    "select staging.share_of(customer_id, 3), string_agg(distinct run_id, ',')"
                    " from staging.transaction_features"
                    " where tx_datetime >= :start and tx_datetime < :end group by 1"
                ),
                {"start": start, "end": end},
            ).all()
        )
    assert runs == {0: "first", 1: "again", 2: "first"}


@pytest.mark.parametrize("genuine_fraction", [1.0, 0.3])
def test_a_training_window_read_in_chunks_equals_build_features(
    bank: Bank, genuine_fraction: float
) -> None:
    start = day_interval(FIRST_DAY + timedelta(days=38))[0]
    end = start + timedelta(days=7)
    cutoff = end + timedelta(days=3)
    frame, read = labelled_window(
        bank.engine,
        start=start,
        end=end,
        cutoff=cutoff,
        label_delay_days=DELAY,
        sampling=Sampling(genuine_fraction, seed=5),
        chunk_rows=150,
    )
    assert read.chunks > 1 and read.rows == len(frame)
    expected = _reference(bank.simulation, frame["transaction_id"].to_numpy())
    _assert_equal(frame[COMPARED], expected)
    labels = bank.simulation.labels
    known = set(labels.loc[labels["is_fraud"] & (labels["reported_at"] < cutoff), "transaction_id"])
    assert frame["is_fraud"].tolist() == [int(tx in known) for tx in frame["transaction_id"]]
    transactions = bank.simulation.transactions
    in_window = transactions[
        (transactions["tx_datetime"] >= start) & (transactions["tx_datetime"] < end)
    ]
    frauds = in_window["transaction_id"].isin(known)
    assert frame["is_fraud"].sum() == frauds.sum()
    genuine = frame[frame["is_fraud"] == 0]
    assert (genuine["weight"] == 1 / genuine_fraction).all()
    assert (frame.loc[frame["is_fraud"] == 1, "weight"] == 1.0).all()
    # A card's genuine payments are all read or none.
    window_genuine = in_window[~frauds.to_numpy()]
    kept_cards = set(genuine["customer_id"])
    assert genuine["transaction_id"].tolist() == sorted(
        window_genuine.loc[window_genuine["customer_id"].isin(kept_cards), "transaction_id"]
    )
    if genuine_fraction == 1.0:
        assert len(frame) == len(in_window)
    else:
        share = len(kept_cards) / window_genuine["customer_id"].nunique()
        assert abs(share - genuine_fraction) < 0.1
