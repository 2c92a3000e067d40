"""The investigators' figures as analysts and the page read them: analytics.alert_reviews_daily."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.dashboard.reviews import VERDICT_SERIES, load_reviews
from fraud.db import create_warehouse_engine
from tests.support.logins import member_login

pytestmark = pytest.mark.integration

NIGHT = date(2026, 6, 10)
START = datetime(2026, 6, 10, tzinfo=UTC)
MORNING = START + timedelta(days=1, hours=9)
FIRST_ID = 4_000_000_000_000
# card: payments (the first is the alert)
CARDS = {501: 3, 502: 2, 503: 1}


@pytest.fixture(scope="module")
def night(engine: Engine) -> dict[int, list[int]]:
    payments: dict[int, list[int]] = {}
    next_id = FIRST_ID
    with engine.begin() as connection:
        connection.execute(sa.text("select staging.ensure_day_partitions(:day)"), {"day": NIGHT})
        for card, count in CARDS.items():
            for index in range(count):
                values = {
                    "id": next_id,
                    "at": START + timedelta(hours=index + 1),
                    "card": card,
                    "alert": index == 0,
                }
                for table, extra in (
                    ("raw.transactions", ""),
                    (
                        "scoring.transaction_scores",
                        ", score, model_name, model_version, is_alert, run_id",
                    ),
                ):
                    columns = (
                        "transaction_id, tx_datetime, customer_id, terminal_id, tx_amount" + extra
                    )
                    values_sql = ":id, :at, :card, 1, 10.00" + (
                        ", 0.8, 'm', 1, :alert, 'reviews'" if extra else ""
                    )
                    connection.execute(
                        sa.text(f"insert into {table} ({columns}) values ({values_sql})"), values
                    )
                payments.setdefault(card, []).append(next_id)
                next_id += 1

        def verdict(id_: int, outcome: str, at: datetime) -> None:
            connection.execute(
                sa.text(
                    "insert into cases.alert_outcomes (transaction_id, outcome, decided_by,"
                    " decided_at, recorded_at) values (:id, :outcome, 'ana', :at, :at)"
                ),
                {"id": id_, "outcome": outcome, "at": at},
            )

        # Card 501, the next morning: its first payment fraud, the others genuine; a chargeback
        # later says the second was fraud too.
        verdict(payments[501][0], "fraud_confirmed", MORNING)
        for id_ in payments[501][1:]:
            verdict(id_, "genuine_confirmed", MORNING)
        connection.execute(
            sa.text(
                "insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)"
                " values (:id, true, :at)"
            ),
            {"id": payments[501][1], "at": START + timedelta(days=8)},
        )
        # Card 502: not reached the next morning, reached two days later. Card 503: still open.
        for id_ in payments[502]:
            verdict(id_, "unreachable", MORNING)
            verdict(id_, "genuine_confirmed", MORNING + timedelta(days=2))
    return payments


@pytest.fixture(scope="module")
def analyst(warehouse_url: str, night: dict[int, list[int]]) -> Iterator[Engine]:
    with member_login(warehouse_url, "fraud_analyst") as url:
        engine = create_warehouse_engine(url, pool_size=1)
        yield engine
        engine.dispose()


def test_a_nights_reviews_as_analysts_read_them(analyst: Engine) -> None:
    with analyst.connect() as connection:
        row = (
            connection.execute(
                sa.text("select * from analytics.alert_reviews_daily where tx_date = :night"),
                {"night": NIGHT},
            )
            .mappings()
            .one()
        )
    assert dict(row) == {
        "tx_date": NIGHT,
        "cards_alerted": 3,
        "cards_reviewed": 2,
        "cards_reviewed_within_a_day": 2,
        "cards_reached_within_a_day": 1,
        "cards_confirmed_fraud_within_a_day": 1,
        "alert_precision_by_verdict": 1.0,
        "unreachable_rate": 0.5,
        "cards_open": 1,
        "verdicts_contradicted": 1,
    }


def test_the_page_puts_the_morning_precision_on_the_next_night(analyst: Engine) -> None:
    nights = tuple(NIGHT + timedelta(days=offset) for offset in range(-2, 3))
    with analyst.connect() as connection:
        reviews = load_reviews(connection, nights)
    assert reviews.precision.name == VERDICT_SERIES
    assert reviews.precision.values == (None, None, None, 1.0, None)
    assert (reviews.cards_open, reviews.oldest_open_night, reviews.open_age_days) == (1, NIGHT, 2)
    assert (reviews.cards_reviewed, reviews.cards_reached, reviews.unreachable_rate) == (2, 1, 0.5)
    assert reviews.verdicts_contradicted == 1


def test_the_bounded_function_gives_the_views_rows(analyst: Engine) -> None:
    with analyst.connect() as connection:
        bounded = (
            connection.execute(
                sa.text("select * from analytics.alert_reviews(:first, :last)"),
                {"first": NIGHT - timedelta(days=1), "last": NIGHT},
            )
            .mappings()
            .all()
        )
        whole = (
            connection.execute(
                sa.text("select * from analytics.alert_reviews_daily where tx_date = :night"),
                {"night": NIGHT},
            )
            .mappings()
            .all()
        )
        after = connection.execute(
            sa.text("select * from analytics.alert_reviews(:first, :last)"),
            {"first": NIGHT + timedelta(days=1), "last": NIGHT + timedelta(days=9)},
        ).all()
    assert [dict(row) for row in bounded] == [dict(row) for row in whole]
    assert after == []
