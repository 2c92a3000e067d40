"""The review cool-down: a card reviewed recently is not alerted again without new evidence.

Two nights are scored; a card of the second night's top k gets a verdict on a payment of the
first night, and the second night's top k is marked again. Only the top k is a matter of the
cool-down: the threshold is set above every score here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import lightgbm as lgb
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.dates import day_interval
from fraud.db import create_warehouse_engine
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.frames import History
from fraud.features.nightly import build_share_features
from fraud.model.alert_policy import AlertPolicy
from fraud.model.registry import RegisteredModel
from fraud.model.train import labelled_features
from fraud.scoring.score import mark_top_k, score_day
from fraud.shares import WHOLE
from fraud.tasks import validate_batch
from tests.support.bank import simulated_bank

pytestmark = pytest.mark.integration

FIRST_DAY = date(2031, 6, 1)
DAYS = 12
NIGHT = FIRST_DAY + timedelta(days=DAYS - 1)
TOP_K = 25
POLICY = AlertPolicy(capacity=TOP_K)
COOLDOWN_DAYS = 7


@dataclass(frozen=True)
class Nights:
    """Two scored nights, a card of the second one's top k and its payment of the first."""

    engine: Engine
    model: RegisteredModel
    start: datetime
    end: datetime
    card: int
    reviewed_payment: int
    paid_at: datetime


def _interval(day: date) -> tuple[datetime, datetime]:
    return day_interval(day.isoformat())


@pytest.fixture(scope="module")
def nights(warehouse_url: str) -> Iterator[Nights]:
    engine = create_warehouse_engine(warehouse_url)
    simulation = simulated_bank(engine, seed=23, customers=300, first_day=FIRST_DAY, days=DAYS)
    for offset in range(DAYS):
        validate_batch(*_interval(FIRST_DAY + timedelta(days=offset)), f"test__{offset}")
    start, end = _interval(NIGHT)
    history = History(simulation.transactions, simulation.labels)
    training = labelled_features(history, start - timedelta(days=8), start - timedelta(days=3), 3)
    names = list(FEATURE_COLUMNS)
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(training[names], training["is_fraud"]), 30)
    model = RegisteredModel("cooldown-test", 3, "run", booster)
    for day in (NIGHT - timedelta(days=1), NIGHT):
        day_start, day_end = _interval(day)
        build_share_features(
            engine,
            interval_start=day_start,
            interval_end=day_end,
            run_id="test__features",
            label_delay_days=3,
            share=WHOLE,
            chunk_rows=100_000,
        )
        score_day(
            engine,
            model,
            interval_start=day_start,
            interval_end=day_end,
            run_id="test__score",
            policy=POLICY,
        )
    with engine.connect() as connection:
        card = connection.execute(
            sa.text(
                "select tonight.customer_id"
                " from scoring.transaction_scores as tonight"
                " join scoring.transaction_scores as before using (customer_id)"
                " where tonight.is_alert and tonight.tx_datetime >= :start"
                "   and before.tx_datetime >= :start - interval '1 day'"
                "   and before.tx_datetime < :start"
                " group by tonight.customer_id order by max(tonight.score) desc limit 1"
            ),
            {"start": start},
        ).scalar_one()
        # The card's first payment of the night before is the one reviewed.
        payment, paid_at = connection.execute(
            sa.text(
                "select transaction_id, tx_datetime from scoring.transaction_scores"
                " where customer_id = :card and tx_datetime >= :start - interval '1 day'"
                "   and tx_datetime < :start order by tx_datetime limit 1"
            ),
            {"card": card, "start": start},
        ).one()
    yield Nights(engine, model, start, end, int(card), int(payment), paid_at)
    engine.dispose()


def _alerted_cards(nights: Nights, cooldown_days: int) -> tuple[set[int], int]:
    """The cards among the night's alerts once its top k is marked again, and the alerts."""
    with nights.engine.begin() as connection:
        alerts = mark_top_k(
            connection,
            nights.model,
            interval_start=nights.start,
            interval_end=nights.end,
            policy=POLICY,
            review_cooldown_days=cooldown_days,
        )
        cards = connection.execute(
            sa.text(
                "select distinct s.customer_id from scoring.transaction_scores as s"
                " join scoring.scored_day as d on d.tx_date = :night and d.generation = s.generation"
                " where s.tx_datetime >= :start and s.tx_datetime < :end and s.is_alert"
            ),
            {"night": NIGHT, "start": nights.start, "end": nights.end},
        ).scalars()
        return {int(card) for card in cards}, alerts


Moment = float | None
Verdicts = list[tuple[str, Moment, Moment]]


def _moment(nights: Nights, hours: Moment) -> datetime:
    """Hours after the night began, or (None) a second after the reviewed payment."""
    if hours is None:
        return nights.paid_at + timedelta(seconds=1)
    return nights.start + timedelta(hours=hours)


def _review(nights: Nights, verdicts: Verdicts, reviewed_score: float) -> None:
    """Replace every verdict with ``verdicts`` on the reviewed payment, (outcome, when it was
    decided, when recorded), and give that payment ``reviewed_score``."""
    with nights.engine.begin() as connection:
        connection.execute(sa.text("truncate cases.alert_outcomes"))
        for outcome, decided_hours, recorded_hours in verdicts:
            connection.execute(
                sa.text(
                    "insert into cases.alert_outcomes (transaction_id, outcome, decided_by,"
                    " decided_at, recorded_at) values (:id, :outcome, 'ana', :decided, :recorded)"
                ),
                {
                    "id": nights.reviewed_payment,
                    "outcome": outcome,
                    "decided": _moment(nights, decided_hours),
                    "recorded": _moment(nights, recorded_hours),
                },
            )
        connection.execute(
            sa.text(
                "update scoring.transaction_scores set score = :score where transaction_id = :id"
            ),
            {"score": reviewed_score, "id": nights.reviewed_payment},
        )


GENUINE, FRAUD, UNREACHABLE = "genuine_confirmed", "fraud_confirmed", "unreachable"


@pytest.mark.parametrize(
    ("verdicts", "reviewed_score", "cooldown_days", "alerted"),
    [
        # No verdict: the card is in the top k, as without the cool-down.
        ([], 1.0, COOLDOWN_DAYS, True),
        # Found genuine this morning, nothing tonight above what was reviewed: left out.
        ([(GENUINE, 9, 9)], 1.0, COOLDOWN_DAYS, False),
        # ... unless the cool-down is off,
        ([(GENUINE, 9, 9)], 1.0, 0, True),
        # ... or a payment tonight scores higher than every reviewed one: new evidence.
        ([(GENUINE, 9, 9)], 0.0, COOLDOWN_DAYS, True),
        # Reviewed longer ago than the cool-down (a day: the night before): back in the queue.
        ([(GENUINE, None, None)], 1.0, 1, True),
        ([(GENUINE, 9, 9)], 1.0, 1, False),
        # Decided this morning but recorded after the night's end: unknown to the night.
        ([(GENUINE, 9, 30)], 1.0, COOLDOWN_DAYS, True),
        # A fraud verdict: the card is compromised, left to the known-card rule.
        ([(FRAUD, 9, 9), (GENUINE, 9.5, 9.5)], 1.0, COOLDOWN_DAYS, True),
        # Unreachable: back in the queue once, cooled down from its second day of review.
        ([(UNREACHABLE, 9, 9)], 1.0, COOLDOWN_DAYS, True),
        ([(UNREACHABLE, None, None), (UNREACHABLE, 9, 9)], 1.0, COOLDOWN_DAYS, False),
    ],
)
def test_a_card_reviewed_recently_is_left_out_of_the_top_k_without_new_evidence(
    nights: Nights,
    verdicts: Verdicts,
    reviewed_score: float,
    cooldown_days: int,
    alerted: bool,
) -> None:
    _review(nights, verdicts, reviewed_score)
    cards, alerts = _alerted_cards(nights, cooldown_days)
    assert (nights.card in cards) is alerted
    # The budget stays whole: another card takes the place of the one left out.
    assert len(cards) == TOP_K
    assert alerts >= TOP_K
