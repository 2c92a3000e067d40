"""The frauds known as of a moment (``cases.frauds_known``): since when, from which source.

Each case is one payment's history of reports and verdicts, and what the function says of it as
of a moment. It must agree with ``cases.labels_as_of`` on which payments are frauds, be inlined
by the planner, and be callable by the pipeline's login.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.db import create_warehouse_engine
from fraud.features.frames import read_history
from fraud.labels import cards_known_before, frauds_known_before
from tests.support.logins import member_login

pytestmark = pytest.mark.integration

FIRST_ID = 2_000_000_000_000
PAID_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SINCE = PAID_AT - timedelta(days=30)
_ids = itertools.count(FIRST_ID)

# (kind, decided day, recorded day): a verdict; ("reported", is_fraud, day): a report.
Event = tuple[str, object, float]


def _at(days: float) -> datetime:
    return PAID_AT + timedelta(days=days)


def _payment(engine: Engine, events: list[Event]) -> int:
    transaction_id = next(_ids)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into raw.transactions (transaction_id, tx_datetime, customer_id,"
                " terminal_id, tx_amount) values (:id, :at, :id, 7, 10.00)"
            ),
            {"id": transaction_id, "at": PAID_AT},
        )
        for kind, first, second in events:
            if kind == "reported":
                connection.execute(
                    sa.text(
                        "insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)"
                        " values (:id, :is_fraud, :at)"
                    ),
                    {"id": transaction_id, "is_fraud": first, "at": _at(second)},
                )
                continue
            connection.execute(
                sa.text(
                    "insert into cases.alert_outcomes (transaction_id, outcome, decided_by,"
                    " decided_at, recorded_at) values (:id, :outcome, 'ana', :decided, :recorded)"
                ),
                {
                    "id": transaction_id,
                    "outcome": kind,
                    "decided": _at(float(first)),  # type: ignore[arg-type]
                    "recorded": _at(second),
                },
            )
    return transaction_id


def _known(engine: Engine, transaction_id: int, as_of: datetime) -> tuple[datetime, str] | None:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "select known_at, source from cases.frauds_known(:since, :as_of)"
                " where transaction_id = :id"
            ),
            {"since": SINCE, "as_of": as_of, "id": transaction_id},
        ).one_or_none()
    return None if row is None else (row[0], row[1])


FRAUD, GENUINE, UNREACHABLE = "fraud_confirmed", "genuine_confirmed", "unreachable"

CASES = [
    # A chargeback alone: a fraud from its report on, unknown before.
    ([("reported", True, 8)], 10, (8, "reported")),
    ([("reported", True, 8)], 5, None),
    # A fraud verdict, then the chargeback that agrees: a fraud since the verdict.
    ([(FRAUD, 1, 1), ("reported", True, 8)], 10, (1, "reported")),
    ([(FRAUD, 1, 1), ("reported", True, 8)], 5, (1, "investigator")),
    # Fraud, genuine, fraud again, then the chargeback: only the last unbroken run counts.
    ([(FRAUD, 1, 1), (GENUINE, 2, 2), (FRAUD, 3, 3), ("reported", True, 8)], 10, (3, "reported")),
    # A fraud verdict that a genuine report contradicts: a fraud until the report, not after.
    ([(FRAUD, 1, 1), ("reported", False, 8)], 5, (1, "investigator")),
    ([(FRAUD, 1, 1), ("reported", False, 8)], 10, None),
    # A fraud verdict corrected to genuine: a fraud between the two only.
    ([(FRAUD, 1, 1), (GENUINE, 2, 2)], 1.5, (1, "investigator")),
    ([(FRAUD, 1, 1), (GENUINE, 2, 2)], 3, None),
    # Genuine, then fraud twice: a fraud since the first fraud verdict after the genuine one.
    ([(GENUINE, 1, 1), (FRAUD, 2, 2), (FRAUD, 3, 3)], 5, (2, "investigator")),
    # Decided early, recorded late: known from its recording, never before.
    ([(FRAUD, 0.5, 4)], 3, None),
    ([(FRAUD, 0.5, 4)], 5, (4, "investigator")),
    # Unreachable is no label: it breaks a run of fraud verdicts and starts none.
    ([(UNREACHABLE, 1, 1), (FRAUD, 2, 2)], 5, (2, "investigator")),
    ([(FRAUD, 1, 1), (UNREACHABLE, 2, 2)], 3, None),
    # A report wins whatever comes after it.
    ([("reported", True, 8), (GENUINE, 9, 9)], 10, (8, "reported")),
]


@pytest.mark.parametrize(("events", "as_of_day", "expected"), CASES)
def test_since_when_a_payment_is_known_as_fraud(
    engine: Engine,
    events: list[Event],
    as_of_day: float,
    expected: tuple[float, str] | None,
) -> None:
    transaction_id = _payment(engine, events)
    known = _known(engine, transaction_id, _at(as_of_day))
    assert known == (None if expected is None else (_at(expected[0]), expected[1]))


def test_the_frauds_are_the_fraud_labels_as_of_the_moment(engine: Engine) -> None:
    for events, _, _ in CASES:
        _payment(engine, events)
    with engine.connect() as connection:
        for day in (0, 1, 1.5, 2.5, 3.5, 5, 8, 9.5, 30):
            params = {"since": SINCE, "as_of": _at(day), "first": FIRST_ID}
            frauds = connection.execute(
                sa.text(
                    "select transaction_id from cases.frauds_known(:since, :as_of)"
                    " where transaction_id >= :first"
                ),
                params,
            )
            labelled = connection.execute(
                sa.text(
                    "select transaction_id from cases.labels_as_of(:as_of)"
                    " where is_fraud and transaction_id >= :first"
                ),
                params,
            )
            assert sorted(frauds.scalars()) == sorted(labelled.scalars()), day


@pytest.mark.parametrize("sequential_reads", [False, True])
def test_the_planner_inlines_it_and_reads_the_spans_through_the_indexes(
    engine: Engine, sequential_reads: bool
) -> None:
    with engine.begin() as connection:
        if sequential_reads:
            # As the feature builds set them (fraud.features.history_queries): no loop joins.
            prepare = ("set local enable_nestloop = off", "set local enable_indexscan = off")
            for setting in prepare:
                connection.execute(sa.text(setting))
        plan = "\n".join(
            connection.execute(
                sa.text(f"explain select * from {frauds_known_before(':since', ':before')}"),
                {"since": SINCE, "before": _at(10)},
            ).scalars()
        )
    assert "Function Scan" not in plan
    assert "fraud_labels_reported_at_idx" in plan
    assert "alert_outcomes_known_at_idx" in plan
    # Neither source is read whole, whatever the join settings.
    assert "Seq Scan" not in plan


@pytest.fixture(scope="module")
def pipeline(warehouse_url: str) -> Iterator[Engine]:
    with member_login(warehouse_url, "fraud_pipeline") as url:
        engine = create_warehouse_engine(url, pool_size=1)
        yield engine
        engine.dispose()


def test_the_pipeline_reads_it_with_its_own_rights(engine: Engine, pipeline: Engine) -> None:
    transaction_id = _payment(engine, [(FRAUD, 1, 1)])
    assert _known(pipeline, transaction_id, _at(2)) == (_at(1), "investigator")


def test_the_protocols_history_holds_verdict_frauds_from_their_known_at(engine: Engine) -> None:
    confirmed = _payment(engine, [(FRAUD, 1, 2)])
    reported = _payment(engine, [("reported", True, 8)])
    genuine = _payment(engine, [("reported", False, 8), (FRAUD, 1, 1)])
    with engine.connect() as connection:
        history = read_history(connection, PAID_AT, PAID_AT + timedelta(seconds=1), _at(10))
    labels = history.labels.set_index("transaction_id")
    assert labels.loc[confirmed, "reported_at"] == _at(2)
    assert labels.loc[reported, "reported_at"] == _at(8)
    assert genuine not in labels.index
    assert labels["is_fraud"].all()


def test_the_cards_known_are_the_cards_of_the_frauds_known_card_by_card(engine: Engine) -> None:
    # Each payment is its own card (customer_id = transaction_id), so every case is one card.
    payments = [_payment(engine, events) for events, _, _ in CASES]
    with engine.connect() as connection:
        for day in (0, 1, 1.5, 2.5, 3.5, 5, 8, 9.5, 30):
            params = {"since": SINCE, "before": _at(day), "cards": payments}
            frauds = connection.execute(
                sa.text(
                    "select t.customer_id"
                    f" from {frauds_known_before(':since', ':before')} as known"
                    " join raw.transactions as t using (transaction_id)"
                    " where t.customer_id = any(cast(:cards as bigint[]))"
                ),
                params,
            )
            cards = connection.execute(
                sa.text(
                    f"select customer_id from {cards_known_before(':cards', ':since', ':before')}"
                ),
                params,
            )
            expected = sorted(frauds.scalars())
            assert sorted(cards.scalars()) == expected, day
            assert expected or day <= 1, day  # from day 1.5 on some case is a fraud
