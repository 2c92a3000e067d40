"""Reproduce the Fraud Detection Handbook's test table on our simulator, one seed at a time.

For each seed: create a scratch warehouse, run the real command line in it
(``fraud db migrate``, ``fraud simulate`` with the Handbook's parameters, ``fraud evaluate`` on
its windows), drop the scratch database, and print the published table beside ours, then the
mean and standard deviation over the seeds.

With ``--keep`` each seed's warehouse is named ``<prefix><seed>`` and kept; a later run with
``--keep`` and the same prefix reuses it as it is (no second simulation), so that experiments
on the same seeds pay for the simulation once. Drop them with ``--drop`` when done.

    python -m benchmarks.handbook_protocol --seeds 1 2 3 4 5 [--keep [--prefix fraud_handbook_seed]] \
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from datetime import date, timedelta

from fraud.db import (
    create_database,
    database_exists,
    drop_database,
    with_database,
)
from fraud.scratch import scratch_database, unique_name

SIMULATE = [
    "simulate", "--customers", "5000", "--terminals", "10000", "--start-date", "2018-04-01",
    "--days", "183", "--radius", "5", "--fixed-delay", "--label-delay-days", "7",
    "--no-bank-columns",
]  # fmt: skip
EVALUATE = [
    "evaluate", "--train-start", "2018-07-25", "--train-end", "2018-07-31", "--delay-days", "7",
    "--test-start", "2018-08-08", "--test-end", "2018-08-14", "--json",
]  # fmt: skip
HANDBOOK_TRAIN_END = date(2018, 7, 31)

METRICS = ("auc_roc", "average_precision", "card_precision_at_100")
# The money within the review capacity (``fraud evaluate``'s ``..._within_capacity`` figures).
MONEY = (
    "detected_amount_within_capacity",
    "prevented_amount_within_capacity",
    "value_detection_rate_within_capacity",
)
# Test-set results published in the Handbook's model-selection chapter (its own simulated data).
PUBLISHED = {
    "Handbook: XGBoost, tuned": (0.869, 0.687, 0.303),
    "Handbook: random forest, tuned": (0.870, 0.678, 0.299),
    "Handbook: logistic regression": (0.868, 0.623, 0.297),
}
TARGETS = (0.88, 0.70, 0.31)


def evaluate_arguments(train_days: int) -> list[str]:
    """``fraud evaluate``'s arguments for a training window of ``train_days`` ending on the
    Handbook's last training day; the test set stays the Handbook's whatever the length."""
    if train_days == 7:
        return EVALUATE
    start = HANDBOOK_TRAIN_END - timedelta(days=train_days - 1)
    return [
        EVALUATE[0], "--train-start", start.isoformat(), *EVALUATE[3:-1],
        "--known-cards-since", "2018-07-25", "--json",
    ]  # fmt: skip


def fraud_command(
    arguments: list[str], database_url: str, settings: dict[str, str] | None = None
) -> str:
    """Run one ``fraud`` command against the scratch warehouse; return its standard output."""
    environment = {**os.environ, **(settings or {}), "FRAUD_DATABASE_URL": database_url}
    completed = subprocess.run(
        [sys.executable, "-m", "fraud.cli", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"fraud {arguments[0]} failed: {completed.stderr.strip()}")
    return completed.stdout


def simulate_seed(database_url: str, seed: int) -> None:
    """Migrate an empty warehouse and write one seed's Handbook-sized bank into it."""
    fraud_command(["db", "migrate"], database_url)
    fraud_command([*SIMULATE, "--seed", str(seed)], database_url)


def seeded_database(admin_url: str, prefix: str, seed: int) -> str:
    """The kept warehouse of one seed, simulated the first time it is asked for."""
    database_url = with_database(admin_url, f"{prefix}{seed}")
    if not database_exists(database_url):
        create_database(database_url)
        try:
            simulate_seed(database_url, seed)
        except BaseException:
            drop_database(database_url)
            raise
    return database_url


def run_seed(
    admin_url: str, seed: int, keep_prefix: str | None = None, train_days: int = 7
) -> dict[str, dict[str, float]]:
    """Evaluate on one seed's Handbook data: a scratch warehouse, or the kept one."""
    arguments = evaluate_arguments(train_days)
    if keep_prefix is not None:
        return json.loads(fraud_command(arguments, seeded_database(admin_url, keep_prefix, seed)))
    with scratch_database(admin_url, unique_name(f"fraud_handbook_{seed}")) as database_url:
        simulate_seed(database_url, seed)
        return json.loads(fraud_command(arguments, database_url))


def table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """The published rows, then ours per seed, as a Markdown table."""
    lines = [
        "| model | data | AUC ROC | AP | CP@100 |",
        "|---|---|---|---|---|",
    ]
    for name, values in PUBLISHED.items():
        lines.append(f"| {name} | Handbook | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    for seed, by_model in results.items():
        for name, metrics in by_model.items():
            cells = " | ".join(f"{metrics[metric]:.3f}" for metric in METRICS)
            lines.append(f"| {name} | ours, seed {seed} | {cells} |")
    lines.append("| target for our champion | | " + " | ".join(f"≥ {t}" for t in TARGETS) + " |")
    return "\n".join(lines)


def summary(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """Mean ± standard deviation over the seeds of each model's metrics, as a Markdown table."""
    seeds = list(results)
    lines = [
        f"| model (seeds {', '.join(map(str, seeds))}) | AUC ROC | AP | CP@100 |",
        "|---|---|---|---|",
    ]
    for name in results[seeds[0]]:
        cells = []
        for metric in METRICS:
            values = [results[seed][name][metric] for seed in seeds]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def money_summary(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """Mean ± standard deviation over the seeds of each row's money and CP@100, as Markdown."""
    seeds = list(results)
    lines = [
        f"| model (seeds {', '.join(map(str, seeds))}) | detected | prevented"
        " | value detection rate | CP@100 |",
        "|---|---|---|---|---|",
    ]
    for name in results[seeds[0]]:
        if MONEY[0] not in results[seeds[0]][name]:
            continue
        cells = []
        for metric in (*MONEY, "card_precision_at_100"):
            values = [results[seed][name][metric] for seed in seeds]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            digits = 0 if metric.endswith("amount_within_capacity") else 4
            cells.append(f"{statistics.mean(values):,.{digits}f} ± {spread:,.{digits}f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_admin_url(parser: argparse.ArgumentParser) -> None:
    """The ``--admin-url`` option of the scripts that create one scratch database per seed."""
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("FRAUD_DATABASE_URL"),
        help="server on which to create the scratch databases (default: FRAUD_DATABASE_URL)",
    )


def admin_url(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The server URL from the options, or a usage error when there is none."""
    if not args.admin_url:
        parser.error("set FRAUD_DATABASE_URL or pass --admin-url")
    return str(args.admin_url)


def main() -> None:
    """Run every seed and print the JSON results and the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--keep", action="store_true", help="keep each seed's warehouse and reuse a kept one"
    )
    parser.add_argument("--prefix", default="fraud_handbook_seed", help="kept warehouses' names")
    parser.add_argument("--drop", action="store_true", help="drop the kept warehouses and stop")
    parser.add_argument(
        "--train-days",
        type=int,
        default=7,
        help="training days ending 2018-07-31 (default 7, the Handbook's); the test set is kept",
    )
    add_admin_url(parser)
    args = parser.parse_args()
    server = admin_url(parser, args)
    if args.drop:
        for seed in args.seeds:
            drop_database(with_database(server, f"{args.prefix}{seed}"))
        return
    prefix = args.prefix if args.keep else None
    results = {seed: run_seed(server, seed, prefix, args.train_days) for seed in args.seeds}
    print(json.dumps(results, indent=2))
    print(table(results))
    print()
    print(summary(results))
    print()
    print(money_summary(results))


if __name__ == "__main__":
    main()
