"""Simulate card transactions, fraud and delayed fraud labels, after the ULB Handbook's design.

The design follows the "Transaction data simulator" chapter of *Reproducible Machine
Learning for Credit Card Fraud Detection - Practical Handbook*: customers and terminals on a
100x100 grid, each customer paying at terminals within ``radius``, and three fraud
scenarios (amounts above 220; compromised terminals for 28 days; compromised cards for
14 days with 1/3 of their payments multiplied by 5). Two extensions serve the pipeline:
labels arrive after a random delay, and drift can be injected from a given date on.

Every random draw comes from a generator seeded by ``(seed, stream, date)``, so a day's
transactions depend only on the seed and that day: changing the drift, the labels or the
length of the run never changes the days it does not touch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa

from fraud.db import copy_frame

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

SECONDS_PER_DAY = 86_400
GRID_SIZE = 100.0
TIME_OF_DAY_STD_SECONDS = 20_000.0
DRIFT_TIME_OF_DAY_MEAN_SECONDS = SECONDS_PER_DAY * 0.25
LARGE_AMOUNT_THRESHOLD = 220.0
TERMINALS_COMPROMISED_PER_DAY = 2
TERMINAL_COMPROMISE_DAYS = 28
CUSTOMERS_COMPROMISED_PER_DAY = 3
CUSTOMER_COMPROMISE_DAYS = 14
CARD_FRAUD_SHARE = 1 / 3
CARD_FRAUD_AMOUNT_FACTOR = 5.0

GENUINE, LARGE_AMOUNT, COMPROMISED_TERMINAL, COMPROMISED_CARD = 0, 1, 2, 3

# One random stream per concern, so that each is reproducible on its own.
_CUSTOMER_STREAM, _TERMINAL_STREAM, _TRANSACTION_STREAM, _COMPROMISE_STREAM, _LABEL_STREAM = range(
    5
)
_CUSTOMER_BLOCK = 256

TRANSACTION_COLUMNS = ["transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount"]
LABEL_COLUMNS = ["transaction_id", "is_fraud", "reported_at"]


@dataclass(frozen=True)
class SimulationParams:
    """Everything that shapes a simulated run; the same parameters give the same frames."""

    seed: int = 42
    n_customers: int = 3000
    n_terminals: int = 6000
    start_date: date = date(2026, 1, 1)
    n_days: int = 90
    radius: float = 5.0
    label_delay_days: float = 7.0
    label_delay_shape: float | None = 4.0
    genuine_dispute_rate: float = 0.001
    drift_start: date | None = None
    drift_strength: float = 1.0
    first_transaction_id: int = 1


def _empty_compromises() -> pd.DataFrame:
    """An empty compromise table with its columns and dtypes."""
    return pd.DataFrame(
        {
            "fraud_scenario": pd.Series(dtype="int64"),
            "entity_id": pd.Series(dtype="int64"),
            "compromised_from": pd.Series(dtype="datetime64[ns, UTC]"),
            "compromised_until": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


@dataclass(frozen=True)
class Simulation:
    """Transactions and labels as the payments system writes them, plus the hidden truth.

    ``compromises`` lists each compromised terminal (scenario 2) or card (scenario 3)
    with the half-open period ``[compromised_from, compromised_until)`` it was exploited.
    """

    transactions: pd.DataFrame
    labels: pd.DataFrame
    truth: pd.DataFrame
    compromises: pd.DataFrame = field(default_factory=_empty_compromises)


@dataclass(frozen=True)
class _Customers:
    """Customer profiles and the terminals each one can reach (CSR layout)."""

    mean_amount: np.ndarray
    mean_nb_tx_per_day: np.ndarray
    reach_start: np.ndarray
    reach_count: np.ndarray
    reachable_terminals: np.ndarray


@dataclass(frozen=True)
class _Events:
    """Compromise starts as day indexes and 0-based ids; each card has a random offset."""

    terminal_day: np.ndarray
    terminal: np.ndarray
    card_day: np.ndarray
    card: np.ndarray
    card_offset: np.ndarray


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


def _check(params: SimulationParams) -> None:
    """Reject parameters the simulator cannot honour, naming the parameter."""
    if params.n_customers < 1 or params.n_terminals < 1:
        raise ValueError("n_customers and n_terminals must be at least 1")
    if params.n_days < 0:
        raise ValueError("n_days must not be negative")
    if params.radius <= 0:
        raise ValueError("radius must be positive")
    if params.label_delay_days <= 0:
        raise ValueError("label_delay_days must be positive")
    if params.label_delay_shape is not None and params.label_delay_shape <= 0:
        raise ValueError("label_delay_shape must be positive (or None for a fixed delay)")
    if not 0.0 <= params.genuine_dispute_rate <= 1.0:
        raise ValueError("genuine_dispute_rate must be within [0, 1]")
    if params.first_transaction_id < 1:
        raise ValueError("first_transaction_id must be at least 1")


def _rng(params: SimulationParams, stream: int, day: date | None = None) -> np.random.Generator:
    """The generator of one stream, and of one calendar day when given."""
    key = (params.seed, stream) if day is None else (params.seed, stream, day.toordinal())
    return np.random.default_rng(key)


def _terminal_positions(params: SimulationParams) -> np.ndarray:
    """Terminal coordinates, one ``(x, y)`` row per terminal, uniform on the grid."""
    rng = _rng(params, _TERMINAL_STREAM)
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
    rng = _rng(params, _CUSTOMER_STREAM)
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
    rng = _rng(params, _TRANSACTION_STREAM, day)
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
    label_rng = _rng(params, _LABEL_STREAM, day)
    return _Day(
        customer=customer[keep],
        terminal=terminal[keep],
        seconds=seconds[keep].astype(np.int64),
        amount=amount[keep],
        card_key=card_key[keep],
        delay_seconds=_label_delays(params, label_rng, kept),
        dispute_draw=label_rng.random(kept),
    )


def _compromise_events(params: SimulationParams) -> _Events:
    """Draw, for each simulated day, the terminals and the cards compromised that day."""
    terminal_day, terminal, card_day, card, offset = [], [], [], [], []
    n_terminals = min(TERMINALS_COMPROMISED_PER_DAY, params.n_terminals)
    n_cards = min(CUSTOMERS_COMPROMISED_PER_DAY, params.n_customers)
    for index in range(params.n_days):
        rng = _rng(params, _COMPROMISE_STREAM, params.start_date + timedelta(days=index))
        terminal.append(rng.choice(params.n_terminals, n_terminals, replace=False))
        card.append(rng.choice(params.n_customers, n_cards, replace=False))
        offset.append(rng.random(n_cards))
        terminal_day.append(np.full(n_terminals, index))
        card_day.append(np.full(n_cards, index))
    parts = [terminal_day, terminal, card_day, card]
    ints = [
        np.concatenate(part).astype(np.int64) if part else np.zeros(0, np.int64) for part in parts
    ]
    return _Events(*ints, card_offset=np.concatenate(offset) if offset else np.zeros(0))


def _terminal_compromised(
    params: SimulationParams, day: np.ndarray, terminal: np.ndarray, events: _Events
) -> np.ndarray:
    """Whether each transaction's terminal was compromised in the previous 28 days."""
    event_day, event_terminal = events.terminal_day, events.terminal
    active = np.zeros((params.n_days + 1, params.n_terminals), dtype=np.int32)
    np.add.at(active, (event_day, event_terminal), 1)
    end = np.minimum(event_day + TERMINAL_COMPROMISE_DAYS, params.n_days)
    np.add.at(active, (end, event_terminal), -1)
    return np.cumsum(active, axis=0)[day, terminal] > 0


def _card_fraud_count(
    day: np.ndarray, customer: np.ndarray, card_key: np.ndarray, events: _Events
) -> np.ndarray:
    """How many card compromises picked each transaction (0 for almost all).

    The Handbook picks exactly a third of the card's payments in the 14 days; here each
    payment is picked with probability 1/3, so that later days cannot change earlier ones.
    """
    event_day, event_customer, event_offset = events.card_day, events.card, events.card_offset
    rows = np.flatnonzero(np.isin(customer, event_customer))
    pairs = pd.DataFrame({"row": rows, "customer": customer[rows], "day": day[rows]}).merge(
        pd.DataFrame({"customer": event_customer, "start": event_day, "offset": event_offset}),
        on="customer",
    )
    in_window = (pairs["day"] >= pairs["start"]) & (
        pairs["day"] < pairs["start"] + CUSTOMER_COMPROMISE_DAYS
    )
    row = pairs["row"].to_numpy()
    picked = in_window.to_numpy() & (
        np.mod(card_key[row] + pairs["offset"].to_numpy(), 1.0) < CARD_FRAUD_SHARE
    )
    return np.bincount(row[picked], minlength=len(day))


def _compromise_table(params: SimulationParams, events: _Events) -> pd.DataFrame:
    """The compromises as a frame of 1-based ids and UTC periods."""
    start = _midnight(params.start_date)
    parts = [
        (COMPROMISED_TERMINAL, events.terminal_day, events.terminal, TERMINAL_COMPROMISE_DAYS),
        (COMPROMISED_CARD, events.card_day, events.card, CUSTOMER_COMPROMISE_DAYS),
    ]
    frames = [
        pd.DataFrame(
            {
                "fraud_scenario": np.full(len(days), scenario, dtype=np.int64),
                "entity_id": ids.astype(np.int64) + 1,
                "compromised_from": start + pd.to_timedelta(days, unit="D"),
                "compromised_until": start + pd.to_timedelta(days + duration, unit="D"),
            }
        )
        for scenario, days, ids, duration in parts
    ]
    table = pd.concat([_empty_compromises(), *frames], ignore_index=True)
    return table.astype(_empty_compromises().dtypes.to_dict())


def _midnight(day: date) -> pd.Timestamp:
    """Midnight UTC at the start of ``day``."""
    return pd.Timestamp(datetime.combine(day, time(), tzinfo=UTC))


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


def _add_fraud(params: SimulationParams, data: dict[str, np.ndarray], events: _Events) -> None:
    """Apply the three Handbook scenarios in order, the later overriding the earlier."""
    scenario = np.where(data["amount"] > LARGE_AMOUNT_THRESHOLD, LARGE_AMOUNT, GENUINE)
    at_compromised_terminal = _terminal_compromised(params, data["day"], data["terminal"], events)
    scenario = np.where(at_compromised_terminal, COMPROMISED_TERMINAL, scenario)
    picked = _card_fraud_count(data["day"], data["customer"], data["card_key"], events)
    data["amount"] = np.round(data["amount"] * CARD_FRAUD_AMOUNT_FACTOR**picked, 2)
    data["scenario"] = np.where(picked > 0, COMPROMISED_CARD, scenario).astype(np.int64)


def _frames(params: SimulationParams, data: dict[str, np.ndarray], events: _Events) -> Simulation:
    """Number the transactions in order and build the public frames."""
    transaction_id = params.first_transaction_id + np.arange(len(data["day"]), dtype=np.int64)
    tx_datetime = _midnight(params.start_date) + pd.to_timedelta(data["second"], unit="s")
    transactions = pd.DataFrame(
        {
            "transaction_id": transaction_id,
            "tx_datetime": tx_datetime,
            "customer_id": data["customer"].astype(np.int64) + 1,
            "terminal_id": data["terminal"].astype(np.int64) + 1,
            "tx_amount": data["amount"].astype(np.float64),
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
    return Simulation(transactions, labels, truth, _compromise_table(params, events))


def simulate(params: SimulationParams) -> Simulation:
    """Simulate ``n_days`` of transactions from ``start_date``, with fraud and delayed labels."""
    _check(params)
    customers = _customers(params, _terminal_positions(params))
    days = [
        _simulate_day(params, customers, params.start_date + timedelta(days=index))
        for index in range(params.n_days)
    ]
    data = _concatenate(days or [_empty_day()])
    order = np.lexsort((data["customer"], data["second"]))
    data = {name: values[order] for name, values in data.items()}
    events = _compromise_events(params)
    _add_fraud(params, data, events)
    return _frames(params, data, events)


def _iso_utc(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Render a UTC timestamp column as ISO-8601 text, much faster to COPY than pandas' own."""
    values = frame[column].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    text = np.char.add(np.datetime_as_string(values, unit="us"), "Z")
    return frame.assign(**{column: text})


def write_simulation(connection: Connection, simulation: Simulation) -> tuple[int, int]:
    """COPY transactions and labels into ``raw.*`` in the caller's transaction; return counts.

    Labels whose transaction is not in the simulation are left out, so every stored label
    points at a stored transaction.
    """
    transactions = simulation.transactions[TRANSACTION_COLUMNS]
    labels = simulation.labels[LABEL_COLUMNS]
    labels = labels[labels["transaction_id"].isin(transactions["transaction_id"])]
    written_transactions = copy_frame(
        connection, _iso_utc(transactions, "tx_datetime"), "raw.transactions"
    )
    written_labels = copy_frame(connection, _iso_utc(labels, "reported_at"), "raw.fraud_labels")
    return written_transactions, written_labels


def next_transaction_id(connection: Connection) -> int:
    """The id the next simulated transaction should take: one above the largest stored."""
    query = sa.text("select coalesce(max(transaction_id), 0) + 1 from raw.transactions")
    return int(connection.execute(query).scalar_one())
