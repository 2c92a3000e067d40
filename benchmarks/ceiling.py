"""How high CP@100 can go on the Handbook's protocol: two definitions of "findable", one script.

The simulator's hidden truth (which scenario made each fraud) is not in the warehouse, so the
script simulates each seed in memory with the parameters ``benchmarks.handbook_protocol`` writes
(same seed, same frames), builds the test week as ``fraud evaluate`` builds it (known cards
dropped) and scores an oracle: 1 for every fraud that the definition calls findable, 0 for the
rest. CP@100 of that oracle is the ceiling of any scorer under the definition.

* ``window``: the old definition. A fraud is findable only if its terminal has a known fraud in
  the delayed 30-day window of the features (``terminal_fraud_count_30d > 0``), whatever its
  scenario.
* ``window, label by day end``: the same with every fraud label reported before the end of the
  scoring day counted.
* ``scenario``: the issue's definition. Every fraud is findable except a compromised-terminal
  fraud (scenario 2) whose terminal had no fraud reported before the day began. (Here and
  below, a scenario-2 fraud above the large-amount threshold of 220 counts as findable: the
  simulator labels it scenario 2, but its amount alone gives it away.)
* ``scenario, labels by day end``: the same, counting the labels reported before the end of the
  payment's day, the scoring time of the nightly batch (what the features may read).
* ``scenario, this compromise``: the same, counting for a compromised-terminal fraud only the
  frauds of the compromise it belongs to (at that terminal since the compromise began) reported
  before the end of its day: a fraud of the terminal months earlier says nothing of today.
* ``scenario, this compromise, with feedback``: the same, with investigators who review every
  card and confirm each fraud the morning after its night (``fraud simulate-investigators``'
  default delay, 10 hours): a fraud of the compromise is known from then if its report comes
  later. The bound of the replay with feedback (``fraud evaluate --feedback-capacity``), whose
  investigators review only the top cards of each night.
* ``scenario 2 by window``: the issue's, with scenario 2 judged by the old window: isolates
  whether the two differ by the scenario 1 and 3 frauds the old one counted out.
* ``every fraud``: every fraud findable.

Each is computed twice: as the metric is defined (the Handbook's ``card_precision_top_k`` with its
default ``remove_detected_compromised_cards=True``: a card caught in a day's top 100 is blocked
and leaves the later days), and without that removal (``, no removal``), where a card caught
on Monday counts again on Tuesday. Only the first bounds the CP@100 that ``fraud evaluate``
reports.

    python -m benchmarks.ceiling --seeds 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import json
from datetime import date

import numpy as np
import pandas as pd

from fraud.model.metrics import card_precision_at_k
from fraud.model.protocol import Protocol, protocol_test
from fraud.simulation.generate import simulate
from fraud.simulation.investigators import InvestigatorParams
from fraud.simulation.params import (
    COMPROMISED_TERMINAL,
    LARGE_AMOUNT_THRESHOLD,
    SimulationParams,
)

DELAY_DAYS = 7
# The simulated investigators' verdicts are known this many hours after their night's end.
VERDICT_HOURS = InvestigatorParams().delay_hours
PROTOCOL = Protocol.from_dates(
    date(2018, 7, 25), date(2018, 7, 31), DELAY_DAYS, date(2018, 8, 8), date(2018, 8, 14)
)
DEFINITIONS = (
    "window",
    "window, label by day end",
    "scenario",
    "scenario, labels by day end",
    "scenario, this compromise",
    "scenario, this compromise, with feedback",
    "scenario 2 by window",
    "every fraud",
)


def handbook_params(seed: int) -> SimulationParams:
    """The Handbook's sizes, as ``fraud simulate`` in ``benchmarks.handbook_protocol`` sets them."""
    return SimulationParams(
        seed=seed,
        n_customers=5000,
        n_terminals=10000,
        start_date=date(2018, 4, 1),
        n_days=183,
        radius=5.0,
        label_delay_days=DELAY_DAYS,
        label_delay_shape=None,
        bank_columns=False,
    )


def terminal_fraud_known_before(
    test: pd.DataFrame, transactions: pd.DataFrame, labels: pd.DataFrame, moment: pd.Series
) -> np.ndarray:
    """True for test rows whose terminal had a fraud reported before ``moment`` (per row)."""
    frauds = labels.loc[labels["is_fraud"].astype(bool), ["transaction_id", "reported_at"]]
    frauds = frauds.merge(transactions[["transaction_id", "terminal_id"]], on="transaction_id")
    first_known = frauds.groupby("terminal_id")["reported_at"].min()
    known_at = test["terminal_id"].map(first_known)
    return (known_at.notna() & (known_at < moment)).to_numpy()


def compromise_known(
    test: pd.DataFrame,
    transactions: pd.DataFrame,
    labels: pd.DataFrame,
    compromises: pd.DataFrame,
) -> np.ndarray:
    """True for test rows at a terminal compromised at their time with a fraud of that compromise
    (since it began) reported before the end of their day."""
    terminals = compromises[compromises["fraud_scenario"] == COMPROMISED_TERMINAL]
    rows = test[["transaction_id", "terminal_id", "tx_datetime"]].merge(
        terminals.rename(columns={"entity_id": "terminal_id"}), on="terminal_id"
    )
    rows = rows[
        (rows["compromised_from"] <= rows["tx_datetime"])
        & (rows["tx_datetime"] < rows["compromised_until"])
    ]
    began = rows.groupby("transaction_id")["compromised_from"].min().rename("began").reset_index()
    frauds = labels.loc[labels["is_fraud"].astype(bool), ["transaction_id", "reported_at"]]
    frauds = frauds.merge(transactions[["transaction_id", "terminal_id", "tx_datetime"]])
    pairs = began.merge(
        test[["transaction_id", "terminal_id", "tx_datetime"]], on="transaction_id"
    ).merge(frauds, on="terminal_id", suffixes=("", "_fraud"))
    day_end = pairs["tx_datetime"].dt.floor("D") + pd.Timedelta(days=1)
    known = pairs[(pairs["tx_datetime_fraud"] >= pairs["began"]) & (pairs["reported_at"] < day_end)]
    return test["transaction_id"].isin(known["transaction_id"]).to_numpy()


def confirmed_next_morning(transactions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The labels with every fraud known from the morning after its night at the latest."""
    confirmed = labels.merge(transactions[["transaction_id", "tx_datetime"]], on="transaction_id")
    morning = confirmed["tx_datetime"].dt.floor("D") + pd.Timedelta(days=1, hours=VERDICT_HOURS)
    fraud = confirmed["is_fraud"].astype(bool)
    confirmed.loc[fraud, "reported_at"] = confirmed.loc[fraud, "reported_at"].where(
        confirmed.loc[fraud, "reported_at"] < morning[fraud], morning[fraud]
    )
    return confirmed.drop(columns=["tx_datetime"])


def oracles(
    test: pd.DataFrame,
    transactions: pd.DataFrame,
    labels: pd.DataFrame,
    compromises: pd.DataFrame,
) -> dict[str, np.ndarray]:
    """Each definition's oracle score of the test rows: 1 for a findable fraud, else 0."""
    fraud = test["is_fraud"].to_numpy().astype(bool)
    day_start = pd.to_datetime(test["tx_datetime"], utc=True).dt.floor("D")
    in_window = test["terminal_fraud_count_30d"].to_numpy() > 0
    by_day_end = terminal_fraud_known_before(
        test, transactions, labels, day_start + pd.Timedelta(days=1)
    )
    by_day_start = terminal_fraud_known_before(test, transactions, labels, day_start)
    # A large amount at a compromised terminal is labelled scenario 2 but stands out by itself.
    terminal_scenario = (test["fraud_scenario"].to_numpy() == COMPROMISED_TERMINAL) & (
        test["tx_amount"].to_numpy() <= LARGE_AMOUNT_THRESHOLD
    )
    return {
        "window": fraud & in_window,
        "window, label by day end": fraud & by_day_end,
        "scenario": fraud & (~terminal_scenario | by_day_start),
        "scenario, labels by day end": fraud & (~terminal_scenario | by_day_end),
        "scenario, this compromise": fraud
        & (~terminal_scenario | compromise_known(test, transactions, labels, compromises)),
        "scenario, this compromise, with feedback": fraud
        & (
            ~terminal_scenario
            | compromise_known(
                test, transactions, confirmed_next_morning(transactions, labels), compromises
            )
        ),
        "scenario 2 by window": fraud & (~terminal_scenario | in_window),
        "every fraud": fraud,
    }


def without_removal(frame: pd.DataFrame, k: int = 100) -> float:
    """CP@k of an oracle (fraud cards first) if caught cards were never removed on later days."""
    frauds = frame[frame["score"] > 0]
    cards = frauds.groupby(frauds["tx_datetime"].dt.floor("D"))["customer_id"].nunique()
    days = frame["tx_datetime"].dt.floor("D").nunique()
    return float(np.minimum(cards, k).sum() / k / days)


def seed_ceilings(seed: int) -> dict[str, float]:
    """CP@100 of each definition's oracle on one seed's test week."""
    simulation = simulate(handbook_params(seed))
    transactions, labels = simulation.transactions, simulation.labels
    test = protocol_test(transactions, labels, PROTOCOL, DELAY_DAYS)
    test = test.merge(simulation.truth[["transaction_id", "fraud_scenario"]], on="transaction_id")
    result: dict[str, float] = {}
    for name, score in oracles(test, transactions, labels, simulation.compromises).items():
        scored = test.assign(score=score.astype(float))
        result[name] = card_precision_at_k(scored)
        result[f"{name}, no removal"] = without_removal(scored)
    frauds = test[test["is_fraud"].astype(bool)]
    for scenario, count in frauds["fraud_scenario"].value_counts().sort_index().items():
        result[f"test frauds of scenario {scenario}"] = float(count)
    return result


def main() -> None:
    """Print each seed's ceilings as JSON, then a Markdown table with the mean."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = parser.parse_args()
    results = {seed: seed_ceilings(seed) for seed in args.seeds}
    print(json.dumps(results, indent=2))
    print("| definition | " + " | ".join(f"seed {s}" for s in results) + " | mean |")
    print("|---|" + "---|" * (len(results) + 1))
    for name in [*DEFINITIONS, *(f"{name}, no removal" for name in DEFINITIONS)]:
        values = [results[seed][name] for seed in results]
        cells = " | ".join(f"{v:.3f}" for v in values)
        print(f"| {name} | {cells} | {np.mean(values):.3f} |")


if __name__ == "__main__":
    main()
