"""What reading a share of the genuine cards costs the model, on the Handbook's protocol.

For each seed: a scratch warehouse with the Handbook's simulated data (as
:mod:`benchmarks.handbook_protocol` builds it), then ``fraud evaluate`` once per genuine share
(``FRAUD_TRAINING_GENUINE_FRACTION``, with no floor of rows read; 1.0 reads every payment). Prints,
per share, the mean and the standard deviation over the seeds of AUC ROC, average precision and
card precision@100, and the mean difference from reading everything. A budget large enough for the whole search keeps the
metrics independent of the machine's load.

    FRAUD_TRAINING_TIME_BUDGET_SECONDS=600 \
    python -m benchmarks.training_sample --seeds 1 2 3 4 5 --shares 1.0 0.5 0.25 0.1 \
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics

from benchmarks.handbook_protocol import (
    EVALUATE,
    METRICS,
    SIMULATE,
    add_admin_url,
    admin_url,
    fraud_command,
)
from fraud.scratch import scratch_database, unique_name


def run_seed(admin_url: str, seed: int, shares: list[float]) -> dict[float, dict[str, float]]:
    """The model's test metrics for each share, on one seed's simulated bank."""
    results: dict[float, dict[str, float]] = {}
    with scratch_database(admin_url, unique_name(f"fraud_sample_{seed}")) as database_url:
        fraud_command(["db", "migrate"], database_url)
        fraud_command([*SIMULATE, "--seed", str(seed)], database_url)
        for share in shares:
            output = fraud_command(
                EVALUATE,
                database_url,
                # No floor: the share itself, however small the Handbook's week is.
                {
                    "FRAUD_TRAINING_GENUINE_FRACTION": str(share),
                    "FRAUD_TRAINING_MIN_GENUINE_ROWS": "0",
                },
            )
            results[share] = json.loads(output)["model"]
    return results


def table(results: dict[int, dict[float, dict[str, float]]], shares: list[float]) -> str:
    """Mean ± standard deviation per share over the seeds, and the mean change from share 1."""
    lines = [
        "| genuine share | "
        + " | ".join(METRICS)
        + " | "
        + " | ".join(f"Δ {m}" for m in METRICS)
        + " |",
        "|---|" + "---|" * (2 * len(METRICS)),
    ]
    baseline = max(shares)
    for share in shares:
        cells, deltas = [], []
        for metric in METRICS:
            values = [results[seed][share][metric] for seed in results]
            cells.append(f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}")
            change = [
                results[seed][share][metric] - results[seed][baseline][metric] for seed in results
            ]
            deltas.append(f"{statistics.mean(change):+.4f}")
        lines.append(f"| {share:g} | " + " | ".join(cells) + " | " + " | ".join(deltas) + " |")
    return "\n".join(lines)


def main() -> None:
    """Run every seed and share; print the JSON results and the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--shares", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.1])
    add_admin_url(parser)
    args = parser.parse_args()
    url = admin_url(parser, args)
    if len(args.seeds) < 2:
        parser.error("give at least two seeds: the table shows a standard deviation")
    results = {seed: run_seed(url, seed, args.shares) for seed in args.seeds}
    print(json.dumps({seed: {str(k): v for k, v in r.items()} for seed, r in results.items()}))
    print(table(results, args.shares))


if __name__ == "__main__":
    main()
