"""What shapes a simulated bank: its parameters, the random streams and the scenarios' constants.

The design follows the "Transaction data simulator" chapter of *Reproducible Machine
Learning for Credit Card Fraud Detection - Practical Handbook*: customers and terminals on a
100x100 grid, each customer paying at terminals within ``radius``, and three fraud
scenarios (amounts above 220; compromised terminals for 28 days; compromised cards for
14 days with 1/3 of their payments multiplied by 5). Two extensions serve the pipeline:
labels arrive after a random delay, and drift can be injected from a given date on. A third adds
the columns of a bank's feed (:mod:`fraud.simulation.bank_columns`), which never move the others.

Every random draw comes from a generator seeded by ``(seed, stream, date)``, so a day's
transactions depend only on the seed and that day: changing the drift, the labels or the
length of the run never changes the days it does not touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from fraud.dates import midnight

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
CUSTOMER_STREAM, TERMINAL_STREAM, TRANSACTION_STREAM, COMPROMISE_STREAM, LABEL_STREAM = range(5)


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
    # Added to every customer, terminal and transaction id: 10**12 puts them in a range no
    # ordinary number reaches, so a test can search any output for a raw id.
    id_base: int = 0
    # The bank's columns (channel, merchant category and country, currency, original amount),
    # drawn from streams of their own: off, the transactions are the Handbook's five columns, and
    # on or off, those five, the labels and the truth are the same bit for bit.
    bank_columns: bool = True


def check(params: SimulationParams) -> None:
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
    if params.id_base < 0:
        raise ValueError("id_base must not be negative")


def random_stream(
    params: SimulationParams, stream: int, day: date | None = None
) -> np.random.Generator:
    """The generator of one stream, and of one calendar day when given."""
    key = (params.seed, stream) if day is None else (params.seed, stream, day.toordinal())
    return np.random.default_rng(key)


def day_start(day: date) -> pd.Timestamp:
    """Midnight UTC at the start of ``day``, as pandas arithmetic wants it."""
    return pd.Timestamp(midnight(day))
