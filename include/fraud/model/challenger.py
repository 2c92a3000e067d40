"""Training a challenger: labelled data as of a cut-off, the fit, MLflow logging, a new version."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.features.columns import FEATURE_COLUMNS, history_start
from fraud.features.history import read_history
from fraud.model import registry, train
from fraud.model.artifacts import write_artifacts
from fraud.model.reference import DRIFT_COLUMNS, build_reference


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


def build_datasets(
    engine: Engine, settings: Settings, windows: train.TrainingWindows
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labelled feature frames of the train and validation windows, labels known by the cut-off."""
    start = history_start(windows.train_start, settings.label_delay_days)
    with engine.connect() as connection:
        history = read_history(connection, start, windows.validation_end, windows.label_cutoff)
    delay = settings.label_delay_days
    training = train.labelled_features(history, windows.train_start, windows.train_end, delay)
    validation = train.labelled_features(
        history, windows.validation_start, windows.validation_end, delay
    )
    for name, frame in (("training", training), ("validation", validation)):
        if frame["is_fraud"].sum() < 5 or len(frame) < 100:
            raise NotEnoughData(
                f"{name} window holds {len(frame)} rows and {int(frame['is_fraud'].sum())} "
                f"known frauds before cut-off {windows.label_cutoff.isoformat()}: too few to train"
            )
    return training, validation


def train_challenger(
    engine: Engine, settings: Settings, label_cutoff: datetime, trigger: str
) -> Challenger:
    """Train, evaluate beside the baselines, log everything to MLflow and register a version."""
    import mlflow
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    windows = train.windows_before(
        label_cutoff,
        train_days=settings.train_days,
        validation_days=settings.validation_days,
        label_delay_days=settings.label_delay_days,
    )
    training, validation = build_datasets(engine, settings, windows)
    models = train.fit_models(
        training,
        seed=settings.random_seed,
        time_budget_seconds=settings.training_time_budget_seconds,
    )
    results = train.evaluate_models(models, validation)
    scored_validation = validation.assign(
        score=train.booster_scores(models.booster, _matrix(validation))
    )
    reference = build_reference(scored_validation, DRIFT_COLUMNS, bins=settings.psi_bins)

    registry.client(settings)
    mlflow.set_experiment(registry.EXPERIMENT)
    with mlflow.start_run(run_name=f"retrain-{label_cutoff:%Y-%m-%d}") as run:
        mlflow.set_tags({"trigger": trigger, "model_name": settings.model_name})
        mlflow.log_params(
            {
                **windows.as_params(),
                **{f"lgbm_{key}": value for key, value in models.params.items()},
                "features": ",".join(FEATURE_COLUMNS),
                "label_delay_days": settings.label_delay_days,
                "seed": settings.random_seed,
                "amount_rule_threshold": models.amount_threshold,
                "training_rows": len(training),
                "training_frauds": int(training["is_fraud"].sum()),
                "validation_rows": len(validation),
                "training_fingerprint": train.fingerprint(training, label_cutoff),
            }
        )
        for model_name, metrics in results.items():
            prefix = "" if model_name == "model" else f"baseline_{model_name}_"
            mlflow.log_metrics({f"{prefix}{key}": value for key, value in metrics.items()})
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            write_artifacts(folder, models, scored_validation, reference, results)
            mlflow.log_artifacts(str(folder / "evaluation"), "evaluation")
            mlflow.log_artifacts(str(folder / "drift"), "drift")
        sample = _matrix(validation).head(200)
        info = mlflow.lightgbm.log_model(
            models.booster,
            name="model",
            signature=infer_signature(sample, models.booster.predict(sample)),
            input_example=sample.head(5),
            registered_model_name=settings.model_name,
        )
    version = int(info.registered_model_version)
    registry.set_alias(settings, registry.CHALLENGER, version)
    return Challenger(
        version=version,
        run_id=run.info.run_id,
        label_cutoff=label_cutoff,
        validation_start=windows.validation_start,
        validation_end=windows.validation_end,
        trigger=trigger,
    )


def _matrix(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(FEATURE_COLUMNS)]
