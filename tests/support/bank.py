"""Test support: a small simulated bank written into a warehouse, as the integration tests need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine

from fraud.simulation.generate import Simulation, simulate
from fraud.simulation.params import SimulationParams
from fraud.simulation.warehouse import write_simulation


@dataclass(frozen=True)
class Bank:
    """A warehouse's engine and the simulated bank written into it."""

    engine: Engine
    simulation: Simulation


def simulated_bank(
    engine: Engine,
    *,
    seed: int,
    customers: int,
    first_day: date,
    days: int,
    bank_columns: bool = True,
) -> Simulation:
    """Simulate ``days`` days from ``first_day`` of a bank with ``customers`` customers and twice
    as many terminals, write its transactions and labels into the warehouse, return it.
    ``bank_columns=False`` writes the Handbook's five columns only (a warehouse older than V050)."""
    simulation = simulate(
        SimulationParams(
            seed=seed,
            n_customers=customers,
            n_terminals=2 * customers,
            start_date=first_day,
            n_days=days,
            bank_columns=bank_columns,
        )
    )
    with engine.begin() as connection:
        write_simulation(connection, simulation)
    return simulation
