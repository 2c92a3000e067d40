"""Investigators' verdicts in features and training, point in time.

A small simulated bank is validated once; verdicts are then recorded on some of its payments and
the nightly features, a training window and a retraining's datasets are read again:

* a fraud verdict is a known fraud from its ``known_at`` on: the features equal the in-memory
  reference given that fraud at that moment, and a verdict recorded after the night (even if
  decided before it) changes nothing of that night;
* a verdict changes a row's label, never which rows training reads nor their weights;
* a retraining as of D reads the same rows and fits the same model text whether or not verdicts
  recorded after D have arrived.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import read_frame
from fraud.config import load_settings
from fraud.dates import day_interval
from fraud.db import create_warehouse_engine
from fraud.features.build import build_features
from fraud.features.columns import FEATURE_COLUMNS, KEY_COLUMNS
from fraud.features.window import Sampling, labelled_window
from fraud.model.challenger import build_datasets
from fraud.model.registry import model_text_digest
from fraud.model.train import windows_before
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


@pytest.fixture(autouse=True)
def no_verdicts(bank: Bank) -> None:
    """Each test starts from the reported labels alone (the owner may empty the ledger)."""
    with bank.engine.begin() as connection:
        connection.execute(sa.text("truncate cases.alert_outcomes"))


def _verdict(
    engine: Engine, transaction_id: int, outcome: str, decided_at: datetime, recorded_at: datetime
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into cases.alert_outcomes (transaction_id, outcome, decided_by,"
                " decided_at, recorded_at) values (:id, :outcome, 'ana', :decided, :recorded)"
            ),
            {
                "id": transaction_id,
                "outcome": outcome,
                "decided": decided_at,
                "recorded": recorded_at,
            },
        )


def _unlabelled(bank: Bank) -> pd.DataFrame:
    """The payments without any reported label, in time order."""
    transactions = bank.simulation.transactions
    labelled = transactions["transaction_id"].isin(bank.simulation.labels["transaction_id"])
    return transactions[~labelled].sort_values(["tx_datetime", "transaction_id"])


def _reference(bank: Bank, ids: np.ndarray, verdict_frauds: dict[int, datetime]) -> pd.DataFrame:
    """The in-memory features of ``ids`` with the reported labels and, as frauds known from the
    given moments, the payments of ``verdict_frauds``."""
    extra = pd.DataFrame(
        {
            "transaction_id": list(verdict_frauds),
            "is_fraud": True,
            "reported_at": pd.to_datetime(list(verdict_frauds.values()), utc=True),
        }
    )
    labels = pd.concat([bank.simulation.labels, extra], ignore_index=True)
    frame = build_features(bank.simulation.transactions, labels, ids, DELAY)
    return frame[COMPARED].sort_values("transaction_id", ignore_index=True)


def _night(bank: Bank, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    """The night's features built again, as the nightly step builds them."""
    monkeypatch.setenv("FRAUD_LABEL_DELAY_DAYS", str(DELAY))
    start, end = day_interval(DAY)
    build_share(start, end, "verdicts", 0, 1)
    with bank.engine.connect() as connection:
        frame = read_frame(
            connection,
            "select * from staging.transaction_features"
            " where tx_datetime >= :start and tx_datetime < :end order by transaction_id",
            {"start": start, "end": end},
        )
    frame["tx_datetime"] = pd.to_datetime(frame["tx_datetime"], utc=True)
    return frame[COMPARED].reset_index(drop=True)


def _assert_close(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True),
        expected.reset_index(drop=True),
        check_dtype=False,
        check_exact=False,
        rtol=1e-9,
        atol=1e-9,
    )


def test_a_night_sees_a_fraud_verdict_from_its_known_at_and_never_before(
    bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    start, end = day_interval(DAY)
    before = _night(bank, monkeypatch)
    # A genuine payment, days before the night, at a terminal the night's payments use.
    terminals = set(before["terminal_id"])
    candidates = _unlabelled(bank)
    candidates = candidates[
        candidates["terminal_id"].isin(terminals)
        & (candidates["tx_datetime"] >= start - timedelta(days=20))
        & (candidates["tx_datetime"] < start - timedelta(days=2))
    ]
    payment = int(candidates["transaction_id"].iloc[0])
    terminal = int(candidates["terminal_id"].iloc[0])

    # Decided during the night but recorded after it: that night cannot have seen it.
    _verdict(
        bank.engine,
        payment,
        "fraud_confirmed",
        start + timedelta(hours=1),
        end + timedelta(hours=1),
    )
    pd.testing.assert_frame_equal(_night(bank, monkeypatch), before)

    # Recorded during the night: a known fraud of the night from then on.
    known_at = start + timedelta(hours=2)
    _verdict(bank.engine, payment, "fraud_confirmed", known_at, known_at)
    after = _night(bank, monkeypatch)
    _assert_close(after, _reference(bank, after["transaction_id"].to_numpy(), {payment: known_at}))
    at_terminal = after["terminal_id"] == terminal
    column = "terminal_reported_fraud_count_30d"
    assert (after.loc[at_terminal, column] == before.loc[at_terminal, column] + 1).all()
    assert after.loc[~at_terminal].equals(before.loc[~at_terminal])


def _window(bank: Bank, sampling: Sampling) -> tuple[pd.DataFrame, datetime, datetime]:
    start = day_interval(FIRST_DAY + timedelta(days=38))[0]
    end = start + timedelta(days=7)
    frame, _ = labelled_window(
        bank.engine,
        start=start,
        end=end,
        cutoff=end + timedelta(days=3),
        label_delay_days=DELAY,
        sampling=sampling,
        chunk_rows=150,
    )
    return frame, start, end


def test_a_verdict_changes_a_rows_label_never_its_sampling_or_weight(bank: Bank) -> None:
    sampling = Sampling(0.3, seed=5)
    before, start, end = _window(bank, sampling)
    cutoff = end + timedelta(days=3)
    read = set(before["transaction_id"])
    in_window = _unlabelled(bank)
    in_window = in_window[(in_window["tx_datetime"] >= start) & (in_window["tx_datetime"] < end)]
    sampled = in_window[in_window["transaction_id"].isin(read)].iloc[0]
    unsampled = in_window[~in_window["transaction_id"].isin(read)].iloc[0]
    reported = int(before.loc[before["is_fraud"] == 1, "transaction_id"].iloc[0])
    verdict_frauds = {}
    for row in (sampled, unsampled):
        known_at = min(row["tx_datetime"].to_pydatetime() + timedelta(days=1), cutoff)
        _verdict(bank.engine, int(row["transaction_id"]), "fraud_confirmed", known_at, known_at)
        verdict_frauds[int(row["transaction_id"])] = known_at
    # The cardholder calls a reported fraud genuine: the report wins.
    _verdict(bank.engine, reported, "genuine_confirmed", end, end)

    after, _, _ = _window(bank, sampling)
    # The same rows, with the same weights: the sampling is the reported labels'.
    assert after["transaction_id"].tolist() == before["transaction_id"].tolist()
    assert after["weight"].tolist() == before["weight"].tolist()
    assert int(unsampled["transaction_id"]) not in set(after["transaction_id"])
    # Only the sampled row's label changed, to fraud.
    changed = after.loc[after["is_fraud"] != before["is_fraud"], "transaction_id"].tolist()
    assert changed == [int(sampled["transaction_id"])]
    assert after.loc[after["transaction_id"] == reported, "is_fraud"].item() == 1
    assert after.loc[
        after["transaction_id"] == int(sampled["transaction_id"]), "weight"
    ].item() == (pytest.approx(1 / 0.3))
    # The features see both verdicts from their known_at, as the nightly step would have.
    expected = _reference(bank, after["transaction_id"].to_numpy(), verdict_frauds)
    _assert_close(after[COMPARED], expected)


def _digest(training: pd.DataFrame) -> str:
    """The model text's SHA-256 of a fixed, single-threaded fit on the training rows."""
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_threads": 1}
    names = list(FEATURE_COLUMNS)
    data = lgb.Dataset(training[names], training["is_fraud"], weight=training["weight"])
    return model_text_digest(lgb.train(params, data, 20).model_to_string().encode())


def test_a_retraining_as_of_d_ignores_verdicts_recorded_after_d(
    bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "FRAUD_LABEL_DELAY_DAYS": DELAY,
        "FRAUD_TRAIN_DAYS": 7,
        "FRAUD_VALIDATION_DAYS": 7,
        "FRAUD_TRAINING_GENUINE_FRACTION": 0.5,
        "FRAUD_TRAINING_MIN_GENUINE_ROWS": 0,
        "FRAUD_FEATURE_CHUNK_ROWS": 500,
    }.items():
        monkeypatch.setenv(name, str(value))
    settings = load_settings()
    cutoff = day_interval(FIRST_DAY + timedelta(days=49))[0]
    windows = windows_before(cutoff, train_days=7, validation_days=7, label_delay_days=DELAY)
    # Verdicts known before the cut-off count, on both runs.
    early = _unlabelled(bank)
    early = early[early["tx_datetime"] >= windows.train_start].head(3)
    for moment, transaction_id in zip(early["tx_datetime"], early["transaction_id"], strict=True):
        known_at = moment.to_pydatetime() + timedelta(hours=12)
        _verdict(bank.engine, int(transaction_id), "fraud_confirmed", known_at, known_at)
    first = build_datasets(bank.engine, settings, windows)

    # Then verdicts recorded after the cut-off arrive, some decided before it, on rows it read:
    # fraud on payments read as genuine, genuine on reported frauds, unreachable.
    training = first.training
    genuine = training.loc[training["is_fraud"] == 0, "transaction_id"].head(5).tolist()
    frauds = training.loc[training["is_fraud"] == 1, "transaction_id"].head(2).tolist()
    late = cutoff + timedelta(hours=6)
    for transaction_id in genuine:
        _verdict(
            bank.engine, int(transaction_id), "fraud_confirmed", cutoff - timedelta(days=1), late
        )
    for transaction_id in frauds:
        _verdict(bank.engine, int(transaction_id), "genuine_confirmed", late, late)
    _verdict(bank.engine, int(genuine[0]), "unreachable", late, late + timedelta(hours=1))
    second = build_datasets(bank.engine, settings, windows)

    pd.testing.assert_frame_equal(second.training, first.training)
    pd.testing.assert_frame_equal(second.validation, first.validation)
    assert _digest(second.training) == _digest(first.training)
