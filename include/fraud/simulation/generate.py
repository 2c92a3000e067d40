"""Simulate card transactions, fraud and delayed fraud labels, after the ULB Handbook's design.

``simulate(params)`` draws the customers and terminals, every day's payments, the fraud
scenarios of :mod:`fraud.simulation.scenarios` and the delayed labels; :mod:`fraud.simulation.params`
says what each parameter means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from fraud.simulation.bank_columns import bank_columns
from fraud.simulation.params import (
    CUSTOMER_STREAM,
    DRIFT_TIME_OF_DAY_MEAN_SECONDS,
    GENUINE,
    GRID_SIZE,
    LABEL_STREAM,
    SECONDS_PER_DAY,
    TERMINAL_STREAM,
    TIME_OF_DAY_STD_SECONDS,
    TRANSACTION_STREAM,
    SimulationParams,
    check,
    day_start,
    random_stream,
)
from fraud.simulation.scenarios import (
    Events,
    add_fraud,
    compromise_events,
    compromise_table,
    empty_compromises,
)
from fraud.timing import Stopwatch

_CUSTOMER_BLOCK = 256
# A run reports its progress this many times over its days.
PROGRESS_STEPS = 10

# The Handbook's columns; with ``bank_columns`` the frame also has those of fraud.payments.
TRANSACTION_COLUMNS = ["transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount"]
LABEL_COLUMNS = ["transaction_id", "is_fraud", "reported_at"]


@dataclass(frozen=True)
class Simulation:
    """Transactions and labels as the payments system writes them, plus the hidden truth.

    ``compromises`` lists each compromised terminal (scenario 2) or card (scenario 3)
    with the half-open period ``[compromised_from, compromised_until)`` it was exploited.
    """

    transactions: pd.DataFrame
    labels: pd.DataFrame
    truth: pd.DataFrame
    compromises: pd.DataFrame = field(default_factory=empty_compromises)


@dataclass(frozen=True)
class _Customers:
    """Customer profiles and the terminals each one can reach (CSR layout)."""

    mean_amount: np.ndarray
    mean_nb_tx_per_day: np.ndarray
    reach_start: np.ndarray
    reach_count: np.ndarray
    reachable_terminals: np.ndarray


@dataclass(frozen=True)
class _Day:
    """One day's transactions in generation order, with the draws made for them."""

    customer: np.ndarray
    terminal: np.ndarray
    seconds: np.ndarray
    amount: np.ndarray
    card_key: np.ndarray
    delay_seconds: np.ndarray
    dispute_draw: np.ndarray


def _terminal_positions(params: SimulationParams) -> np.ndarray:
    """Terminal coordinates, one ``(x, y)`` row per terminal, uniform on the grid."""
    rng = random_stream(params, TERMINAL_STREAM)
    x = rng.uniform(0.0, GRID_SIZE, params.n_terminals)
    y = rng.uniform(0.0, GRID_SIZE, params.n_terminals)
    return np.column_stack([x, y])


def _within_radius(
    customer_xy: np.ndarray, terminal_xy: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(customer, terminal)`` closer than ``radius``, sorted by customer then terminal.

    Customers are taken in blocks of neighbouring ``x`` and compared only with the
    terminals whose ``x`` is within ``radius`` of the block, which keeps this near-linear.
    """
    terminal_order = np.argsort(terminal_xy[:, 0], kind="stable")
    terminal_x = terminal_xy[terminal_order, 0]
    terminal_y = terminal_xy[terminal_order, 1]
    customer_order = np.argsort(customer_xy[:, 0], kind="stable")
    customers, terminals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, len(customer_order), _CUSTOMER_BLOCK):
        members = customer_order[start : start + _CUSTOMER_BLOCK]
        x, y = customer_xy[members, 0], customer_xy[members, 1]
        low, high = np.searchsorted(terminal_x, [x.min() - radius, x.max() + radius])
        dx = x[:, None] - terminal_x[None, low:high]
        dy = y[:, None] - terminal_y[None, low:high]
        rows, columns = np.nonzero(dx * dx + dy * dy < radius * radius)
        customers.append(members[rows])
        terminals.append(terminal_order[low + columns])
    customer, terminal = np.concatenate(customers), np.concatenate(terminals)
    order = np.lexsort((terminal, customer))
    return customer[order], terminal[order]


def _customers(params: SimulationParams, terminal_xy: np.ndarray) -> _Customers:
    """Draw the customer profiles and index the terminals within reach of each."""
    rng = random_stream(params, CUSTOMER_STREAM)
    x = rng.uniform(0.0, GRID_SIZE, params.n_customers)
    y = rng.uniform(0.0, GRID_SIZE, params.n_customers)
    mean_amount = rng.uniform(5.0, 100.0, params.n_customers)
    mean_nb_tx_per_day = rng.uniform(0.0, 4.0, params.n_customers)
    owner, terminal = _within_radius(np.column_stack([x, y]), terminal_xy, params.radius)
    reach_count = np.bincount(owner, minlength=params.n_customers)
    reach_start = np.concatenate([[0], np.cumsum(reach_count)[:-1]])
    return _Customers(mean_amount, mean_nb_tx_per_day, reach_start, reach_count, terminal)


def _drift_factors(params: SimulationParams, day: date) -> tuple[float, float, float]:
    """Amount factor, rate factor and mean time of day (seconds) in force on ``day``."""
    midday = SECONDS_PER_DAY / 2
    if params.drift_start is None or day < params.drift_start:
        return 1.0, 1.0, midday
    strength = params.drift_strength
    towards_night = min(max(strength, 0.0), 1.0) * (midday - DRIFT_TIME_OF_DAY_MEAN_SECONDS)
    return 1.0 + strength, 1.0 + strength / 2, midday - towards_night


def _label_delays(params: SimulationParams, rng: np.random.Generator, size: int) -> np.ndarray:
    """Label delays in whole seconds (at least one): gamma around the mean, or fixed."""
    if params.label_delay_shape is None:
        days = np.full(size, params.label_delay_days)
    else:
        shape = params.label_delay_shape
        days = rng.gamma(shape, params.label_delay_days / shape, size)
    return np.maximum(np.rint(days * SECONDS_PER_DAY), 1).astype(np.int64)


def _simulate_day(params: SimulationParams, customers: _Customers, day: date) -> _Day:
    """Draw one day's transactions for every customer, vectorised over transactions."""
    rng = random_stream(params, TRANSACTION_STREAM, day)
    amount_factor, rate_factor, time_mean = _drift_factors(params, day)
    rate = customers.mean_nb_tx_per_day * rate_factor * (customers.reach_count > 0)
    customer = np.repeat(np.arange(params.n_customers), rng.poisson(rate))
    size = customer.size
    seconds = np.floor(rng.normal(time_mean, TIME_OF_DAY_STD_SECONDS, size))
    mean_amount = customers.mean_amount[customer]
    amount = rng.normal(mean_amount, mean_amount / 2)
    fallback = rng.uniform(0.0, 2 * mean_amount)
    pick = rng.integers(0, customers.reach_count[customer])
    card_key = rng.random(size)
    amount = np.round(np.where(amount < 0, fallback, amount) * amount_factor, 2)
    terminal = customers.reachable_terminals[customers.reach_start[customer] + pick]
    keep = (seconds >= 0) & (seconds < SECONDS_PER_DAY)
    kept = int(keep.sum())
    label_rng = random_stream(params, LABEL_STREAM, day)
    return _Day(
        customer=customer[keep],
        terminal=terminal[keep],
        seconds=seconds[keep].astype(np.int64),
        amount=amount[keep],
        card_key=card_key[keep],
        delay_seconds=_label_delays(params, label_rng, kept),
        dispute_draw=label_rng.random(kept),
    )


def _concatenate(days: list[_Day]) -> dict[str, np.ndarray]:
    """Stack the days' arrays, adding each transaction's day index and second of the run."""
    names = [name for name in _Day.__dataclass_fields__]
    arrays = {name: np.concatenate([getattr(d, name) for d in days]) for name in names}
    sizes = [len(d.customer) for d in days]
    arrays["day"] = np.repeat(np.arange(len(days)), sizes)
    arrays["second"] = arrays["day"] * SECONDS_PER_DAY + arrays["seconds"]
    return arrays


def _empty_day() -> _Day:
    """A day without transactions, so a zero-day run still has typed columns."""
    ints, floats = np.zeros(0, dtype=np.int64), np.zeros(0)
    return _Day(ints, ints, ints, floats, floats, ints, floats)


def _frames(params: SimulationParams, data: dict[str, np.ndarray], events: Events) -> Simulation:
    """Number the transactions in order and build the public frames."""
    first_id = params.id_base + params.first_transaction_id
    transaction_id = first_id + np.arange(len(data["day"]), dtype=np.int64)
    tx_datetime = day_start(params.start_date) + pd.to_timedelta(data["second"], unit="s")
    transactions = pd.DataFrame(
        {
            "transaction_id": transaction_id,
            "tx_datetime": tx_datetime,
            "customer_id": data["customer"].astype(np.int64) + 1 + params.id_base,
            "terminal_id": data["terminal"].astype(np.int64) + 1 + params.id_base,
            "tx_amount": data["amount"].astype(np.float64),
            **(bank_columns(params, data) if params.bank_columns else {}),
        }
    )
    is_fraud = data["scenario"] != GENUINE
    truth = pd.DataFrame(
        {"transaction_id": transaction_id, "is_fraud": is_fraud, "fraud_scenario": data["scenario"]}
    )
    labelled = is_fraud | (data["dispute_draw"] < params.genuine_dispute_rate)
    delay = pd.to_timedelta(data["delay_seconds"][labelled], unit="s")
    labels = pd.DataFrame(
        {
            "transaction_id": transaction_id[labelled],
            "is_fraud": is_fraud[labelled],
            "reported_at": tx_datetime[labelled] + delay,
        }
    )
    return Simulation(transactions, labels, truth, compromise_table(params, events))


def progress_days(n_days: int, steps: int = PROGRESS_STEPS) -> list[int]:
    """After which numbers of days a run reports: each ``1/steps`` of the days, the last included."""
    return sorted({-(-n_days * step // steps) for step in range(1, steps + 1)} - {0})


def _silent(message: str) -> None:
    """No progress lines: what a caller that reports nothing passes."""


def simulate(params: SimulationParams, progress: Callable[[str], None] = _silent) -> Simulation:
    """Simulate ``n_days`` of transactions from ``start_date``, with fraud and delayed labels.

    ``progress`` receives a line after each tenth of the days and one when the fraud is in.
    """
    check(params)
    watch = Stopwatch()
    customers = _customers(params, _terminal_positions(params))
    reports = set(progress_days(params.n_days))
    days: list[_Day] = []
    for index in range(params.n_days):
        days.append(_simulate_day(params, customers, params.start_date + timedelta(days=index)))
        if len(days) in reports:
            payments = sum(len(day.customer) for day in days)
            progress(
                f"simulated {len(days)}/{params.n_days} days ({payments:,} payments)"
                f" in {watch.seconds:.1f} s"
            )
    data = _concatenate(days or [_empty_day()])
    order = np.lexsort((data["customer"], data["second"]))
    data = {name: values[order] for name, values in data.items()}
    events = compromise_events(params)
    add_fraud(params, data, events)
    simulation = _frames(params, data, events)
    progress(f"added fraud and labels ({len(simulation.labels):,} labels) in {watch.seconds:.1f} s")
    return simulation
