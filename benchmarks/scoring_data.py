"""The scoring benchmark's data: one simulated day replicated to N rows, and its model.

A small population is simulated and its features built by the pipeline's own feature code;
those rows are replicated server-side with fresh transaction ids and shifted customer ids up to
N. The model is the largest a champion can be (the training search's most leaves, every round)
or one trained on the simulated history as retraining trains a champion.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import copy_frame
from fraud.config import Settings
from fraud.dates import day_interval
from fraud.features.build import build_features
from fraud.features.columns import FEATURE_COLUMNS, KEY_COLUMNS, history_start
from fraud.features.frames import History
from fraud.model.train import SearchSpace, fit_models, labelled_features, lightgbm_params
from fraud.partitions import ensure_partitions
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams

_VACUUM_SQL = (
    "vacuum analyze staging.transactions",
    "vacuum analyze staging.transaction_features",
)

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd

DAY = date(2026, 3, 2)
RUN_ID = "benchmark"

_CREATE_BASE_SQL = """
create temporary table benchmark_base (like staging.transaction_features) on commit drop
"""
_EXTEND_BASE_SQL = """
alter table benchmark_base add column position bigint, add column tx_amount_exact numeric(12, 2)
"""
# Replica r of base row p becomes row r * base_rows + p of the day, with its customer shifted.
_FILL_TRANSACTIONS_SQL = """
insert into staging.transactions
    (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, run_id)
select replica * :base_rows + position + 1, tx_datetime,
       customer_id + replica * :customer_stride, terminal_id, tx_amount_exact, run_id
from generate_series(0, :replicas - 1) as replica
cross join benchmark_base
where replica * :base_rows + position < :rows
"""
_FEATURE_LIST = ", ".join(FEATURE_COLUMNS)
_FILL_FEATURES_SQL = f"""
insert into staging.transaction_features
    (transaction_id, tx_datetime, customer_id, terminal_id, {_FEATURE_LIST}, run_id)
select replica * :base_rows + position + 1, tx_datetime,
       customer_id + replica * :customer_stride, terminal_id, {_FEATURE_LIST}, run_id
from generate_series(0, :replicas - 1) as replica
cross join benchmark_base
where replica * :base_rows + position < :rows
"""


def day_bounds() -> tuple:
    """The benchmarked UTC day as [start, end)."""
    return day_interval(DAY)


def simulate_base(
    customers: int, seed: int, label_delay_days: int, train_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The benchmarked day's feature rows of a simulated population, and labelled training rows."""
    day_start, day_end = day_bounds()
    train_end = day_start - timedelta(days=2 * label_delay_days)
    train_start = train_end - timedelta(days=train_days)
    first = history_start(train_start, label_delay_days).date()
    simulation = simulate(
        SimulationParams(
            seed=seed,
            n_customers=customers,
            n_terminals=2 * customers,
            start_date=first,
            n_days=(DAY - first).days + 1,
            label_delay_days=float(label_delay_days),
        )
    )
    transactions, labels = simulation.transactions, simulation.labels
    in_day = transactions["tx_datetime"] >= day_start
    day = build_features(
        transactions,
        labels[labels["reported_at"] < day_end],
        transactions.loc[in_day, "transaction_id"].to_numpy(),
        label_delay_days,
    )
    day["tx_amount_exact"] = day["tx_amount"].map("{:.2f}".format)
    day["position"] = range(len(day))
    known_by_training = History(transactions, labels[labels["reported_at"] < day_start])
    training = labelled_features(known_by_training, train_start, train_end, label_delay_days)
    return day, training


def train_model(training: pd.DataFrame, kind: str, settings: Settings) -> lgb.Booster:
    """The benchmark's model: the largest a champion can be, or one trained as retraining does."""
    if kind == "trained":
        seconds = settings.training_time_budget_seconds
        return fit_models(training, seed=settings.random_seed, time_budget_seconds=seconds).booster
    return largest_champion(training, settings.random_seed)


def largest_champion(training: pd.DataFrame, seed: int) -> lgb.Booster:
    """A booster as large as a champion can get: the search's most leaves, all its rounds."""
    import lightgbm as lgb

    space = SearchSpace()
    candidate = {
        "num_leaves": max(space.num_leaves),
        "min_child_samples": min(space.min_child_samples),
        "learning_rate": space.learning_rate[0],
        "scale_pos_weight": space.scale_pos_weight[0],
    }
    names = list(FEATURE_COLUMNS)
    dataset = lgb.Dataset(training[names], label=training["is_fraud"])
    return lgb.train(lightgbm_params(candidate, seed), dataset, num_boost_round=space.n_estimators)


def fill(engine: Engine, base: pd.DataFrame, rows: int, customer_stride: int) -> None:
    """Write ``rows`` transactions and feature rows of the day, replicating the base rows."""
    values = {
        "base_rows": len(base),
        "customer_stride": customer_stride,
        "replicas": -(-rows // len(base)),
        "rows": rows,
    }
    columns = [*KEY_COLUMNS, *FEATURE_COLUMNS, "run_id", "position", "tx_amount_exact"]
    ensure_partitions(engine, *day_bounds())
    with engine.begin() as connection:
        connection.execute(sa.text(_CREATE_BASE_SQL))
        connection.execute(sa.text(_EXTEND_BASE_SQL))
        copy_frame(connection, base.assign(run_id=RUN_ID)[columns], "benchmark_base")
        connection.execute(sa.text(_FILL_TRANSACTIONS_SQL), values)
        connection.execute(sa.text(_FILL_FEATURES_SQL), values)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for statement in _VACUUM_SQL:
            connection.exec_driver_sql(statement)
