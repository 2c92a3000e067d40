"""Training: temporal windows, LightGBM with a time-bounded search, and two baselines beside it."""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from fraud.dates import midnight
from fraud.features.build import build_features
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.frames import History
from fraud.model.metrics import card_precision_at_k, compute_metrics

_PATIENCE_ROUNDS = 20
# What the search log records of each candidate beside its parameters.
SEARCH_RESULTS = ("rounds", "average_precision", "card_precision_at_100", "selection", "seconds")


@dataclass(frozen=True)
class TrainingWindows:
    """Train window, a gap as long as the label delay, then a validation window; all [start, end)."""

    train_start: datetime
    train_end: datetime
    validation_start: datetime
    validation_end: datetime
    label_cutoff: datetime

    def as_params(self) -> dict[str, str]:
        """The windows as MLflow parameters."""
        return {name: value.isoformat() for name, value in asdict(self).items()}


def windows_before(
    label_cutoff: datetime,
    *,
    train_days: int,
    validation_days: int,
    label_delay_days: int,
) -> TrainingWindows:
    """Place the windows so that validation labels had ``2 × delay`` days to arrive by the cut-off."""
    validation_end = midnight(label_cutoff) - timedelta(days=2 * label_delay_days)
    validation_start = validation_end - timedelta(days=validation_days)
    train_end = validation_start - timedelta(days=label_delay_days)
    train_start = train_end - timedelta(days=train_days)
    return TrainingWindows(train_start, train_end, validation_start, validation_end, label_cutoff)


def labelled_features(
    history: History, start: datetime, end: datetime, label_delay_days: int
) -> pd.DataFrame:
    """Features of the transactions in [start, end) with the label known by the history's cut-off."""
    in_window = history.transactions["tx_datetime"].between(start, end, inclusive="left")
    target_ids = history.transactions.loc[in_window, "transaction_id"].to_numpy()
    frame = build_features(history.transactions, history.labels, target_ids, label_delay_days)
    frauds = history.labels.loc[history.labels["is_fraud"], "transaction_id"]
    frame["is_fraud"] = frame["transaction_id"].isin(frauds).astype(np.int8)
    return frame


@dataclass(frozen=True)
class SearchSpace:
    """The small grid the time-bounded search walks, most promising first."""

    # Frauds are scarce (about 600 in a week): small, well-populated leaves generalise best.
    num_leaves: tuple[int, ...] = (15, 31)
    min_child_samples: tuple[int, ...] = (200, 100)
    learning_rate: tuple[float, ...] = (0.05,)
    scale_pos_weight: tuple[float, ...] = (1.0, 3.0)
    n_estimators: int = 300
    # What the held-out days choose on: the sum of these metrics of each candidate.
    select_on: tuple[str, ...] = ("average_precision",)

    def candidates(self) -> list[dict[str, float]]:
        """Every combination, as LightGBM parameters."""
        grid = itertools.product(
            self.num_leaves, self.min_child_samples, self.learning_rate, self.scale_pos_weight
        )
        return [
            {
                "num_leaves": leaves,
                "min_child_samples": children,
                "learning_rate": rate,
                "scale_pos_weight": weight,
            }
            for leaves, children, rate, weight in grid
        ]


@dataclass
class TrainedModels:
    """The LightGBM booster, the two baselines, and how the search went."""

    booster: lgb.Booster
    params: dict[str, float]
    logistic: Pipeline
    amount_threshold: float
    search_log: list[dict[str, float]] = field(default_factory=list)


def lightgbm_params(candidate: dict[str, float], seed: int) -> dict[str, object]:
    return {
        "objective": "binary",
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        **candidate,
    }


def weights(frame: pd.DataFrame) -> np.ndarray | None:
    """The rows' sampling weights (1/share for sampled genuine payments), or None unsampled."""
    return frame["weight"].to_numpy(dtype=np.float64) if "weight" in frame else None


def _dataset(frame: pd.DataFrame, reference: lgb.Dataset | None = None) -> lgb.Dataset:
    """Binned once and shared by every candidate; no pre-filter, so any leaf size may follow.

    Weighted by the sampling: the fit then minimises the loss of the whole window, so the
    scores stay calibrated probabilities however few genuine payments were read.
    """
    return lgb.Dataset(
        frame[list(FEATURE_COLUMNS)],
        label=frame["is_fraud"],
        weight=weights(frame),
        reference=reference,
        params={"feature_pre_filter": False, "verbosity": -1},
        free_raw_data=False,
    )


def _fit_booster(
    dataset: lgb.Dataset, params: dict[str, object], rounds: int, valid: lgb.Dataset | None
) -> lgb.Booster:
    """Train; with a validation set, stop once its average precision stops improving."""
    return lgb.train(
        {**params, "metric": "average_precision"},
        dataset,
        num_boost_round=rounds,
        valid_sets=[] if valid is None else [valid],
        callbacks=[] if valid is None else [lgb.early_stopping(_PATIENCE_ROUNDS, verbose=False)],
    )


def _inner_split(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the last quarter of the training days for choosing hyperparameters."""
    days = train["tx_datetime"].dt.floor("D")
    boundary = days.drop_duplicates().sort_values().quantile(0.75, interpolation="lower")
    return train[days < boundary], train[days >= boundary]


def fit_models(
    train: pd.DataFrame,
    *,
    seed: int,
    time_budget_seconds: float,
    space: SearchSpace | None = None,
) -> TrainedModels:
    """Search LightGBM parameters, refit on all of ``train``, fit the baselines.

    The budget bounds the search and the refit together: a candidate starts only if, at the
    pace of those before it, it and the refit of the best so far end within the budget. The
    first candidate always runs.
    """
    space = space or SearchSpace()
    fit_part, choose_part = _inner_split(train)
    started = time.monotonic()
    fit_set = _dataset(fit_part)
    choose_set = _dataset(choose_part, reference=fit_set)
    choose_matrix = choose_part[list(FEATURE_COLUMNS)]
    best: tuple[float, dict[str, float], int] | None = None
    search_log: list[dict[str, float]] = []
    round_seconds = 0.0  # the slowest candidate's seconds per boosting round, on fit_part
    refit_scale = len(train) / max(len(fit_part), 1)
    for candidate in space.candidates():
        if best is not None:
            elapsed = time.monotonic() - started
            next_candidate = round_seconds * space.n_estimators
            refit = round_seconds * best[2] * refit_scale
            if elapsed + next_candidate + refit > time_budget_seconds:
                break
        candidate_started = time.monotonic()
        params = lightgbm_params(candidate, seed)
        booster = _fit_booster(fit_set, params, space.n_estimators, choose_set)
        rounds = max(booster.best_iteration, 10)
        seconds = time.monotonic() - candidate_started
        round_seconds = max(round_seconds, seconds / max(booster.current_iteration(), 1))
        held_out = _held_out_metrics(choose_part, booster_scores(booster, choose_matrix))
        selection = float(sum(held_out[metric] for metric in space.select_on))
        search_log.append(
            {**candidate, "rounds": rounds, **held_out, "selection": selection, "seconds": seconds}
        )
        if best is None or (not np.isnan(selection) and selection > best[0]):
            best = (selection, candidate, rounds)
    assert best is not None
    _, chosen, rounds = best
    params = lightgbm_params(chosen, seed)
    booster = calibrated(_fit_booster(_dataset(train), params, rounds, None), chosen)
    return TrainedModels(
        booster=booster,
        params={**chosen, "num_boost_round": rounds},
        logistic=fit_logistic_baseline(train, seed),
        amount_threshold=best_amount_threshold(train),
        search_log=search_log,
    )


def calibrated(booster: lgb.Booster, params: dict[str, float]) -> lgb.Booster:
    """The booster with the prior that ``scale_pos_weight`` moved put back.

    Weighting frauds by w multiplies the odds the model learns by w; subtracting ln w from every
    leaf of the first tree divides them back, for every row. The ranking, and so every ranking
    metric and every reason code, stay as they were; the scores are probabilities again, which
    the alert threshold, the Brier score and the drift of the score need.
    """
    weight = float(params.get("scale_pos_weight", 1.0))
    if weight == 1.0:
        return booster
    shift = -math.log(weight)
    leaves = booster.dump_model(num_iteration=1)["tree_info"][0]["num_leaves"]
    for leaf in range(leaves):
        booster.set_leaf_output(0, leaf, booster.get_leaf_output(0, leaf) + shift)
    return booster


def booster_scores(booster: lgb.Booster, matrix: pd.DataFrame) -> np.ndarray:
    """A booster's probabilities for the rows of a feature matrix."""
    return np.asarray(booster.predict(matrix), dtype=np.float64)


def _held_out_metrics(choose_part: pd.DataFrame, scores: np.ndarray) -> dict[str, float]:
    """A candidate's AP and CP@100 on the held-out days, which the search chooses on."""
    return {
        "average_precision": _average_precision(
            choose_part["is_fraud"], scores, weights(choose_part)
        ),
        "card_precision_at_100": card_precision_at_k(choose_part.assign(score=scores)),
    }


def _average_precision(
    labels: pd.Series, scores: np.ndarray, sample_weight: np.ndarray | None
) -> float:
    """AP of one candidate on the held-out days; NaN when they hold a single class."""
    if labels.nunique() < 2:
        return float("nan")
    return float(average_precision_score(labels, scores, sample_weight=sample_weight))


def fit_logistic_baseline(train: pd.DataFrame, seed: int) -> Pipeline:
    """The textbook baseline: scaled features, logistic regression."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    model.fit(
        train[list(FEATURE_COLUMNS)],
        train["is_fraud"],
        logisticregression__sample_weight=weights(train),
    )
    return model


def best_amount_threshold(train: pd.DataFrame) -> float:
    """The analyst's rule: the single amount threshold with the best F1 on the training rows."""
    amounts = train["tx_amount"].to_numpy()
    labels = train["is_fraud"].to_numpy().astype(bool)
    weight = weights(train)
    weight = np.ones(len(amounts)) if weight is None else weight
    candidates = np.unique(
        np.quantile(amounts, np.linspace(0.5, 0.999, 200), method="inverted_cdf", weights=weight)
        if "weight" in train
        else np.quantile(amounts, np.linspace(0.5, 0.999, 200))
    )
    best_threshold, best_f1 = float(candidates[-1]), -1.0
    for threshold in candidates:
        flagged = amounts > threshold
        true_positive = np.sum(weight[flagged & labels])
        if true_positive == 0:
            continue
        precision = true_positive / np.sum(weight[flagged])
        recall = true_positive / np.sum(weight[labels])
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best_f1:
            best_threshold, best_f1 = float(threshold), float(f1)
    return best_threshold


def score_models(models: TrainedModels, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Scores of the model and both baselines on ``frame``."""
    matrix = frame[list(FEATURE_COLUMNS)]
    return {
        "model": booster_scores(models.booster, matrix),
        "logistic_regression": models.logistic.predict_proba(matrix)[:, 1],
        "amount_rule": (frame["tx_amount"].to_numpy() > models.amount_threshold).astype(float),
    }


def evaluate_models(models: TrainedModels, frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Metrics of the model and both baselines on the same labelled frame."""
    return evaluate_scores(frame, score_models(models, frame))


def evaluate_scores(
    frame: pd.DataFrame, scores: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Metrics of each model's scores of the same labelled frame."""
    return {name: compute_metrics(frame.assign(score=values)) for name, values in scores.items()}


def fingerprint(frame: pd.DataFrame, label_cutoff: datetime) -> str:
    """A stable hash of the training rows (ids and labels) and the label cut-off."""
    digest = hashlib.sha256(label_cutoff.isoformat().encode())
    ordered = frame.sort_values("transaction_id")
    digest.update(ordered["transaction_id"].to_numpy(dtype=np.int64).tobytes())
    digest.update(ordered["is_fraud"].to_numpy(dtype=np.int8).tobytes())
    return digest.hexdigest()
