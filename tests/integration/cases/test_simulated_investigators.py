"""The simulated investigators against a real warehouse: the queue, the capacity, the retry."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.dates import day_interval
from fraud.simulation.investigators import InvestigatorParams, review_morning

pytestmark = pytest.mark.integration

NIGHT = date(2026, 4, 1)
FIRST_ID = 2_000_000_000_000
# card: (top score, payments, frauds among them)
CARDS = {11: (0.95, 3, 2), 12: (0.90, 2, 0), 13: (0.40, 2, 1), 14: (0.10, 1, 0)}
# A perfect team with room for two cards, nine hours after the night.
FIRST_MORNING = InvestigatorParams(
    capacity=2, delay_hours=9, unreachable_fraud=0, unreachable_genuine=0, error_rate=0
)


@pytest.fixture(scope="module")
def night(engine: Engine) -> dict[int, list[int]]:
    """Four alerted cards on NIGHT and their payments, scored and with their true labels."""
    start, _ = day_interval(NIGHT)
    payments: dict[int, list[int]] = {}
    next_id = FIRST_ID
    with engine.begin() as connection:
        connection.execute(sa.text("select staging.ensure_day_partitions(:day)"), {"day": NIGHT})
        for card, (score, count, frauds) in CARDS.items():
            for index in range(count):
                at = start + timedelta(hours=card - 10, minutes=index)
                values = {"id": next_id, "at": at, "card": card, "score": score - index / 100}
                connection.execute(
                    sa.text(
                        "insert into raw.transactions (transaction_id, tx_datetime, customer_id,"
                        " terminal_id, tx_amount) values (:id, :at, :card, 3, 25.00)"
                    ),
                    values,
                )
                connection.execute(
                    sa.text(
                        "insert into scoring.transaction_scores (transaction_id, tx_datetime,"
                        " customer_id, terminal_id, tx_amount, score, model_name, model_version,"
                        " is_alert, run_id) values (:id, :at, :card, 3, 25.00, :score, 'm', 1,"
                        " :alert, 'sim')"
                    ),
                    values | {"alert": index == 0},
                )
                if index < frauds:  # reported weeks later: the investigators know it first
                    connection.execute(
                        sa.text(
                            "insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)"
                            " values (:id, true, :at + interval '20 days')"
                        ),
                        values,
                    )
                payments.setdefault(card, []).append(next_id)
                next_id += 1
    return payments


def _verdicts(engine: Engine) -> dict[int, tuple[str, datetime, datetime]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select transaction_id, outcome, decided_at, known_at from cases.alert_outcomes"
                " where transaction_id >= :first order by outcome_id"
            ),
            {"first": FIRST_ID},
        )
        return {int(row[0]): (row[1], row[2], row[3]) for row in rows}


def test_a_morning_reviews_the_strongest_cards_up_to_the_capacity(
    engine: Engine, night: dict[int, list[int]]
) -> None:
    params = FIRST_MORNING
    with engine.begin() as connection:
        outcome = review_morning(connection, NIGHT, params)
    assert (outcome.cards_in_queue, outcome.cards_reviewed, outcome.verdicts_recorded) == (4, 2, 5)
    verdicts = _verdicts(engine)
    assert {id_: verdict[0] for id_, verdict in verdicts.items()} == {
        night[11][0]: "fraud_confirmed",
        night[11][1]: "fraud_confirmed",
        night[11][2]: "genuine_confirmed",
        night[12][0]: "genuine_confirmed",
        night[12][1]: "genuine_confirmed",
    }
    morning = day_interval(NIGHT)[1] + timedelta(hours=9)
    assert {(verdict[1], verdict[2]) for verdict in verdicts.values()} == {(morning, morning)}
    # The same morning again records nothing new.
    with engine.begin() as connection:
        again = review_morning(connection, NIGHT, params)
    assert (again.cards_reviewed, again.verdicts_recorded) == (0, 0)


def test_an_unreached_card_goes_back_to_the_queue_once(
    engine: Engine, night: dict[int, list[int]]
) -> None:
    unreachable = InvestigatorParams(capacity=1, unreachable_fraud=1, unreachable_genuine=1)
    reachable = InvestigatorParams(capacity=1, unreachable_fraud=0, unreachable_genuine=0)
    # Card 13 is alerted again the next night: its retry covers that night's payment too.
    next_night = NIGHT + timedelta(days=1)
    again = FIRST_ID + 900
    with engine.begin() as connection:
        connection.execute(
            sa.text("select staging.ensure_day_partitions(:day)"), {"day": next_night}
        )
        values = {"id": again, "at": day_interval(next_night)[0] + timedelta(hours=2)}
        connection.execute(
            sa.text(
                "insert into raw.transactions (transaction_id, tx_datetime, customer_id,"
                " terminal_id, tx_amount) values (:id, :at, 13, 3, 25.00)"
            ),
            values,
        )
        connection.execute(
            sa.text(
                "insert into scoring.transaction_scores (transaction_id, tx_datetime,"
                " customer_id, terminal_id, tx_amount, score, model_name, model_version,"
                " is_alert, run_id) values (:id, :at, 13, 3, 25.00, 0.5, 'm', 1, true, 'sim')"
            ),
            values,
        )
    with engine.begin() as connection:
        # The first test's morning (cards 11 and 12), played again: nothing new if it ran here.
        review_morning(connection, NIGHT, FIRST_MORNING)
        first = review_morning(connection, NIGHT, unreachable)  # card 13, the strongest left
        retried = review_morning(connection, next_night, unreachable)
        after = review_morning(connection, NIGHT + timedelta(days=2), reachable)
    assert (first.cards_reviewed, first.cards_unreachable) == (1, 1)
    assert (retried.cards_reviewed, retried.cards_unreachable) == (1, 1)
    # Night NIGHT's card is done after its one retry; its next night's payment gets its own.
    assert (after.cards_reviewed, after.cards_unreachable) == (1, 0)
    verdicts = _verdicts(engine)
    outcomes = [outcome for id_, (outcome, _, _) in verdicts.items() if id_ in night[13]]
    assert outcomes == ["unreachable"] * 2
    assert verdicts[again][0] == "genuine_confirmed"  # the latest: reached on its retry
