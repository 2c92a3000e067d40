"""The Handbook's three fraud scenarios: large amounts, compromised terminals, compromised cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from fraud.simulation.params import (
    CARD_FRAUD_AMOUNT_FACTOR,
    CARD_FRAUD_SHARE,
    COMPROMISE_STREAM,
    COMPROMISED_CARD,
    COMPROMISED_TERMINAL,
    CUSTOMER_COMPROMISE_DAYS,
    CUSTOMERS_COMPROMISED_PER_DAY,
    GENUINE,
    LARGE_AMOUNT,
    LARGE_AMOUNT_THRESHOLD,
    TERMINAL_COMPROMISE_DAYS,
    TERMINALS_COMPROMISED_PER_DAY,
    SimulationParams,
    day_start,
    random_stream,
)


def empty_compromises() -> pd.DataFrame:
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
class Events:
    """Compromise starts as day indexes and 0-based ids; each card has a random offset."""

    terminal_day: np.ndarray
    terminal: np.ndarray
    card_day: np.ndarray
    card: np.ndarray
    card_offset: np.ndarray


def compromise_events(params: SimulationParams) -> Events:
    """Draw, for each simulated day, the terminals and the cards compromised that day."""
    terminal_day, terminal, card_day, card, offset = [], [], [], [], []
    n_terminals = min(TERMINALS_COMPROMISED_PER_DAY, params.n_terminals)
    n_cards = min(CUSTOMERS_COMPROMISED_PER_DAY, params.n_customers)
    for index in range(params.n_days):
        rng = random_stream(params, COMPROMISE_STREAM, params.start_date + timedelta(days=index))
        terminal.append(rng.choice(params.n_terminals, n_terminals, replace=False))
        card.append(rng.choice(params.n_customers, n_cards, replace=False))
        offset.append(rng.random(n_cards))
        terminal_day.append(np.full(n_terminals, index))
        card_day.append(np.full(n_cards, index))

    def ids(part: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(part).astype(np.int64) if part else np.zeros(0, np.int64)

    return Events(
        terminal_day=ids(terminal_day),
        terminal=ids(terminal),
        card_day=ids(card_day),
        card=ids(card),
        card_offset=np.concatenate(offset) if offset else np.zeros(0),
    )


def _terminal_compromised(
    params: SimulationParams, day: np.ndarray, terminal: np.ndarray, events: Events
) -> np.ndarray:
    """Whether each transaction's terminal was compromised in the previous 28 days."""
    event_day, event_terminal = events.terminal_day, events.terminal
    active = np.zeros((params.n_days + 1, params.n_terminals), dtype=np.int32)
    np.add.at(active, (event_day, event_terminal), 1)
    end = np.minimum(event_day + TERMINAL_COMPROMISE_DAYS, params.n_days)
    np.add.at(active, (end, event_terminal), -1)
    return np.cumsum(active, axis=0)[day, terminal] > 0


def _card_fraud_count(
    day: np.ndarray, customer: np.ndarray, card_key: np.ndarray, events: Events
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


def compromise_table(params: SimulationParams, events: Events) -> pd.DataFrame:
    """The compromises as a frame of ids (1-based, plus the id base) and UTC periods."""
    start = day_start(params.start_date)
    parts = [
        (COMPROMISED_TERMINAL, events.terminal_day, events.terminal, TERMINAL_COMPROMISE_DAYS),
        (COMPROMISED_CARD, events.card_day, events.card, CUSTOMER_COMPROMISE_DAYS),
    ]
    frames = [
        pd.DataFrame(
            {
                "fraud_scenario": np.full(len(days), scenario, dtype=np.int64),
                "entity_id": ids.astype(np.int64) + 1 + params.id_base,
                "compromised_from": start + pd.to_timedelta(days, unit="D"),
                "compromised_until": start + pd.to_timedelta(days + duration, unit="D"),
            }
        )
        for scenario, days, ids, duration in parts
    ]
    table = pd.concat([empty_compromises(), *frames], ignore_index=True)
    return table.astype(empty_compromises().dtypes.to_dict())


def add_fraud(params: SimulationParams, data: dict[str, np.ndarray], events: Events) -> None:
    """Apply the three Handbook scenarios in order, the later overriding the earlier."""
    scenario = np.where(data["amount"] > LARGE_AMOUNT_THRESHOLD, LARGE_AMOUNT, GENUINE)
    at_compromised_terminal = _terminal_compromised(params, data["day"], data["terminal"], events)
    scenario = np.where(at_compromised_terminal, COMPROMISED_TERMINAL, scenario)
    picked = _card_fraud_count(data["day"], data["customer"], data["card_key"], events)
    data["amount"] = np.round(data["amount"] * CARD_FRAUD_AMOUNT_FACTOR**picked, 2)
    data["scenario"] = np.where(picked > 0, COMPROMISED_CARD, scenario).astype(np.int64)
