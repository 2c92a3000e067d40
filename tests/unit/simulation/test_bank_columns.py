"""The simulator's bank columns: in their domains, with the fraud scenarios' tendencies, and
never moving a Handbook draw (the Handbook protocol's numbers stay comparable)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from fraud import payments
from fraud.simulation.bank_columns import (
    ATM_CATEGORY,
    BANK_COUNTRY,
    RATES_PER_EURO,
    REPORTING_CURRENCY,
    home_countries,
)
from fraud.simulation.generate import TRANSACTION_COLUMNS, Simulation, simulate
from fraud.simulation.params import (
    COMPROMISED_CARD,
    COMPROMISED_TERMINAL,
    GENUINE,
    SimulationParams,
)

# The run of tests/unit/simulation/test_simulate.py, and the digest of its four frames as the
# simulator wrote them before it had bank columns (commit befa5be).
SMALL = SimulationParams(
    seed=7, n_customers=50, n_terminals=100, n_days=35, radius=15.0, start_date=date(2026, 3, 1)
)
HANDBOOK_DIGEST = "9296cb1345ccf6b5df1f8249fc1ab6076d9bc0cd855e70bb06b2162d224d0230"
# Big enough for the tendencies to show: about 2,000 payments a day, a few hundred card frauds.
BANK = SimulationParams(seed=3, n_customers=1000, n_terminals=2000, n_days=30)


def _handbook_digest(simulation: Simulation) -> str:
    """SHA-256 of the Handbook's transaction columns, the labels, the truth and the compromises."""
    digest = hashlib.sha256()
    for frame in (
        simulation.transactions[TRANSACTION_COLUMNS],
        simulation.labels,
        simulation.truth,
        simulation.compromises,
    ):
        digest.update(frame.to_csv(index=False).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def bank() -> pd.DataFrame:
    """A month of a small bank, each payment with its scenario and its card's home country."""
    simulation = simulate(BANK)
    frame = simulation.transactions.merge(simulation.truth, on="transaction_id", validate="1:1")
    homes = home_countries(BANK)
    frame["home_country"] = homes[frame["customer_id"].to_numpy() - 1]
    frame["cross_border"] = frame["merchant_country"] != frame["home_country"]
    return frame


@pytest.mark.parametrize("bank_columns", [False, True])
def test_the_handbook_columns_are_the_same_bit_for_bit(bank_columns: bool) -> None:
    simulation = simulate(replace(SMALL, bank_columns=bank_columns))
    assert _handbook_digest(simulation) == HANDBOOK_DIGEST


def test_without_bank_columns_the_frame_is_the_handbooks() -> None:
    columns = list(simulate(replace(SMALL, bank_columns=False)).transactions.columns)
    assert columns == TRANSACTION_COLUMNS == list(payments.HANDBOOK_COLUMNS)


def test_every_value_is_in_the_declared_domains(bank: pd.DataFrame) -> None:
    assert list(bank.columns[: len(payments.TRANSACTION_COLUMNS)]) == list(
        payments.TRANSACTION_COLUMNS
    )
    assert bank[list(payments.BANK_COLUMNS)].notna().all().all()
    assert set(bank["channel"]) == set(payments.CHANNELS)
    assert set(bank["merchant_country"]) <= payments.COUNTRY_CODES
    assert set(bank["currency"]) <= payments.CURRENCY_CODES
    pattern = re.compile(payments.MERCHANT_CATEGORY_PATTERN)
    assert all(pattern.match(code) for code in set(bank["merchant_category"]))


def test_a_payment_in_the_reporting_currency_has_the_same_amount(bank: pd.DataFrame) -> None:
    home = bank[bank["currency"] == REPORTING_CURRENCY]
    assert len(home) > 0.95 * len(bank)
    assert (home["original_amount"] == home["tx_amount"]).all()
    abroad = bank[bank["currency"] != REPORTING_CURRENCY]
    rate = abroad["currency"].map(RATES_PER_EURO)
    assert len(abroad) > 100
    assert np.allclose(abroad["original_amount"], (abroad["tx_amount"] * rate).round(2))


def test_atms_take_atm_payments_only(bank: pd.DataFrame) -> None:
    at_atm = bank["merchant_category"] == ATM_CATEGORY
    assert (bank.loc[at_atm, "channel"] == payments.ATM).all()
    assert (bank.loc[bank["channel"] == payments.ATM, "merchant_category"] == ATM_CATEGORY).all()


def test_card_compromises_are_mostly_online_and_often_abroad(bank: pd.DataFrame) -> None:
    genuine = bank[bank["fraud_scenario"] == GENUINE]
    card = bank[bank["fraud_scenario"] == COMPROMISED_CARD]
    online = {
        name: (frame["channel"] == payments.ECOMMERCE).mean()
        for name, frame in (("genuine", genuine), ("card", card))
    }
    abroad = {
        name: frame["cross_border"].mean() for name, frame in (("genuine", genuine), ("card", card))
    }
    assert len(card) > 200
    # Declared: genuine e-commerce about 20 % (Beta(2, 8)), a card fraud's 70 % off ATMs.
    assert 0.15 < online["genuine"] < 0.25 and 0.6 < online["card"] < 0.75
    assert abroad["card"] > 3 * abroad["genuine"]
    assert not card["channel"].eq(payments.CONTACTLESS).any()


def test_compromised_terminals_are_skimmed_in_person(bank: pd.DataFrame) -> None:
    terminal = bank[bank["fraud_scenario"] == COMPROMISED_TERMINAL]
    assert len(terminal) > 50
    assert set(terminal["channel"]) <= {payments.CARD_PRESENT, payments.ATM}
    # In person, so at the terminal's own merchant: one category and country per terminal.
    merchants = bank[bank["channel"] != payments.ECOMMERCE].groupby("terminal_id")
    assert (merchants["merchant_category"].nunique() == 1).all()
    assert (merchants["merchant_country"].nunique() == 1).all()


def test_most_cards_live_in_the_banks_country(bank: pd.DataFrame) -> None:
    homes = pd.Series(home_countries(BANK))
    assert 0.93 < (homes == BANK_COUNTRY).mean() < 0.99
