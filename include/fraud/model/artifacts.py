"""What a training run leaves in MLflow beside the model: evaluation, plots, the windows it read,
its search candidates, the drift reference.

The paths are named once here: the promotion gate reads the validation frame back, and the
nightly drift monitoring reads the reference and its sample. Every plot weighs each row by its
sampling weight (:mod:`fraud.model.curves`), so it draws what the whole window would.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fraud.dates import day_span
from fraud.features.window import Sampling, WindowRead
from fraud.model import curves
from fraud.model.reference import DRIFT_COLUMNS, DriftReference, sample_reference
from fraud.model.train import SEARCH_RESULTS, TrainedModels, TrainingWindows

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from mlflow.data.meta_dataset import MetaDataset

VALIDATION_FRAME = "evaluation/validation_frame.parquet"
DRIFT_REFERENCE = "drift/reference.json"
REFERENCE_SAMPLE = "drift/reference_sample.parquet"
# The plots of every run, under evaluation/.
PLOTS = (
    "roc_curve.png",
    "precision_recall_curve.png",
    "calibration_curve.png",
    "score_histogram.png",
    "precision_recall_by_daily_alerts.png",
    "feature_importance.png",
)
_NAMES = {
    "model": "LightGBM",
    "logistic_regression": "logistic regression",
    "amount_rule": "amount rule",
}


def write_artifacts(
    folder: Path,
    models: TrainedModels,
    scored_validation: pd.DataFrame,
    reference: DriftReference,
    results: dict[str, dict[str, float]],
    *,
    baseline_scores: dict[str, np.ndarray],
    review_capacity: int,
) -> None:
    """Plots, the validation frame, the search log and the drift reference, ready to log."""
    evaluation, drift_dir = folder / "evaluation", folder / "drift"
    evaluation.mkdir()
    drift_dir.mkdir()
    scored_validation.to_parquet(folder / VALIDATION_FRAME, index=False)
    (evaluation / "metrics.json").write_text(json.dumps(results, indent=2, default=str))
    (evaluation / "search_log.json").write_text(json.dumps(models.search_log, indent=2))
    (folder / DRIFT_REFERENCE).write_text(reference.to_json())
    # Drawn by the sampling weights, so that the reports' reference looks like the whole window.
    weight = ["weight"] if "weight" in scored_validation else []
    sample_reference(scored_validation[[*DRIFT_COLUMNS, *weight]])[list(DRIFT_COLUMNS)].to_parquet(
        folder / REFERENCE_SAMPLE, index=False
    )

    write_plots(evaluation, models, scored_validation, results, baseline_scores, review_capacity)


def write_plots(
    folder: Path,
    models: TrainedModels,
    scored: pd.DataFrame,
    results: dict[str, dict[str, float]],
    baseline_scores: dict[str, np.ndarray],
    review_capacity: int,
) -> None:
    """The :data:`PLOTS` of the validation window into ``folder``: ROC and precision-recall of
    the model beside the baselines, calibration, score histograms by class, precision and recall
    by daily alerts (up to twice the review capacity), feature importance."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = scored["is_fraud"].to_numpy().astype(np.int8)
    weights = (
        scored["weight"].to_numpy(dtype=np.float64) if "weight" in scored else np.ones(len(labels))
    )
    scores = {"model": scored["score"].to_numpy(dtype=np.float64), **baseline_scores}
    day = pd.to_datetime(scored["tx_datetime"], utc=True).dt.tz_convert(None)
    days = day.to_numpy().astype("datetime64[D]")
    drawers = {
        "roc_curve.png": lambda axis: _roc(axis, labels, scores, weights, results),
        "precision_recall_curve.png": lambda axis: _precision_recall(
            axis, labels, scores, weights, results
        ),
        "calibration_curve.png": lambda axis: _calibration(axis, labels, scores["model"], weights),
        "score_histogram.png": lambda axis: _histogram(axis, labels, scores["model"], weights),
        "precision_recall_by_daily_alerts.png": lambda axis: _daily_alerts(
            axis, days, labels, scores["model"], weights, review_capacity
        ),
        "feature_importance.png": lambda axis: _importance(axis, models),
    }
    for name in PLOTS:
        figure = Figure(figsize=(7, 6) if name == "feature_importance.png" else (6, 5))
        FigureCanvasAgg(figure)
        drawers[name](figure.subplots())
        figure.tight_layout()
        figure.savefig(folder / name, dpi=100)


def _roc(
    axis: Axes,
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    weights: np.ndarray,
    results: dict[str, dict[str, float]],
) -> None:
    for name, values in scores.items():
        curve = curves.roc_points(labels, values, weights)
        auc = results.get(name, {}).get("auc_roc", float("nan"))
        axis.plot(curve.x, curve.y, label=f"{_NAMES.get(name, name)} (AUC {auc:.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axis.set(xlabel="false positive rate", ylabel="true positive rate")
    axis.set_title("ROC, validation window")
    axis.legend(loc="lower right")


def _precision_recall(
    axis: Axes,
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    weights: np.ndarray,
    results: dict[str, dict[str, float]],
) -> None:
    for name, values in scores.items():
        curve = curves.precision_recall_points(labels, values, weights)
        ap = results.get(name, {}).get("average_precision", float("nan"))
        label = f"{_NAMES.get(name, name)} (AP {ap:.3f})"
        axis.plot(curve.x, curve.y, drawstyle="steps-pre", label=label)
    fraud_rate = float(np.sum(weights * labels) / np.sum(weights))
    axis.axhline(fraud_rate, linestyle="--", color="grey", label=f"fraud rate {fraud_rate:.4f}")
    axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    axis.set_title("Precision-recall, validation window")
    axis.legend(loc="lower left")


def _calibration(axis: Axes, labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> None:
    calibration = curves.calibration_bins(labels, scores, weights)
    axis.plot(calibration.mean_score, calibration.fraud_rate, marker="o", label="LightGBM")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axis.set(xlabel="mean score of the bin", ylabel="fraud rate of the bin", xlim=(0, 1))
    axis.set_title("Calibration, validation window (10 bins)")
    axis.legend(loc="upper left")


def _histogram(axis: Axes, labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> None:
    histograms = curves.score_histograms(labels, scores, weights)
    axis.stairs(histograms.genuine, histograms.edges, label="genuine")
    axis.stairs(histograms.fraud, histograms.edges, label="fraud")
    axis.set_yscale("log")
    axis.set(xlabel="score", ylabel="share of the class's payments")
    axis.set_title("Scores by class, validation window")
    axis.legend(loc="upper center")


def _daily_alerts(
    axis: Axes,
    days: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    review_capacity: int,
) -> None:
    curve = curves.alerts_curve(days, labels, scores, weights, max(2 * review_capacity, 10))
    axis.plot(curve.alerts, curve.precision, label="precision")
    axis.plot(curve.alerts, curve.recall, label="recall")
    if review_capacity > 0:
        axis.axvline(
            review_capacity,
            linestyle="--",
            color="grey",
            label=f"review capacity ({review_capacity})",
        )
    axis.set(xlabel="alerts per day (the day's highest scores)", ylabel="mean over days")
    axis.set(ylim=(0, 1.02))
    axis.set_title("Precision and recall by daily alerts, validation window")
    axis.legend(loc="center right")


def _importance(axis: Axes, models: TrainedModels) -> None:
    importance = pd.Series(
        models.booster.feature_importance(importance_type="gain"),
        index=models.booster.feature_name(),
    ).sort_values()
    importance.plot.barh(ax=axis)
    axis.set(xlabel="total gain")
    axis.set_title("Feature importance")


def window_dataset(
    context: str,
    start: datetime,
    end: datetime,
    windows: TrainingWindows,
    read: WindowRead,
    sampling: Sampling,
    schema_rows: pd.DataFrame,
) -> MetaDataset:
    """A window as an MLflow dataset of metadata only: its days, cut-off, rows and frauds in the
    name and the source, the columns' schema; the rows themselves stay in the warehouse."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.models import infer_signature

    source = CodeDatasetSource(
        {
            "table": "raw.transactions",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "label_cutoff": windows.label_cutoff.isoformat(),
            "rows": str(read.rows),
            "frauds": str(read.frauds),
            "genuine_fraction": str(sampling.genuine_fraction),
            "sampling_seed": str(sampling.seed),
        }
    )
    name = (
        f"{context} {day_span(start, end)}, labels before"
        f" {windows.label_cutoff:%Y-%m-%d %H:%M} UTC ({read.rows} rows, {read.frauds} frauds)"
    )

    class WindowDataset(MetaDataset):
        """Metadata only, with the window's counts as its profile (MLflow shows it)."""

        @property
        def profile(self) -> dict[str, int]:
            return {"num_rows": read.rows, "num_frauds": read.frauds}

        def to_dict(self) -> dict[str, str]:
            return {**super().to_dict(), "profile": json.dumps(self.profile)}

    return WindowDataset(source, name=name, schema=infer_signature(schema_rows).inputs)


def log_windows(
    windows: TrainingWindows,
    reads: dict[str, WindowRead],
    sampling: Sampling,
    schema_rows: pd.DataFrame,
) -> None:
    """The training and validation windows as the active run's dataset inputs."""
    import mlflow

    bounds = {
        "training": (windows.train_start, windows.train_end),
        "validation": (windows.validation_start, windows.validation_end),
    }
    for context, (start, end) in bounds.items():
        dataset = window_dataset(
            context, start, end, windows, reads[context], sampling, schema_rows
        )
        mlflow.log_input(dataset, context=context)


def log_search(models: TrainedModels) -> int:
    """Each search candidate as a child run of the active run: its parameters, its average
    precision on the held-out days, rounds and seconds, and whether it was chosen."""
    import mlflow

    for number, entry in enumerate(models.search_log, start=1):
        params = {key: value for key, value in entry.items() if key not in SEARCH_RESULTS}
        chosen = all(models.params.get(key) == value for key, value in params.items())
        with mlflow.start_run(
            run_name=f"candidate-{number}", nested=True, tags={"chosen": str(chosen).lower()}
        ):
            mlflow.log_params(params)
            mlflow.log_metrics({key: float(entry[key]) for key in SEARCH_RESULTS if key in entry})
    return len(models.search_log)
