"""The investigators' feedback on the Handbook protocol: what their verdicts as labels change.

For each seed, in its kept Handbook warehouse (``benchmarks.handbook_protocol --keep`` makes
them), run the real command line, ``fraud evaluate`` on the Handbook's windows with
``--feedback-capacity K --feedback-split --json``: the nights replayed without and with the
verdicts as labels, and the feedback/delayed split. Then simulate the seed again in memory for
its hidden truth (which compromise made each fraud) and measure, from the alerts each run
raised, the days from each compromise's first fraud to its first alert: a compromised terminal
is alerted once a card alerted on a night made a fraud of that compromise by then, a
compromised card once it is alerted. Only the compromises whose first fraud falls in the test
window count; one not alerted by the test's end is counted as missed, not as a delay.

    python -m benchmarks.feedback --seeds 1 2 3 4 5 [--capacity 100] \
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import date

import pandas as pd

from benchmarks.ceiling import handbook_params
from benchmarks.handbook_protocol import (
    EVALUATE,
    add_admin_url,
    admin_url,
    fraud_command,
    seeded_database,
)
from fraud.simulation.generate import simulate
from fraud.simulation.params import COMPROMISED_CARD, COMPROMISED_TERMINAL

RUNS = ("delayed_only", "with_feedback", "with_feedback_split")
METRICS = ("auc_roc", "average_precision", "card_precision_at_100")
TEST_START = date(2018, 8, 8)
TEST_END = date(2018, 8, 15)


def compromise_delays(
    transactions: pd.DataFrame, compromises: pd.DataFrame, alerts: list[list[object]]
) -> dict[str, dict[str, float]]:
    """Per kind of compromise: how many began in the test, how many were alerted, and the mean
    and median days from the first fraud to the first alert of those alerted."""
    alerted = pd.DataFrame(alerts, columns=["night", "customer_id", "rank"])
    alerted["night"] = pd.to_datetime(alerted["night"]).dt.date
    frauds = transactions[
        transactions["fraud_scenario"].isin([COMPROMISED_TERMINAL, COMPROMISED_CARD])
    ]
    frauds = frauds.assign(day=frauds["tx_datetime"].dt.date)
    result = {}
    for scenario, kind, key in (
        (COMPROMISED_TERMINAL, "terminals", "terminal_id"),
        (COMPROMISED_CARD, "cards", "customer_id"),
    ):
        delays: list[int] = []
        began = 0
        for compromise in compromises[compromises["fraud_scenario"] == scenario].itertuples():
            own = frauds[
                (frauds["fraud_scenario"] == scenario)
                & (frauds[key] == compromise.entity_id)
                & (frauds["tx_datetime"] >= compromise.compromised_from)
                & (frauds["tx_datetime"] < compromise.compromised_until)
            ]
            if own.empty or not TEST_START <= own["day"].min() < TEST_END:
                continue
            began += 1
            first = own["day"].min()
            # A night's alerted card that made a fraud of the compromise by that night.
            hits = alerted.merge(own[["customer_id", "day"]], on="customer_id")
            hits = hits[(hits["night"] >= hits["day"]) & (hits["night"] >= first)]
            if not hits.empty:
                delays.append((hits["night"].min() - first).days)
        result[kind] = {
            "compromises": began,
            "alerted": len(delays),
            "mean_days": statistics.mean(delays) if delays else float("nan"),
            "median_days": statistics.median(delays) if delays else float("nan"),
        }
    return result


def run_seed(server: str, seed: int, capacity: int) -> dict[str, object]:
    """One seed's command output, with each run's detection delays added."""
    database_url = seeded_database(server, "fraud_handbook_seed", seed)
    arguments = [*EVALUATE[:-1], "--feedback-capacity", str(capacity), "--feedback-split", "--json"]
    results = json.loads(fraud_command(arguments, database_url))
    simulation = simulate(handbook_params(seed))
    transactions = simulation.transactions.merge(
        simulation.truth[["transaction_id", "fraud_scenario"]], on="transaction_id"
    )
    for run in RUNS:
        results[run]["delays"] = compromise_delays(
            transactions, simulation.compromises, results[run].pop("alerts")
        )
    return results


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


def summary(results: dict[int, dict[str, object]]) -> str:
    """Mean ± standard deviation over the seeds, one row per run, as Markdown."""
    seeds = list(results)
    lines = [
        f"| run (seeds {', '.join(map(str, seeds))}) | AUC ROC | AP | CP@100 | fraud stopped after"
        " a verdict | terminals: alerted / began, mean days | cards: alerted / began, mean days |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in RUNS:
        outcomes = [results[seed][run] for seed in seeds]
        cells = [
            _mean_std([o["metrics"]["model"][metric] for o in outcomes])  # type: ignore[index]
            for metric in METRICS
        ]
        cells.append(_mean_std([o["stopped_fraud_amount"] for o in outcomes]))  # type: ignore[index]
        for kind in ("terminals", "cards"):
            delays = [o["delays"][kind] for o in outcomes]  # type: ignore[index]
            alerted = sum(d["alerted"] for d in delays)
            began = sum(d["compromises"] for d in delays)
            means = [d["mean_days"] for d in delays if d["alerted"]]
            cells.append(f"{alerted} / {began}, {_mean_std(means) if means else 'n/a'}")
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--capacity", type=int, default=100)
    add_admin_url(parser)
    args = parser.parse_args()
    server = admin_url(parser, args)
    results = {seed: run_seed(server, seed, args.capacity) for seed in args.seeds}
    print(json.dumps(results, indent=2, default=str))
    print(summary(results))


if __name__ == "__main__":
    main()
