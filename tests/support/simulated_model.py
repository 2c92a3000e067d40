"""A small LightGBM model trained on simulated features, and a later window's rows to score."""

from __future__ import annotations

from datetime import UTC, datetime

import lightgbm as lgb
import pandas as pd

from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.frames import History
from fraud.model.train import labelled_features
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams

COLUMNS = list(FEATURE_COLUMNS)
TRAINING_WINDOW = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 19, tzinfo=UTC))
LABEL_DELAY_DAYS = 3


def train_on_simulation(
    *, seed: int, params: dict[str, object], rounds: int, scoring_window: tuple[datetime, datetime]
) -> tuple[lgb.Booster, pd.DataFrame]:
    """Train on 2026-01-05..19 of a 25-day simulated bank; return the booster and the rows of
    ``scoring_window`` with their features and ``tx_amount_exact``, as scoring reads them."""
    simulation = simulate(SimulationParams(seed=seed, n_customers=300, n_terminals=600, n_days=25))
    history = History(simulation.transactions, simulation.labels)
    training = labelled_features(history, *TRAINING_WINDOW, LABEL_DELAY_DAYS)
    booster = lgb.train(params, lgb.Dataset(training[COLUMNS], training["is_fraud"]), rounds)
    rows = labelled_features(history, *scoring_window, LABEL_DELAY_DAYS)
    rows["tx_amount_exact"] = rows["tx_amount"].map("{:.2f}".format)
    return booster, rows
