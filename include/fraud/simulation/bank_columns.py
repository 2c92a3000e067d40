"""The bank columns of simulated payments: channel, merchant category and country, currency.

The Handbook's simulator has none; a bank's feed has all of them (:mod:`fraud.payments`). Each
customer gets a home country and channel habits, each terminal a merchant category and a
country, and each payment a channel and a merchant, with the fraud scenarios' tendencies: card
compromises are mostly e-commerce and often abroad, in the categories fraudsters resell;
compromised terminals are skimmed in person; large amounts are as the Handbook draws them.

Every draw here comes from streams of their own (``BANK_*_STREAM``), made after the Handbook's
columns are complete, so switching the bank columns on or off never moves a Handbook draw. An
e-commerce payment at a remote merchant keeps the terminal id the Handbook drew for it; its
merchant columns describe the remote merchant. ``docs/simulator.md`` gives the numbers below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from fraud.payments import ATM, CARD_PRESENT, CONTACTLESS, ECOMMERCE
from fraud.simulation.params import (
    COMPROMISED_CARD,
    COMPROMISED_TERMINAL,
    SimulationParams,
    random_stream,
)

BANK_CUSTOMER_STREAM, BANK_TERMINAL_STREAM, BANK_PAYMENT_STREAM = 5, 6, 7

BANK_COUNTRY, REPORTING_CURRENCY = "BE", "EUR"
ATM_CATEGORY = "6011"
ATM_TERMINAL_FRACTION = 0.05

# Weights of each draw: (value, weight) pairs that sum to 1.
HOME_COUNTRIES = (("BE", 0.96), ("FR", 0.015), ("NL", 0.015), ("DE", 0.01))
TERMINAL_COUNTRIES = (("BE", 0.94), ("FR", 0.02), ("NL", 0.02), ("DE", 0.01), ("LU", 0.01))
TERMINAL_CATEGORIES = (
    ("5411", 0.30),  # grocery stores
    ("5812", 0.15),  # restaurants
    ("5541", 0.10),  # service stations
    ("5912", 0.08),  # pharmacies
    ("5651", 0.08),  # clothing
    ("5999", 0.08),  # miscellaneous retail
    ("5311", 0.07),  # department stores
    ("4111", 0.06),  # local transport
    ("5732", 0.04),  # electronics
    ("7011", 0.04),  # hotels
)
# Genuine e-commerce at a remote merchant, and where that merchant is.
REMOTE_GENUINE_FRACTION = 0.30
REMOTE_GENUINE_COUNTRIES = (
    ("BE", 0.40), ("NL", 0.15), ("DE", 0.10), ("FR", 0.10), ("LU", 0.05), ("IE", 0.05),
    ("GB", 0.08), ("US", 0.07),
)  # fmt: skip
REMOTE_GENUINE_CATEGORIES = (
    ("5999", 0.30), ("5651", 0.20), ("5732", 0.15), ("4722", 0.15), ("5815", 0.20),
)  # fmt: skip
# Card compromises: how often card-not-present, and the remote merchants fraudsters use.
CARD_FRAUD_ECOMMERCE_FRACTION = 0.70
CARD_FRAUD_COUNTRIES = (
    ("BE", 0.30), ("GB", 0.15), ("US", 0.20), ("CN", 0.10), ("NL", 0.05), ("RO", 0.10),
    ("TR", 0.10),
)  # fmt: skip
CARD_FRAUD_CATEGORIES = (
    ("5732", 0.30),  # electronics
    ("5815", 0.25),  # digital goods
    ("4829", 0.20),  # money transfer
    ("7995", 0.15),  # betting
    ("5944", 0.10),  # jewellery
)
# Each country's currency, and a fixed rate: units of that currency per euro.
COUNTRY_CURRENCIES = {
    "BE": "EUR", "FR": "EUR", "NL": "EUR", "DE": "EUR", "LU": "EUR", "IE": "EUR",
    "GB": "GBP", "US": "USD", "CN": "CNY", "RO": "RON", "TR": "TRY",
}  # fmt: skip
RATES_PER_EURO = {"EUR": 1.0, "GBP": 0.85, "USD": 1.10, "CNY": 7.80, "RON": 4.97, "TRY": 35.0}
# Beta(a, b) of each customer's share of contactless (at a terminal) and of e-commerce payments.
CONTACTLESS_HABIT = (4.0, 2.0)
ECOMMERCE_HABIT = (2.0, 8.0)

# The uniforms each payment draws: channel, contactless, remote or not, country, category.
_DRAWS = 5


@dataclass(frozen=True)
class _Profiles:
    """Customers' habits and terminals' merchants, by 0-based id."""

    contactless_share: np.ndarray
    ecommerce_share: np.ndarray
    terminal_category: np.ndarray
    terminal_country: np.ndarray


def _pick(weights: tuple[tuple[str, float], ...], uniform: np.ndarray) -> np.ndarray:
    """The value whose cumulative weight a uniform falls under, for each uniform."""
    values = np.array([value for value, _ in weights], dtype=object)
    edges = np.cumsum([weight for _, weight in weights])
    return values[
        np.minimum(np.searchsorted(edges / edges[-1], uniform, side="right"), len(values) - 1)
    ]


def home_countries(params: SimulationParams) -> np.ndarray:
    """Each customer's home country (the first draw of the customers' bank stream)."""
    rng = random_stream(params, BANK_CUSTOMER_STREAM)
    return _pick(HOME_COUNTRIES, rng.random(params.n_customers))


def _profiles(params: SimulationParams) -> _Profiles:
    """Draw the customers' channel habits and the terminals' categories and countries."""
    customers = random_stream(params, BANK_CUSTOMER_STREAM)
    customers.random(params.n_customers)  # the home countries, drawn first
    contactless = customers.beta(*CONTACTLESS_HABIT, params.n_customers)
    ecommerce = customers.beta(*ECOMMERCE_HABIT, params.n_customers)
    terminals = random_stream(params, BANK_TERMINAL_STREAM)
    is_atm = terminals.random(params.n_terminals) < ATM_TERMINAL_FRACTION
    category = _pick(TERMINAL_CATEGORIES, terminals.random(params.n_terminals))
    category[is_atm] = ATM_CATEGORY
    country = _pick(TERMINAL_COUNTRIES, terminals.random(params.n_terminals))
    return _Profiles(contactless, ecommerce, category, country)


def _uniforms(params: SimulationParams, day: np.ndarray) -> np.ndarray:
    """One row of uniforms per payment, each day's from that day's generator."""
    counts = np.bincount(day, minlength=params.n_days) if day.size else np.zeros(0, np.int64)
    parts = [
        random_stream(
            params, BANK_PAYMENT_STREAM, params.start_date + timedelta(days=index)
        ).random((int(count), _DRAWS))
        for index, count in enumerate(counts)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, _DRAWS))


def bank_columns(params: SimulationParams, data: dict[str, np.ndarray]) -> dict[str, pd.Series]:
    """The bank columns of every payment of a finished simulation (rows in time order)."""
    profiles = _profiles(params)
    customer, terminal, scenario = data["customer"], data["terminal"], data["scenario"]
    draw = _uniforms(params, data["day"])
    at_atm = profiles.terminal_category[terminal] == ATM_CATEGORY
    card_fraud = scenario == COMPROMISED_CARD
    # A compromised terminal's fraud is made in person at that terminal: never online.
    ecommerce_share = np.select(
        [card_fraud, scenario == COMPROMISED_TERMINAL],
        [CARD_FRAUD_ECOMMERCE_FRACTION, 0.0],
        profiles.ecommerce_share[customer],
    )
    online = ~at_atm & (draw[:, 0] < ecommerce_share)
    tapped = draw[:, 1] < profiles.contactless_share[customer]
    # Fraudsters skim and clone: a compromised terminal's fraud, and a card fraud in person,
    # are chip or stripe payments, never a tap.
    tapped &= ~card_fraud & (scenario != COMPROMISED_TERMINAL)
    channel = np.where(
        at_atm, ATM, np.where(online, ECOMMERCE, np.where(tapped, CONTACTLESS, CARD_PRESENT))
    )
    remote = online & (card_fraud | (draw[:, 2] < REMOTE_GENUINE_FRACTION))
    country = profiles.terminal_country[terminal].copy()
    category = profiles.terminal_category[terminal].copy()
    genuine_remote, fraud_remote = remote & ~card_fraud, remote & card_fraud
    country[genuine_remote] = _pick(REMOTE_GENUINE_COUNTRIES, draw[genuine_remote, 3])
    category[genuine_remote] = _pick(REMOTE_GENUINE_CATEGORIES, draw[genuine_remote, 4])
    country[fraud_remote] = _pick(CARD_FRAUD_COUNTRIES, draw[fraud_remote, 3])
    category[fraud_remote] = _pick(CARD_FRAUD_CATEGORIES, draw[fraud_remote, 4])
    currency = np.array([COUNTRY_CURRENCIES[code] for code in country], dtype=object)
    rate = np.array([RATES_PER_EURO[code] for code in currency], dtype=np.float64)
    return {
        "channel": pd.Series(channel.astype(object), dtype="object"),
        "merchant_category": pd.Series(category, dtype="object"),
        "merchant_country": pd.Series(country, dtype="object"),
        "currency": pd.Series(currency, dtype="object"),
        "original_amount": pd.Series(np.round(data["amount"] * rate, 2), dtype="float64"),
    }
