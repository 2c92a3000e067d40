"""CP@100 leaves out known cards in the promotion gate and the nightly monitoring, as the
evaluation protocol does.

A card is known on a day when a fraud on one of its payments of the last 30 days was reported
before the day began. The gate's validation frame is read from a small simulated bank and its
``card_known`` compared with the protocol's :func:`fraud.model.protocol.known_card_mask`; the
monitoring measures a hand-built day, a year after the bank, whose cards are known or not by
construction. A fraud found by an investigator makes a card known from the verdict's known_at,
as a report does, while the stored figures stay those of the reported labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from fraud.config import load_settings
from fraud.dates import midnight
from fraud.db import create_warehouse_engine
from fraud.model.challenger import build_datasets
from fraud.model.metrics import KNOWN_CARD_LOOKBACK_DAYS
from fraud.model.protocol import known_card_mask
from fraud.model.train import windows_before
from fraud.monitoring.performance import PerformanceConfig, nightly_performance
from tests.support.bank import Bank, simulated_bank

pytestmark = pytest.mark.integration

FIRST_DAY = date(2031, 3, 1)
DAYS = 50
# The measured day, far from the simulated bank's.
DAY = date(2032, 6, 10)
MATURITY = 7


@pytest.fixture(scope="module")
def bank(warehouse_url: str) -> Iterator[Bank]:
    engine = create_warehouse_engine(warehouse_url)
    simulation = simulated_bank(engine, seed=11, customers=250, first_day=FIRST_DAY, days=DAYS)
    yield Bank(engine, simulation)
    engine.dispose()


def test_the_gate_marks_the_cards_the_protocol_drops(bank: Bank) -> None:
    settings = load_settings()
    cutoff = midnight(FIRST_DAY + timedelta(days=DAYS))
    windows = windows_before(
        cutoff,
        train_days=settings.train_days,
        validation_days=settings.validation_days,
        label_delay_days=settings.label_delay_days,
    )
    validation = build_datasets(bank.engine, settings, windows).validation
    labels = bank.simulation.labels
    expected = known_card_mask(
        validation,
        bank.simulation.transactions,
        labels[labels["reported_at"] < cutoff],
        windows.validation_start - timedelta(days=KNOWN_CARD_LOOKBACK_DAYS),
    )
    assert validation["card_known"].tolist() == expected.tolist()
    assert 0 < expected.sum() < len(expected)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)


# (transaction id, card, time, score on DAY or None for an earlier payment, fraud reported at)
PAYMENTS = [
    # Card 1: a fraud the day before, reported that evening: known when DAY begins.
    (-1, 1001, _at(DAY, -14), None, _at(DAY, -4)),
    (-2, 1001, _at(DAY, 9), 0.9, _at(DAY, 30)),
    # Card 2: a fraud the day before, reported the next morning: not known when DAY begins.
    (-3, 1002, _at(DAY, -14), None, _at(DAY, 8)),
    (-4, 1002, _at(DAY, 10), 0.8, _at(DAY, 30)),
    # Card 3: a fraud reported before DAY, on a payment older than the lookback.
    (-5, 1003, _at(DAY - timedelta(days=40), 12), None, _at(DAY - timedelta(days=35), 0)),
    (-6, 1003, _at(DAY, 11), 0.7, _at(DAY, 30)),
    # Cards 4 to 8: genuine, scored lower.
    *[(-10 - card, 1004 + card, _at(DAY, 12), 0.1 + card / 100, None) for card in range(5)],
]


def _write_payments(connection: sa.Connection, day: date, payments: list, model_name: str) -> None:
    """The payments of ``day`` and the days before it, their fraud reports, and the scores of
    ``day`` (a payment with a score), as the nightly steps would have left them."""
    connection.execute(sa.text("select staging.ensure_day_partitions(:day)"), {"day": day})
    connection.execute(
        sa.text(
            "insert into raw.transactions (transaction_id, tx_datetime, customer_id,"
            " terminal_id, tx_amount) values (:id, :at, :card, 7, 20)"
        ),
        [{"id": id_, "at": at, "card": card} for id_, card, at, _, _ in payments],
    )
    connection.execute(
        sa.text(
            "insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)"
            " values (:id, true, :reported)"
        ),
        [{"id": id_, "reported": reported} for id_, _, _, _, reported in payments if reported],
    )
    connection.execute(
        sa.text(
            "insert into scoring.transaction_scores (transaction_id, tx_datetime,"
            " customer_id, terminal_id, tx_amount, score, model_name, model_version,"
            " is_alert, run_id) values (:id, :at, :card, 7, 20, :score, :model_name, 1,"
            " false, 'known_cards_test')"
        ),
        [
            {"id": id_, "at": at, "card": card, "score": score, "model_name": model_name}
            for id_, card, at, score, _ in payments
            if score is not None
        ],
    )


def _measured(bank: Bank, day: date, columns: str) -> sa.Row:
    """Measure ``day`` as the night ``MATURITY`` days later does; its stored row's ``columns``."""
    night = midnight(day + timedelta(days=MATURITY))
    nightly_performance(
        bank.engine,
        PerformanceConfig.of(load_settings()),
        interval_start=night,
        interval_end=night + timedelta(days=1),
    )
    with bank.engine.connect() as connection:
        return connection.execute(
            sa.text(
                f"select {columns} from monitoring.model_performance"
                " where date = :day and maturity_days = :maturity"
            ),
            {"day": day, "maturity": MATURITY},
        ).one()


def test_monitoring_leaves_known_cards_out_of_the_stored_card_precision(bank: Bank) -> None:
    with bank.engine.begin() as connection:
        _write_payments(connection, DAY, PAYMENTS, load_settings().model_name)
    row = _measured(bank, DAY, "frauds_known, average_precision, card_precision_at_100")
    # Cards 2 and 3 are found; card 1's payment still counts as a fraud for the other metrics.
    assert row.card_precision_at_100 == pytest.approx(2 / 100)
    assert row.frauds_known == 3
    assert row.average_precision == pytest.approx(1.0)


# A day after the first one's lookback, with cards of their own.
VERDICT_DAY = DAY + timedelta(days=60)
# (transaction id, card, time, score on VERDICT_DAY or None for an earlier payment, reported at)
VERDICT_PAYMENTS = [
    # Each scored payment is a fraud, reported later. Card 2001: a fraud verdict the evening
    # before, on an earlier payment: known.
    (-101, 2001, _at(VERDICT_DAY, -14), None, None),
    (-102, 2001, _at(VERDICT_DAY, 9), 0.9, _at(VERDICT_DAY, 30)),
    # Card 2002: decided the evening before, recorded in the morning: not known when the day began.
    (-103, 2002, _at(VERDICT_DAY, -14), None, None),
    (-104, 2002, _at(VERDICT_DAY, 10), 0.8, _at(VERDICT_DAY, 30)),
    # Card 2003: a fraud verdict corrected to genuine before the day: not known.
    (-105, 2003, _at(VERDICT_DAY, -14), None, None),
    (-106, 2003, _at(VERDICT_DAY, 11), 0.7, _at(VERDICT_DAY, 30)),
    *[
        (-110 - card, 2004 + card, _at(VERDICT_DAY, 12), 0.1 + card / 100, None)
        for card in range(5)
    ],
]
# (transaction id, outcome, decided at, recorded at)
VERDICTS = [
    (-101, "fraud_confirmed", _at(VERDICT_DAY, -4), _at(VERDICT_DAY, -4)),
    (-103, "fraud_confirmed", _at(VERDICT_DAY, -4), _at(VERDICT_DAY, 8)),
    (-105, "fraud_confirmed", _at(VERDICT_DAY, -4), _at(VERDICT_DAY, -4)),
    (-105, "genuine_confirmed", _at(VERDICT_DAY, -2), _at(VERDICT_DAY, -2)),
]


def test_a_card_with_a_fraud_verdict_known_before_the_day_is_known(bank: Bank) -> None:
    with bank.engine.begin() as connection:
        _write_payments(connection, VERDICT_DAY, VERDICT_PAYMENTS, load_settings().model_name)
        connection.execute(
            sa.text(
                "insert into cases.alert_outcomes (transaction_id, outcome, decided_by,"
                " decided_at, recorded_at) values (:id, :outcome, 'ana', :decided, :recorded)"
            ),
            [
                {"id": id_, "outcome": outcome, "decided": decided, "recorded": recorded}
                for id_, outcome, decided, recorded in VERDICTS
            ],
        )
    row = _measured(bank, VERDICT_DAY, "frauds_known, card_precision_at_100, label_source")
    # Card 2001 is left out as known; cards 2002 and 2003 are found. The figures themselves count
    # reported frauds only, and say so.
    assert row.card_precision_at_100 == pytest.approx(2 / 100)
    assert row.frauds_known == 3
    assert row.label_source == "reported"


# A day of its own for the money of the alerts; every payment is 20.
MONEY_DAY = DAY + timedelta(days=120)
FIRST_REPORT = _at(MONEY_DAY, 44)  # card 3001's first report: the evening after the night
MONEY_PAYMENTS = [
    # Card 3001, alerted: a fraud that night (detected), one the next morning before the review
    # at 10:00 (not prevented), one after it (prevented), one after its first report (stopped by
    # the known-card rule, not by the alert).
    (-201, 3001, _at(MONEY_DAY, 9), 0.9, FIRST_REPORT),
    (-202, 3001, _at(MONEY_DAY, 29), None, FIRST_REPORT),
    (-203, 3001, _at(MONEY_DAY, 36), None, FIRST_REPORT),
    (-204, 3001, _at(MONEY_DAY, 84), None, _at(MONEY_DAY, 90)),
    # Card 3002, alerted and genuine; card 3003 a fraud not alerted (missed).
    (-205, 3002, _at(MONEY_DAY, 10), 0.8, None),
    (-206, 3003, _at(MONEY_DAY, 11), 0.7, _at(MONEY_DAY, 30)),
]


def test_monitoring_stores_the_money_of_the_alerts(bank: Bank) -> None:
    with bank.engine.begin() as connection:
        _write_payments(connection, MONEY_DAY, MONEY_PAYMENTS, load_settings().model_name)
        connection.execute(
            sa.text(
                "update scoring.transaction_scores set is_alert = true"
                " where transaction_id in (-201, -205)"
            )
        )
    row = _measured(
        bank,
        MONEY_DAY,
        "alerted_cards, alerted_cards_fraud, detected_amount, prevented_amount, missed_amount,"
        " genuine_amount_alerted, value_detection_rate",
    )
    assert tuple(row) == (2, 1, 20, 20, 20, 20, pytest.approx(0.5))
    with bank.engine.connect() as connection:
        matured = connection.execute(
            sa.text(
                "select fraud_amount, prevented_amount from analytics.model_performance_matured"
                " where tx_date = :day and maturity_days = :maturity"
            ),
            {"day": MONEY_DAY, "maturity": MATURITY},
        ).one()
    assert tuple(matured) == (40, 20)
