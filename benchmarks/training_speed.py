"""Time one training run as retraining does it, without MLflow: features, search, refit, baselines.

Usage: python -m benchmarks.training_speed --train-days 7 [--customers N]

Simulates the history in memory, then times ``train.labelled_features`` for the train and
validation windows, ``train.fit_models`` with the configured time budget and the evaluation
of the model and both baselines on the validation window.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, date, datetime, timedelta

from fraud.config import load_settings
from fraud.features.frames import History
from fraud.model import train
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams


def main() -> None:
    """Simulate, train once, print the timings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-days", type=int, required=True)
    parser.add_argument("--customers", type=int, default=SimulationParams.n_customers)
    parser.add_argument("--terminals", type=int, default=SimulationParams.n_terminals)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    settings = load_settings()
    delay, validation_days = settings.label_delay_days, settings.validation_days
    # 30 days of feature history, the training window, the gap, validation, labels' arrival.
    days = 30 + delay + args.train_days + delay + validation_days + 2 * delay
    start = date(2026, 1, 1)
    simulation = simulate(
        SimulationParams(
            seed=args.seed,
            n_customers=args.customers,
            n_terminals=args.terminals,
            start_date=start,
            n_days=days,
        )
    )
    cutoff = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(days=days)
    windows = train.windows_before(
        cutoff,
        train_days=args.train_days,
        validation_days=validation_days,
        label_delay_days=delay,
    )
    labels = simulation.labels[simulation.labels["reported_at"] < cutoff]
    history = History(simulation.transactions, labels)

    started = time.perf_counter()
    training = train.labelled_features(history, windows.train_start, windows.train_end, delay)
    validation = train.labelled_features(
        history, windows.validation_start, windows.validation_end, delay
    )
    featured = time.perf_counter()
    models = train.fit_models(
        training,
        seed=settings.random_seed,
        time_budget_seconds=settings.training_time_budget_seconds,
    )
    fitted = time.perf_counter()
    results = train.evaluate_models(models, validation)
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "train_days": args.train_days,
                "training_rows": len(training),
                "training_frauds": int(training["is_fraud"].sum()),
                "validation_rows": len(validation),
                "candidates_tried": len(models.search_log),
                "time_budget_seconds": settings.training_time_budget_seconds,
                "features_seconds": round(featured - started, 1),
                "search_and_fit_seconds": round(fitted - featured, 1),
                "evaluation_seconds": round(finished - fitted, 1),
                "total_seconds": round(finished - started, 1),
                "validation_average_precision": round(results["model"]["average_precision"], 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
