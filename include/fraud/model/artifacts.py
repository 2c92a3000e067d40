"""What a training run leaves in MLflow beside the model: evaluation, plots, the drift reference.

The paths are named once here: the promotion gate reads the validation frame back, and the
nightly drift monitoring reads the reference and its sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fraud.model.reference import DRIFT_COLUMNS, DriftReference, sample_reference
from fraud.model.train import TrainedModels

VALIDATION_FRAME = "evaluation/validation_frame.parquet"
DRIFT_REFERENCE = "drift/reference.json"
REFERENCE_SAMPLE = "drift/reference_sample.parquet"


def write_artifacts(
    folder: Path,
    models: TrainedModels,
    scored_validation: pd.DataFrame,
    reference: DriftReference,
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
    # Drawn by the sampling weights, so that the reports' reference looks like the whole window.
    weight = ["weight"] if "weight" in scored_validation else []
    sample_reference(scored_validation[[*DRIFT_COLUMNS, *weight]])[list(DRIFT_COLUMNS)].to_parquet(
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
