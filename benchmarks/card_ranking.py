"""Try ideas for ranking cards (CP@100) on kept Handbook warehouses, paying for each read once.

Reads each seed's kept warehouse (``python -m benchmarks.handbook_protocol --keep`` makes them)
as ``fraud evaluate`` reads it: the training week through
:func:`fraud.features.window.labelled_window`, the test week with every label and known cards
dropped. The frames are cached in ``--cache`` so that each variant pays only for its fits. Each
variant trains on the training week and scores the test week; the script prints, per variant,
the mean and standard deviation over the seeds of AUC ROC, AP and CP@100 and the mean change
from ``champion`` (the model as retraining trains it).

    python -m benchmarks.card_ranking --seeds 1 2 3 4 5 --variants champion cp_search \\
        [--train-days 7] [--prefix fraud_handbook_seed] \\
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.handbook_protocol import METRICS, add_admin_url, admin_url
from fraud.config import load_settings
from fraud.db import create_warehouse_engine, with_database
from fraud.features.window import labelled_window
from fraud.model import train
from fraud.model.challenger import training_sampling
from fraud.model.metrics import compute_metrics
from fraud.model.protocol import Protocol, protocol_test, read_raw

PROTOCOL_DATES = ("2018-07-25", "2018-07-31", 7, "2018-08-08", "2018-08-14")
SEED = 42
BUDGET_SECONDS = 600.0

Variant = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]


def protocol() -> Protocol:
    """The Handbook's windows, as ``benchmarks.handbook_protocol`` passes them."""
    from datetime import date

    train_start, train_end, delay, test_start, test_end = PROTOCOL_DATES
    return Protocol.from_dates(
        date.fromisoformat(train_start),
        date.fromisoformat(train_end),
        delay,
        date.fromisoformat(test_start),
        date.fromisoformat(test_end),
    )


def frames(
    database_url: str, cache: Path, train_days: int = 7
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training and test frames of one warehouse, read once and cached.

    ``train_days`` moves the training window's start back from the Handbook's week, its end and
    label cut-off kept; the test set stays the protocol's (cards known since 2018-07-25 dropped),
    so that variants with longer windows are judged on the same payments.
    """
    if cache.exists():
        with cache.open("rb") as file:
            return pickle.load(file)  # noqa: S301 - our own cache
    settings = load_settings({"FRAUD_DATABASE_URL": database_url})
    engine = create_warehouse_engine(database_url)
    window = protocol()
    history = read_raw(engine, window, settings.label_delay_days)
    test = protocol_test(history.transactions, history.labels, window, settings.label_delay_days)
    training, _ = labelled_window(
        engine,
        start=window.train_end - timedelta(days=train_days),
        end=window.train_end,
        cutoff=window.training_label_cutoff,
        label_delay_days=settings.label_delay_days,
        sampling=training_sampling(
            engine, settings, window.train_end - timedelta(days=train_days), window.train_end
        ),
        chunk_rows=settings.feature_chunk_rows,
    )
    engine.dispose()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as file:
        pickle.dump((training, test), file)
    return training, test


_FITTED: dict[int, train.TrainedModels] = {}


def fitted(training: pd.DataFrame) -> train.TrainedModels:
    """The champion's models of a training frame, fitted once per frame and seed."""
    if id(training) not in _FITTED:
        _FITTED.clear()
        _FITTED[id(training)] = train.fit_models(
            training, seed=SEED, time_budget_seconds=BUDGET_SECONDS
        )
    return _FITTED[id(training)]


def champion(training: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """The model as retraining trains it."""
    return train.score_models(fitted(training), test)["model"]


def searched_on(*metrics: str) -> Variant:
    """The champion with a search that chooses on the sum of ``metrics`` on the held-out days."""

    def variant(training: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        space = train.SearchSpace(select_on=metrics)
        models = train.fit_models(
            training, seed=SEED, time_budget_seconds=BUDGET_SECONDS, space=space
        )
        return train.score_models(models, test)["model"]

    return variant


def searched_in(space: train.SearchSpace) -> Variant:
    """The champion with another grid for its search."""

    def variant(training: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        models = train.fit_models(
            training, seed=SEED, time_budget_seconds=BUDGET_SECONDS, space=space
        )
        return train.score_models(models, test)["model"]

    return variant


def bagged(count: int) -> Variant:
    """The champion's chosen parameters refit with ``count`` seeds, probabilities averaged."""

    def variant(training: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        models = fitted(training)
        chosen = {k: v for k, v in models.params.items() if k != "num_boost_round"}
        rounds = int(models.params["num_boost_round"])
        dataset = train._dataset(training)
        scores = [train.booster_scores(models.booster, test[list(train.FEATURE_COLUMNS)])]
        for offset in range(1, count):
            params = train.lightgbm_params(chosen, SEED + offset)
            booster = train.calibrated(train._fit_booster(dataset, params, rounds, None), chosen)
            scores.append(train.booster_scores(booster, test[list(train.FEATURE_COLUMNS)]))
        return np.mean(scores, axis=0)

    return variant


def with_logistic(training: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """The mean of the champion's and the logistic baseline's probabilities."""
    scores = train.score_models(fitted(training), test)
    return (scores["model"] + scores["logistic_regression"]) / 2


def card_day_weights(training: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """The champion trained with each card-day's frauds weighing one together."""
    day = training["tx_datetime"].dt.floor("D")
    frauds = training["is_fraud"].astype(bool)
    per_card_day = frauds.groupby([training["customer_id"], day]).transform("sum")
    weight = training["weight"] if "weight" in training else pd.Series(1.0, training.index)
    weighted = training.assign(weight=np.where(frauds, weight / per_card_day.clip(lower=1), weight))
    models = train.fit_models(weighted, seed=SEED, time_budget_seconds=BUDGET_SECONDS)
    return train.score_models(models, test)["model"]


VARIANTS: dict[str, Variant] = {
    "champion": champion,
    "cp_search": searched_on("average_precision", "card_precision_at_100"),
    "cp_only_search": searched_on("card_precision_at_100"),
    "bagged_5": bagged(5),
    "with_logistic": with_logistic,
    "card_day_weights": card_day_weights,
    "smaller_leaves": searched_in(train.SearchSpace(min_child_samples=(100, 50))),
    "more_leaves": searched_in(train.SearchSpace(num_leaves=(31, 63))),
    "slower_learning": searched_in(train.SearchSpace(learning_rate=(0.02,), n_estimators=750)),
}


def main() -> None:
    """Evaluate each variant on each seed; print JSON and the mean ± std table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--prefix", default="fraud_handbook_seed")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/fraud_card_ranking"))
    parser.add_argument(
        "--train-days", type=int, default=7, help="training window ending 2018-07-31 (default 7)"
    )
    add_admin_url(parser)
    args = parser.parse_args()
    server = admin_url(parser, args)
    results: dict[str, dict[int, dict[str, float]]] = {name: {} for name in args.variants}
    for seed in args.seeds:
        url = with_database(server, f"{args.prefix}{seed}")
        cache = args.cache / f"{args.prefix}{seed}_train{args.train_days}d.pickle"
        training, test = frames(url, cache, args.train_days)
        for name in args.variants:
            scores = VARIANTS[name](training, test)
            metrics = compute_metrics(test.assign(score=scores))
            results[name][seed] = {metric: metrics[metric] for metric in METRICS}
            print(seed, name, json.dumps(results[name][seed]), flush=True)
    print(
        "| variant | " + " | ".join(METRICS) + " | " + " | ".join(f"Δ {m}" for m in METRICS) + " |"
    )
    print("|---|" + "---|" * (2 * len(METRICS)))
    for name, by_seed in results.items():
        cells, deltas = [], []
        for metric in METRICS:
            values = [by_seed[seed][metric] for seed in args.seeds]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.4f} ± {spread:.4f}")
            if "champion" in results:
                change = [
                    v - results["champion"][s][metric]
                    for s, v in zip(args.seeds, values, strict=True)
                ]
                deltas.append(f"{statistics.mean(change):+.4f}")
        print(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(deltas) + " |")


if __name__ == "__main__":
    main()
