"""The investigators' figures on the page: sums over the window, one precision per night."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from fraud.dashboard.reviews import VERDICT_SERIES, summarise

NIGHTS = tuple(date(2026, 6, 1) + timedelta(days=offset) for offset in range(4))


def _row(night: date, **counts: float | None) -> dict[str, object]:
    base: dict[str, object] = {
        "tx_date": night,
        "cards_alerted": 0,
        "cards_reached_within_a_day": 0,
        "cards_confirmed_fraud_within_a_day": 0,
        "cards_reviewed_within_a_day": 0,
        "cards_open": 0,
        "verdicts_contradicted": 0,
        "alert_precision_by_verdict": None,
    }
    return base | counts


def test_a_nights_precision_stands_on_the_morning_after() -> None:
    rows = [
        _row(NIGHTS[0] - timedelta(days=1), alert_precision_by_verdict=0.25),
        _row(NIGHTS[1], alert_precision_by_verdict=0.5),
        _row(NIGHTS[3], alert_precision_by_verdict=0.75),
    ]
    reviews = summarise(rows, NIGHTS)
    assert reviews.precision.name == VERDICT_SERIES
    assert reviews.precision.values == (0.25, None, 0.5, None)


def test_counts_are_sums_and_the_rates_ratios_of_sums() -> None:
    rows = [
        _row(
            NIGHTS[0],
            cards_alerted=10,
            cards_reviewed_within_a_day=10,
            cards_reached_within_a_day=9,
        ),
        _row(
            NIGHTS[1], cards_alerted=5, cards_reviewed_within_a_day=2, cards_reached_within_a_day=1
        ),
    ]
    reviews = summarise(rows, NIGHTS)
    assert (reviews.cards_alerted, reviews.cards_reviewed, reviews.cards_reached) == (15, 12, 10)
    assert reviews.unreachable_rate == pytest.approx(2 / 12)


@pytest.mark.parametrize(
    ("open_nights", "oldest", "age"),
    [((), None, None), ((3,), NIGHTS[3], 0), ((1, 3), NIGHTS[1], 2)],
)
def test_the_open_queue_and_its_oldest_night(
    open_nights: tuple[int, ...], oldest: date | None, age: int | None
) -> None:
    rows = [_row(NIGHTS[index], cards_open=2) for index in open_nights]
    reviews = summarise(rows, NIGHTS)
    assert (reviews.cards_open, reviews.oldest_open_night, reviews.open_age_days) == (
        2 * len(open_nights),
        oldest,
        age,
    )


def test_no_review_means_no_rate() -> None:
    reviews = summarise([], NIGHTS)
    assert reviews.unreachable_rate is None
    assert replace(reviews, cards_reviewed=4, cards_reached=3).unreachable_rate == 0.25


def test_the_page_shows_the_open_queue_and_the_morning_precision() -> None:
    from datetime import UTC, datetime

    from fraud.dashboard.html import render_page
    from tests.unit.dashboard.test_templates import FULL

    nights = FULL.live.nights
    rows = [
        _row(
            nights[-2],
            cards_alerted=4,
            cards_reviewed_within_a_day=4,
            cards_reached_within_a_day=3,
            cards_confirmed_fraud_within_a_day=2,
            cards_open=1,
            verdicts_contradicted=1,
            alert_precision_by_verdict=2 / 3,
        )
    ]
    page = render_page(
        replace(FULL, reviews=summarise(rows, nights)), None, datetime(2026, 6, 5, tzinfo=UTC)
    )
    section = page[page.index('<section id="reviews">') :]
    section = section[: section.index("</section>")]
    assert "1 cards without a verdict, the oldest from" in section
    assert "2 of 3 cards reached (0.667)" in section
    assert "1 of 4 cards reviewed (0.250)" in section
    assert VERDICT_SERIES in page
