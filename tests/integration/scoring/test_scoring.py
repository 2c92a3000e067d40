"""Scoring a day against a real warehouse: streamed in chunks, split by customer, replaced whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import read_frame
from fraud.dates import day_interval
from fraud.db import create_warehouse_engine
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.frames import History
from fraud.features.nightly import build_share_features
from fraud.features.window import cards_known_at
from fraud.model.alert_policy import AlertPolicy, flag_payments, select_alerts
from fraud.model.metrics import KNOWN_CARD_LOOKBACK_DAYS
from fraud.model.registry import RegisteredModel
from fraud.model.train import labelled_features
from fraud.scoring.predict import (
    REASON_SLOTS,
    SCORE_COLUMNS,
    explain,
    reason_arrays,
    score_frame,
)
from fraud.scoring.score import mark_top_k, score_day, score_share
from fraud.shares import WHOLE, Share
from fraud.tasks import validate_batch
from tests.support.bank import simulated_bank

pytestmark = pytest.mark.integration

FIRST_DAY = date(2031, 5, 1)
DAYS = 12
SCORED_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
THRESHOLD = 0.5
TOP_K = 25
POLICY = AlertPolicy(ranking="score", capacity=TOP_K, threshold=THRESHOLD, horizon_days=3)
ALERT_FIELDS = ["alert_rule", "alert_rank", *(f"reason_{n}_value" for n in (1, 2, 3))]
COMPARED = [column for column in SCORE_COLUMNS if column != "run_id"] + ALERT_FIELDS


@dataclass(frozen=True)
class Warehouse:
    """A warehouse with one validated, feature-built day and a model to score it with."""

    engine: Engine
    model: RegisteredModel
    start: datetime
    end: datetime


@pytest.fixture(scope="module")
def warehouse(warehouse_url: str) -> Iterator[Warehouse]:
    engine = create_warehouse_engine(warehouse_url)
    simulation = simulated_bank(engine, seed=21, customers=300, first_day=FIRST_DAY, days=DAYS)
    start, end = day_interval(SCORED_DAY.isoformat())
    for offset in range(DAYS):
        day_start, day_end = day_interval((FIRST_DAY + timedelta(days=offset)).isoformat())
        validate_batch(day_start, day_end, f"test__{offset}")
    build_share_features(
        engine,
        interval_start=start,
        interval_end=end,
        run_id="test__features",
        label_delay_days=3,
        share=WHOLE,
        chunk_rows=100_000,
    )
    history = History(simulation.transactions, simulation.labels)
    training = labelled_features(history, start - timedelta(days=8), start - timedelta(days=3), 3)
    names = list(FEATURE_COLUMNS)
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(training[names], training["is_fraud"]), 30)
    yield Warehouse(engine, RegisteredModel("scoring-test", 3, "run", booster), start, end)
    engine.dispose()


def _scores(engine: Engine, start: datetime, end: datetime) -> pd.DataFrame:
    """The stored scores of [start, end) in transaction order, without the run id."""
    with engine.connect() as connection:
        frame = read_frame(
            connection,
            "select * from scoring.transaction_scores"
            " where tx_datetime >= :start and tx_datetime < :end order by transaction_id",
            {"start": start, "end": end},
        )
    return frame[COMPARED].reset_index(drop=True)


def _in_memory(warehouse: Warehouse, policy: AlertPolicy = POLICY) -> pd.DataFrame:
    """The whole day scored as one frame and its alerts chosen in memory by
    :func:`select_alerts`, cards known before the night left out: the reference the streamed
    runs and the nightly SQL must equal."""
    with warehouse.engine.connect() as connection:
        frame = read_frame(
            connection,
            "select f.*, t.tx_amount::text as tx_amount_exact from staging.transaction_features f"
            " join staging.transactions t using (transaction_id)"
            " where f.tx_datetime >= :start and f.tx_datetime < :end order by transaction_id",
            {"start": warehouse.start, "end": warehouse.end},
        )
        since = warehouse.start - timedelta(days=KNOWN_CARD_LOOKBACK_DAYS)
        known = cards_known_at(connection, since=since, before=warehouse.start)
    scored = score_frame(warehouse.model, frame, run_id="x")
    payments = frame.assign(score=scored["score"].to_numpy())
    alerts = select_alerts(payments, policy, left_out=set(known.index))
    flagged = flag_payments(scored, alerts)
    rows = np.flatnonzero(flagged["is_alert"].to_numpy())
    reasons = explain(warehouse.model, frame.iloc[rows], REASON_SLOTS)
    for column, values in reason_arrays(len(frame), rows, reasons).items():
        flagged[column] = values
    for slot in range(1, REASON_SLOTS + 1):
        names = flagged[f"reason_{slot}"].to_numpy()
        flagged[f"reason_{slot}_value"] = [
            frame[name].iloc[row] if name is not None else np.nan for row, name in enumerate(names)
        ]
    return flagged


def _score_day(
    warehouse: Warehouse, run_id: str, chunk_rows: int, policy: AlertPolicy = POLICY
) -> None:
    score_day(
        warehouse.engine,
        warehouse.model,
        interval_start=warehouse.start,
        interval_end=warehouse.end,
        run_id=run_id,
        policy=policy,
        chunk_rows=chunk_rows,
    )


def _assert_equal_scores(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    stored["tx_datetime"] = pd.to_datetime(stored["tx_datetime"], utc=True)
    expected["tx_datetime"] = pd.to_datetime(expected["tx_datetime"], utc=True)
    stored["tx_amount"] = stored["tx_amount"].astype(str)
    stored["alert_rank"] = stored["alert_rank"].astype("Int64")
    expected["alert_rank"] = expected["alert_rank"].astype("Int64")
    stored["alert_rule"] = stored["alert_rule"].astype(object).where(stored["is_alert"], None)
    expected["alert_rule"] = expected["alert_rule"].astype(object).where(expected["is_alert"], None)
    pd.testing.assert_frame_equal(stored, expected.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("chunk_rows", [1, 97, 1_000_000])
def test_streamed_scores_equal_one_in_memory_batch(warehouse: Warehouse, chunk_rows: int) -> None:
    _score_day(warehouse, f"chunks-{chunk_rows}", chunk_rows)
    stored = _scores(warehouse.engine, warehouse.start, warehouse.end)
    expected = _in_memory(warehouse)[COMPARED]
    assert len(stored) == len(expected) > TOP_K
    assert stored["is_alert"].sum() >= TOP_K
    _assert_equal_scores(stored, expected)


@pytest.mark.parametrize(
    "policy",
    [
        AlertPolicy(ranking="score", capacity=TOP_K, threshold=None, horizon_days=3),
        AlertPolicy(ranking="expected_loss", capacity=TOP_K, threshold=None, horizon_days=3),
        AlertPolicy(ranking="expected_loss", capacity=10, threshold=0.3, horizon_days=7),
        AlertPolicy(ranking="score", capacity=0, threshold=0.3, horizon_days=7),
    ],
    ids=["score", "expected-loss", "expected-loss-and-threshold", "threshold-only"],
)
def test_the_nightly_sql_chooses_the_cards_select_alerts_chooses(
    warehouse: Warehouse, policy: AlertPolicy
) -> None:
    _score_day(warehouse, "policy", 10_000, policy)
    stored = _scores(warehouse.engine, warehouse.start, warehouse.end)
    expected = _in_memory(warehouse, policy)[COMPARED]
    alerted = stored.loc[stored["is_alert"]]
    # Every payment of an alerted card, and at most the capacity of cards within the budget.
    assert alerted["customer_id"].nunique() > 0
    assert stored.loc[stored["customer_id"].isin(alerted["customer_id"]), "is_alert"].all()
    budget = alerted.loc[alerted["alert_rule"] == "budget", "customer_id"].nunique()
    assert budget <= policy.capacity
    assert alerted.groupby("customer_id")["alert_rank"].nunique().eq(1).all()
    _assert_equal_scores(stored, expected)
    with warehouse.engine.connect() as connection:
        night = read_frame(
            connection,
            "select alert_ranking, review_capacity, alert_threshold, budget_cards,"
            " threshold_cards from analytics.daily_alerts where tx_date = :day",
            {"day": SCORED_DAY},
        )
    assert night.iloc[0]["alert_ranking"] == policy.ranking
    assert int(night.iloc[0]["review_capacity"]) == policy.capacity
    assert int(night.iloc[0]["budget_cards"]) == budget
    threshold_cards = alerted.loc[alerted["alert_rule"] == "threshold", "customer_id"].nunique()
    assert int(night.iloc[0]["threshold_cards"]) == threshold_cards


@pytest.mark.parametrize("shares", [2, 3, 5])
def test_shares_and_alerts_equal_the_whole_day(warehouse: Warehouse, shares: int) -> None:
    _score_day(warehouse, "whole", 10_000)
    whole = _scores(warehouse.engine, warehouse.start, warehouse.end)
    counts = []
    for index in range(shares):
        outcome = score_share(
            warehouse.engine,
            warehouse.model,
            interval_start=warehouse.start,
            interval_end=warehouse.end,
            run_id=f"share-{index}",
            share=Share(index, shares),
            chunk_rows=50,
        )
        counts.append(outcome.scored_count)
    with warehouse.engine.begin() as connection:
        mark_top_k(
            connection,
            warehouse.model,
            interval_start=warehouse.start,
            interval_end=warehouse.end,
            policy=POLICY,
        )
    assert sum(counts) == len(whole)
    assert all(count > 0 for count in counts)
    pd.testing.assert_frame_equal(_scores(warehouse.engine, warehouse.start, warehouse.end), whole)


def test_rescoring_one_share_replaces_only_its_rows(warehouse: Warehouse) -> None:
    _score_day(warehouse, "before", 10_000)
    _score_shares(warehouse, warehouse.model, "again", [Share(1, 4)])
    _mark_top_k(warehouse, warehouse.model)
    with warehouse.engine.connect() as connection:
        runs = read_frame(
            connection,
            "select run_id, mod(hashint8(customer_id)::bigint + 2147483648, 4) as share,"
            " count(*) as n, count(distinct transaction_id) as ids"
            " from scoring.transaction_scores group by 1, 2 order by 2",
            {},
        )
    assert (runs["n"] == runs["ids"]).all()
    assert runs.set_index("share")["run_id"].to_dict() == {
        0: "before",
        1: "again",
        2: "before",
        3: "before",
    }


# What analysts read of one day, every view that shows scores.
_VIEWS_OF_A_DAY = {
    "scored_transactions": "select * from analytics.scored_transactions"
    " where tx_date = :day order by transaction_id",
    "daily_alerts": "select * from analytics.daily_alerts where tx_date = :day",
    "model_performance_daily": "select * from analytics.model_performance_daily"
    " where tx_date = :day",
}


def _views(engine: Engine, day: date) -> dict[str, pd.DataFrame]:
    """Each score view's rows of the day."""
    with engine.connect() as connection:
        return {
            view: read_frame(connection, query, {"day": day})
            for view, query in _VIEWS_OF_A_DAY.items()
        }


def _assert_same_views(seen: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for view, frame in expected.items():
        pd.testing.assert_frame_equal(seen[view], frame, obj=view)


def _score_shares(
    warehouse: Warehouse, model: RegisteredModel, run_id: str, shares: list[Share], **day: datetime
) -> None:
    """Score the shares one after the other, each in its own transaction as a mapped task."""
    for share in shares:
        score_share(
            warehouse.engine,
            model,
            interval_start=day.get("start", warehouse.start),
            interval_end=day.get("end", warehouse.end),
            run_id=run_id,
            share=share,
            chunk_rows=50,
        )


def _mark_top_k(warehouse: Warehouse, model: RegisteredModel, **day: datetime) -> int:
    with warehouse.engine.begin() as connection:
        return mark_top_k(
            connection,
            model,
            interval_start=day.get("start", warehouse.start),
            interval_end=day.get("end", warehouse.end),
            policy=POLICY,
        )


def test_views_show_the_last_complete_run_until_every_share_and_the_top_k_are_in(
    warehouse: Warehouse,
) -> None:
    _score_day(warehouse, "complete", 10_000)
    complete = _views(warehouse.engine, SCORED_DAY)
    newer = replace(warehouse.model, version=warehouse.model.version + 1)
    shares = [Share(index, 3) for index in range(3)]

    for done in range(1, len(shares) + 1):
        _score_shares(warehouse, newer, "replay", shares[done - 1 : done])
        _assert_same_views(_views(warehouse.engine, SCORED_DAY), complete)
    alerts = _mark_top_k(warehouse, newer)

    replayed = _views(warehouse.engine, SCORED_DAY)
    scored = replayed["scored_transactions"]
    assert (
        scored["transaction_id"].tolist()
        == complete["scored_transactions"]["transaction_id"].tolist()
    )
    assert set(scored["model_version"]) == {newer.version}
    assert (
        int(scored["is_alert"].sum())
        == alerts
        >= scored.loc[scored["is_alert"], "customer_id"].nunique()
        >= TOP_K
    )
    assert replayed["daily_alerts"][
        ["model_version", "transactions_scored", "alerts"]
    ].values.tolist() == [[newer.version, len(scored), alerts]]
    assert replayed["model_performance_daily"]["model_version"].tolist() == [newer.version]
    assert _stored_generations(warehouse.engine, SCORED_DAY) == 1


def test_a_first_night_half_done_shows_nothing_for_its_day(warehouse: Warehouse) -> None:
    day = SCORED_DAY - timedelta(days=1)
    start, end = day_interval(day)
    build_share_features(
        warehouse.engine,
        interval_start=start,
        interval_end=end,
        run_id="test__features",
        label_delay_days=3,
        share=WHOLE,
        chunk_rows=100_000,
    )
    shares = [Share(0, 2), Share(1, 2)]

    _score_shares(warehouse, warehouse.model, "first", shares[:1], start=start, end=end)
    half_done, half_stored = _views(warehouse.engine, day), _scores(warehouse.engine, start, end)
    _score_shares(warehouse, warehouse.model, "first", shares[1:], start=start, end=end)
    _mark_top_k(warehouse, warehouse.model, start=start, end=end)

    assert len(half_stored) > 0
    assert {view: len(frame) for view, frame in half_done.items()} == dict.fromkeys(
        _VIEWS_OF_A_DAY, 0
    )
    done = _views(warehouse.engine, day)
    assert len(done["scored_transactions"]) == len(_scores(warehouse.engine, start, end))
    assert done["daily_alerts"]["transactions_scored"].tolist() == [
        len(done["scored_transactions"])
    ]


def _stored_generations(engine: Engine, day: date) -> int:
    """How many generations of the day's scores the table holds."""
    start, end = day_interval(day)
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "select count(distinct generation) from scoring.transaction_scores"
                " where tx_datetime >= :start and tx_datetime < :end"
            ),
            {"start": start, "end": end},
        ).scalar_one()


def test_stale_alerts_are_cleared_when_the_ranking_changes(warehouse: Warehouse) -> None:
    _score_day(warehouse, "before", 10_000)
    with warehouse.engine.begin() as connection:
        # A card not alerted now scores at the top: it must enter the budget, pushing one out.
        connection.execute(
            sa.text(
                "update scoring.transaction_scores set score = 0.4999"
                " where transaction_id = (select min(transaction_id)"
                " from scoring.transaction_scores where not is_alert)"
            )
        )
        alerts = mark_top_k(
            connection,
            warehouse.model,
            interval_start=warehouse.start,
            interval_end=warehouse.end,
            policy=POLICY,
        )
    stored = _scores(warehouse.engine, warehouse.start, warehouse.end)
    with warehouse.engine.connect() as connection:
        since = warehouse.start - timedelta(days=KNOWN_CARD_LOOKBACK_DAYS)
        known = cards_known_at(connection, since=since, before=warehouse.start)
    expected = select_alerts(stored, POLICY, left_out=set(known.index))
    assert alerts == int(stored["is_alert"].sum())
    assert set(stored.loc[stored["is_alert"], "customer_id"]) == set(expected["customer_id"])
    assert stored.loc[stored["is_alert"], "reason_1"].notna().all()
    assert (
        stored.loc[~stored["is_alert"], ["reason_1", "alert_rule", "alert_rank"]].isna().all().all()
    )


def test_a_query_error_in_the_stream_surfaces_as_the_database_error(
    warehouse: Warehouse,
) -> None:
    with warehouse.engine.begin() as connection:
        connection.exec_driver_sql("alter table staging.transaction_features rename to moved")
    try:
        with pytest.raises(Exception, match="transaction_features"):
            _score_day(warehouse, "missing", 100)
    finally:
        with warehouse.engine.begin() as connection:
            connection.exec_driver_sql("alter table staging.moved rename to transaction_features")


@pytest.mark.parametrize(
    ("reported_hours", "left_out"),
    [(-1.0, True), (1.0, False)],
    ids=["reported-before-the-night", "reported-during-the-night"],
)
def test_a_card_known_as_fraud_before_the_night_began_is_left_out(
    warehouse: Warehouse, reported_hours: float, left_out: bool
) -> None:
    """The known-card rule is point in time: a report known before the night began leaves the
    card out of the budget; one reported while the night ran changes nothing."""
    _score_day(warehouse, "known", 10_000)
    first = _scores(warehouse.engine, warehouse.start, warehouse.end)
    card = int(first.loc[first["alert_rank"] == 1, "customer_id"].iloc[0])
    reported_at = warehouse.start + timedelta(hours=reported_hours)
    with warehouse.engine.begin() as connection:
        payment = connection.execute(
            sa.text(
                "select transaction_id from raw.transactions as t"
                " where customer_id = :card and tx_datetime < :start"
                "   and not exists (select 1 from raw.fraud_labels as l"
                "                   where l.transaction_id = t.transaction_id)"
                " order by tx_datetime desc limit 1"
            ),
            {"card": card, "start": warehouse.start},
        ).scalar_one()
        connection.execute(
            sa.text("insert into raw.fraud_labels values (:id, true, :reported_at)"),
            {"id": payment, "reported_at": reported_at},
        )
    try:
        _mark_top_k(warehouse, warehouse.model)
        again = _scores(warehouse.engine, warehouse.start, warehouse.end)
        alerted = set(again.loc[again["is_alert"], "customer_id"])
        assert (card not in alerted) is left_out
        budget = again.loc[again["alert_rule"] == "budget", "customer_id"].nunique()
        assert budget == TOP_K
    finally:
        with warehouse.engine.begin() as connection:
            connection.execute(
                sa.text("delete from raw.fraud_labels where transaction_id = :id"), {"id": payment}
            )
