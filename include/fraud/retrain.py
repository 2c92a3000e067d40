"""Retraining: build labelled data as of a cut-off, log a challenger to MLflow, gate its promotion."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import lightgbm as lgb
import pandas as pd
from sqlalchemy.engine import Engine

from fraud import drift, features, registry, train
from fraud.config import Settings
from fraud.evaluate import compute_metrics
from fraud.history import read_history

VALIDATION_FRAME = "evaluation/validation_frame.parquet"
DRIFT_REFERENCE = "drift/reference.json"
REFERENCE_SAMPLE = "drift/reference_sample.parquet"
MONITORED_SCORE = "score"
# A single night is all weekend or all weekday, so its PSI against a week-long reference is
# always huge and says nothing about the world changing: calendar flags are not monitored.
NOT_MONITORED = frozenset({"is_weekend"})
DRIFT_COLUMNS = (
    *(column for column in features.FEATURE_COLUMNS if column not in NOT_MONITORED),
    MONITORED_SCORE,
)


class NotEnoughData(RuntimeError):
    """The windows before the cut-off hold too few labelled rows to train on."""


@dataclass(frozen=True)
class Challenger:
    """A freshly registered version: what XCom carries between training and the decision."""

    version: int
    run_id: str
    label_cutoff: str
    validation_start: str
    validation_end: str
    trigger: str


def build_datasets(
    engine: Engine, settings: Settings, windows: train.TrainingWindows
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labelled feature frames of the train and validation windows, labels known by the cut-off."""
    start = features.history_start(windows.train_start, settings.label_delay_days)
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
    scored_validation = validation.assign(score=models.booster.predict(_matrix(validation)))
    reference = drift.build_reference(scored_validation, DRIFT_COLUMNS, bins=settings.psi_bins)

    registry.client(settings)
    mlflow.set_experiment(registry.EXPERIMENT)
    with mlflow.start_run(run_name=f"retrain-{label_cutoff:%Y-%m-%d}") as run:
        mlflow.set_tags({"trigger": trigger, "model_name": settings.model_name})
        mlflow.log_params(
            {
                **windows.as_params(),
                **{f"lgbm_{key}": value for key, value in models.params.items()},
                "features": ",".join(features.FEATURE_COLUMNS),
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
            _write_artifacts(folder, models, scored_validation, reference, results)
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
        label_cutoff=label_cutoff.isoformat(),
        validation_start=windows.validation_start.isoformat(),
        validation_end=windows.validation_end.isoformat(),
        trigger=trigger,
    )


def _matrix(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(features.FEATURE_COLUMNS)]


def model_inputs(booster: lgb.Booster, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a booster was trained on, in its order: an older champion keeps working
    after new feature columns are added."""
    return frame[booster.feature_name()]


def _write_artifacts(
    folder: Path,
    models: train.TrainedModels,
    scored_validation: pd.DataFrame,
    reference: drift.DriftReference,
    results: dict[str, dict[str, float]],
) -> None:
    """Plots, the validation frame, the search log and the drift reference, ready to log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    evaluation, drift_dir = folder / "evaluation", folder / "drift"
    evaluation.mkdir()
    drift_dir.mkdir()
    scored_validation.to_parquet(folder / VALIDATION_FRAME, index=False)
    (evaluation / "metrics.json").write_text(json.dumps(results, indent=2, default=str))
    (evaluation / "search_log.json").write_text(json.dumps(models.search_log, indent=2))
    (folder / DRIFT_REFERENCE).write_text(reference.to_json())
    drift.sample_reference(scored_validation[list(DRIFT_COLUMNS)]).to_parquet(
        folder / REFERENCE_SAMPLE, index=False
    )

    figure, axis = plt.subplots(figsize=(6, 5))
    precision, recall, _ = precision_recall_curve(
        scored_validation["is_fraud"], scored_validation["score"]
    )
    axis.plot(recall, precision)
    axis.set(xlabel="recall", ylabel="precision", title="Precision-recall, validation window")
    figure.savefig(evaluation / "precision_recall_curve.png", dpi=100)
    plt.close(figure)

    importance = pd.Series(
        models.booster.feature_importance(importance_type="gain"),
        index=models.booster.feature_name(),
    ).sort_values()
    figure, axis = plt.subplots(figsize=(7, 6))
    importance.plot.barh(ax=axis)
    axis.set(xlabel="total gain", title="Feature importance")
    figure.tight_layout()
    figure.savefig(evaluation / "feature_importance.png", dpi=100)
    plt.close(figure)


def decide_promotion(engine: Engine, settings: Settings, challenger: Challenger) -> str:
    """Promote the challenger only if it beats the champion on the same window; record it."""
    validation = pd.read_parquet(
        registry.download_run_file(settings, challenger.run_id, VALIDATION_FRAME)
    )
    challenger_metrics = compute_metrics(validation)
    current = registry.champion_version(settings)
    window = (
        datetime.fromisoformat(challenger.validation_start),
        datetime.fromisoformat(challenger.validation_end),
    )
    common = {
        "challenger_version": challenger.version,
        "evaluation_window": window,
        "label_cutoff": datetime.fromisoformat(challenger.label_cutoff),
        "mlflow_run_id": challenger.run_id,
        "trigger": challenger.trigger,
        "challenger_metrics": challenger_metrics,
    }
    if current is None:
        registry.set_alias(settings, registry.CHAMPION, challenger.version)
        registry.clear_alias(settings, registry.CHALLENGER)
        registry.record_decision(
            engine,
            settings,
            champion_version=None,
            decision="bootstrapped",
            reason="no champion existed; the first trained version becomes champion",
            champion_metrics={},
            **common,
        )
        return "bootstrapped"
    champion = registry.load_version(settings, current)
    champion_metrics = compute_metrics(
        validation.assign(
            score=champion.booster.predict(model_inputs(champion.booster, validation))
        )
    )
    outcome = registry.apply_gate(settings.promotion_gate, challenger_metrics, champion_metrics)
    decision = "promoted" if outcome.passed else "rejected"
    if outcome.passed:
        registry.set_alias(settings, registry.CHAMPION, challenger.version)
        registry.clear_alias(settings, registry.CHALLENGER)
    registry.record_decision(
        engine,
        settings,
        champion_version=current,
        decision=decision,
        reason="; ".join(outcome.reasons),
        champion_metrics=champion_metrics,
        **common,
    )
    return decision


def challenger_from_xcom(value: dict[str, object]) -> Challenger:
    """Rebuild the reference passed between tasks."""
    return Challenger(**value)  # type: ignore[arg-type]


def challenger_to_xcom(challenger: Challenger) -> dict[str, object]:
    """The reference as a plain dict for XCom."""
    return asdict(challenger)
