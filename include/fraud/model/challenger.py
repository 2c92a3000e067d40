"""Training a challenger: labelled data as of a cut-off, the fit, MLflow logging, a new version."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.window import (
    Sampling,
    WindowRead,
    cards_reported_at,
    known_card_rows,
    labelled_window,
    sampling_for,
    window_rows,
)
from fraud.model import registry, train
from fraud.model.artifacts import log_search, log_windows, write_artifacts
from fraud.model.metrics import KNOWN_CARD_LOOKBACK_DAYS
from fraud.model.money import CARD_REPORTED_AT, capacity_metrics
from fraud.model.reference import DRIFT_COLUMNS, DriftReference, build_reference
from fraud.timing import timed

logger = logging.getLogger(__name__)


class NotEnoughData(RuntimeError):
    """The windows before the cut-off hold too few labelled rows to train on."""


@dataclass(frozen=True)
class Challenger:
    """A freshly registered version: what XCom carries between training and the decision."""

    version: int
    run_id: str
    label_cutoff: datetime
    validation_start: datetime
    validation_end: datetime
    trigger: str
    # What the run read and how long each phase took, for the task log and the CLI.
    training_rows: int = 0
    training_frauds: int = 0
    validation_rows: int = 0
    genuine_fraction: float = 1.0
    seconds: dict[str, float] = field(default_factory=dict)
    # The MLflow experiment of the run, for a link to the run's page.
    experiment_id: str = ""


@dataclass(frozen=True)
class Datasets:
    """The labelled training and validation samples, and what reading them took."""

    training: pd.DataFrame
    validation: pd.DataFrame
    sampling: Sampling
    reads: dict[str, WindowRead]


def training_sampling(
    engine: Engine, settings: Settings, start: datetime, end: datetime
) -> Sampling:
    """The sampling of a training window [start, end) from its size (a count first): the
    configured genuine share, kept between ``training_min_genuine_rows`` and
    ``training_max_genuine_rows`` payments read (:func:`fraud.features.window.sampling_for`)."""
    with engine.connect() as connection:
        rows = window_rows(connection, start, end)
    return sampling_for(
        rows,
        share=settings.training_genuine_share,
        min_rows=settings.training_min_genuine_rows,
        max_rows=settings.training_max_genuine_rows,
        seed=settings.random_seed,
    )


def build_datasets(engine: Engine, settings: Settings, windows: train.TrainingWindows) -> Datasets:
    """Labelled, weighted samples of the train and validation windows, labels known by the
    cut-off; both windows drawn with the training window's sampling. Validation rows whose card
    was known before their day (by the cut-off's labels) are marked ``card_known``: the gate's
    CP@100 leaves them out, as the evaluation protocol does. Each validation row also carries its
    card's first fraud report before the cut-off (``card_reported_at``): the money an alert
    prevents ends there (:mod:`fraud.model.money`)."""
    sampling = training_sampling(engine, settings, windows.train_start, windows.train_end)
    frames, reads = {}, {}
    for name, (start, end) in {
        "training": (windows.train_start, windows.train_end),
        "validation": (windows.validation_start, windows.validation_end),
    }.items():
        frames[name], reads[name] = labelled_window(
            engine,
            start=start,
            end=end,
            cutoff=windows.label_cutoff,
            label_delay_days=settings.label_delay_days,
            sampling=sampling,
            chunk_rows=settings.feature_chunk_rows,
        )
        frame = frames[name]
        frauds = int(frame["is_fraud"].sum()) if len(frame) else 0
        if frauds < 5 or len(frame) < 100:
            raise NotEnoughData(
                f"{name} window holds {len(frame)} rows and {frauds} known frauds before"
                f" cut-off {windows.label_cutoff.isoformat()}: too few to train"
            )
    with engine.connect() as connection:
        frames["validation"]["card_known"] = known_card_rows(
            connection,
            frames["validation"],
            cutoff=windows.label_cutoff,
            lookback_days=KNOWN_CARD_LOOKBACK_DAYS,
        )
        reported_at = cards_reported_at(
            connection,
            since=windows.validation_start - timedelta(days=KNOWN_CARD_LOOKBACK_DAYS),
            before=windows.label_cutoff,
        )
    validation = frames["validation"]
    validation[CARD_REPORTED_AT] = validation["customer_id"].map(reported_at)
    return Datasets(frames["training"], frames["validation"], sampling, reads)


@dataclass(frozen=True)
class Evaluation:
    """The validation rows scored by the model and the baselines, their metrics, the reference."""

    results: dict[str, dict[str, float]]
    scored_validation: pd.DataFrame
    baseline_scores: dict[str, np.ndarray]
    reference: DriftReference


@dataclass(frozen=True)
class LoggedRun:
    """The MLflow run of a retraining and the version it registered."""

    run_id: str
    experiment_id: str
    version: int


def train_challenger(
    engine: Engine, settings: Settings, label_cutoff: datetime, trigger: str
) -> Challenger:
    """Train, evaluate beside the baselines, log everything to MLflow and register a version."""
    windows = train.windows_before(
        label_cutoff,
        train_days=settings.train_days,
        validation_days=settings.validation_days,
        label_delay_days=settings.label_delay_days,
    )
    seconds: dict[str, float] = {}
    with timed(seconds, "datasets"):
        datasets = build_datasets(engine, settings, windows)
    with timed(seconds, "fit"):
        models = fit(settings, datasets.training)
    with timed(seconds, "evaluate_and_log"):
        evaluation = evaluate(settings, models, datasets.validation)
        run = log_run(settings, windows, datasets, models, evaluation, trigger)
        register(settings, run, models)
    return challenger_of(run, windows, datasets, trigger, seconds)


def fit(settings: Settings, training: pd.DataFrame) -> train.TrainedModels:
    """The model (a time-bounded search) and the baselines, fitted on the training sample."""
    return train.fit_models(
        training,
        seed=settings.random_seed,
        time_budget_seconds=settings.training_time_budget_seconds,
    )


def evaluate(
    settings: Settings, models: train.TrainedModels, validation: pd.DataFrame
) -> Evaluation:
    """Score the validation rows once with each model: the metrics and the plots share them,
    with the money each would catch within the review capacity per day."""
    scores = train.score_models(models, validation)
    results = train.evaluate_scores(validation, scores)
    for name, values in scores.items():
        results[name].update(money_metrics(settings, validation.assign(score=values)))
    scored_validation = validation.assign(score=scores.pop("model"))
    reference = build_reference(scored_validation, DRIFT_COLUMNS, bins=settings.psi_bins)
    return Evaluation(results, scored_validation, scores, reference)


def money_metrics(settings: Settings, scored: pd.DataFrame) -> dict[str, float]:
    """The money a scored window's alerts would catch within the review capacity per day."""
    return capacity_metrics(
        scored, settings.review_capacity, timedelta(hours=settings.review_delay_hours)
    )


def run_params(
    settings: Settings,
    windows: train.TrainingWindows,
    datasets: Datasets,
    models: train.TrainedModels,
) -> dict[str, object]:
    """The run's parameters: windows, search, features, sampling and what each window read."""
    training = datasets.training
    return {
        **windows.as_params(),
        **{f"lgbm_{key}": value for key, value in models.params.items()},
        "features": ",".join(FEATURE_COLUMNS),
        "label_delay_days": settings.label_delay_days,
        "seed": settings.random_seed,
        "amount_rule_threshold": models.amount_threshold,
        "training_rows": len(training),
        "training_frauds": int(training["is_fraud"].sum()),
        "validation_rows": len(datasets.validation),
        "training_fingerprint": train.fingerprint(training, windows.label_cutoff),
        "genuine_fraction": datasets.sampling.genuine_fraction,
        "genuine_weight": datasets.sampling.genuine_weight,
        "sampling_seed": datasets.sampling.seed,
        **{
            f"{name}_{key}": value
            for name, read in datasets.reads.items()
            for key, value in (("history_rows", read.history_rows), ("chunks", read.chunks))
        },
    }


def log_run(
    settings: Settings,
    windows: train.TrainingWindows,
    datasets: Datasets,
    models: train.TrainedModels,
    evaluation: Evaluation,
    trigger: str,
) -> LoggedRun:
    """One MLflow run: parameters, metrics beside the baselines, artifacts, the model, a version."""
    import mlflow

    registry.client(settings)
    mlflow.set_experiment(registry.EXPERIMENT)
    with mlflow.start_run(run_name=f"retrain-{windows.label_cutoff:%Y-%m-%d}") as run:
        mlflow.set_tags({"trigger": trigger, "model_name": settings.model_name})
        mlflow.log_params(run_params(settings, windows, datasets, models))
        for model_name, metrics in evaluation.results.items():
            prefix = "" if model_name == "model" else f"baseline_{model_name}_"
            mlflow.log_metrics({f"{prefix}{key}": value for key, value in metrics.items()})
        log_windows(windows, datasets.reads, datasets.sampling, _schema_rows(datasets.training))
        log_search(models)
        log_evaluation_artifacts(settings, models, evaluation)
        version = log_model(settings, models, datasets.validation)
    return LoggedRun(run.info.run_id, str(run.info.experiment_id), version)


def log_evaluation_artifacts(
    settings: Settings, models: train.TrainedModels, evaluation: Evaluation
) -> None:
    """The plots, the validation frame, the search log and the drift reference, to the run."""
    import mlflow

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_artifacts(
            folder,
            models,
            evaluation.scored_validation,
            evaluation.reference,
            evaluation.results,
            baseline_scores=evaluation.baseline_scores,
            review_capacity=settings.review_capacity,
        )
        mlflow.log_artifacts(str(folder / "evaluation"), "evaluation")
        mlflow.log_artifacts(str(folder / "drift"), "drift")


def log_model(settings: Settings, models: train.TrainedModels, validation: pd.DataFrame) -> int:
    """Log the booster with its signature and register it; return the new version."""
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    sample = _matrix(validation).head(200)
    info = mlflow.lightgbm.log_model(
        models.booster,
        name="model",
        signature=infer_signature(sample, models.booster.predict(sample)),
        input_example=sample.head(5),
        registered_model_name=settings.model_name,
    )
    return int(info.registered_model_version)


def register(settings: Settings, run: LoggedRun, models: train.TrainedModels) -> None:
    """Pin the version's booster digest, describe it and make it the challenger."""
    registry.record_model_text_digest(settings, run.version, models.booster)
    registry.describe_version(settings, run.version, run.run_id, None)
    registry.set_alias(settings, registry.CHALLENGER, run.version)


def challenger_of(
    run: LoggedRun,
    windows: train.TrainingWindows,
    datasets: Datasets,
    trigger: str,
    seconds: dict[str, float],
) -> Challenger:
    """The registered challenger, logged once with what it read and how long each phase took."""
    training, validation = datasets.training, datasets.validation
    logger.info(
        "registered challenger version %d (labels before %s): %s training rows with %s frauds,"
        " %s validation rows, seconds %s",
        run.version,
        windows.label_cutoff.isoformat(),
        f"{len(training):,}",
        f"{int(training['is_fraud'].sum()):,}",
        f"{len(validation):,}",
        seconds,
    )
    return Challenger(
        version=run.version,
        run_id=run.run_id,
        experiment_id=run.experiment_id,
        label_cutoff=windows.label_cutoff,
        validation_start=windows.validation_start,
        validation_end=windows.validation_end,
        trigger=trigger,
        training_rows=len(training),
        training_frauds=int(training["is_fraud"].sum()),
        validation_rows=len(validation),
        genuine_fraction=datasets.sampling.genuine_fraction,
        seconds=seconds,
    )


def _matrix(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(FEATURE_COLUMNS)]


def _schema_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The first row of the columns a window's dataset holds: enough for its schema."""
    columns = [name for name in (*FEATURE_COLUMNS, "is_fraud", "weight") if name in frame]
    return frame.head(1)[columns]
