"""UTC days and intervals: every kind of moment becomes the same plain UTC instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pendulum
import pytest

from fraud.dates import (
    checked_interval,
    day_interval,
    day_span,
    days_in,
    midnight,
    parse_moment,
    utc,
    utc_interval,
)

EIGHT_AM_UTC = datetime(2026, 3, 2, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "moment",
    [
        EIGHT_AM_UTC,
        datetime(2026, 3, 2, 8),  # naive: read as UTC
        datetime(2026, 3, 2, 10, tzinfo=timezone(timedelta(hours=2))),
        pendulum.datetime(2026, 3, 2, 8, tz="UTC"),
    ],
)
def test_every_moment_becomes_a_plain_utc_datetime(moment: datetime) -> None:
    converted = utc(moment)
    assert converted == EIGHT_AM_UTC
    assert type(converted) is datetime and converted.tzinfo is UTC


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),
        (date(2026, 3, 2), datetime(2026, 3, 2, tzinfo=UTC)),
    ],
)
def test_a_day_is_its_half_open_utc_interval(day: date | str, expected: datetime) -> None:
    assert day_interval(day) == (expected, expected + timedelta(days=1))


def test_midnight_of_a_moment_is_the_start_of_its_utc_day() -> None:
    late = datetime(2026, 3, 2, 1, tzinfo=timezone(timedelta(hours=3)))  # 22:00 UTC on the 1st
    assert midnight(late) == datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T06:00:00+01:00", datetime(2026, 1, 31, 5, tzinfo=UTC)),
    ],
)
def test_an_iso_text_is_a_utc_moment(text: str, expected: datetime) -> None:
    assert parse_moment(text) == expected


def test_an_empty_interval_is_refused_with_its_bounds() -> None:
    with pytest.raises(ValueError, match=r"empty data interval \[2026-03-02T00:00:00\+00:00"):
        utc_interval(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC), 1),
        (datetime(2026, 3, 2, 12, tzinfo=UTC), datetime(2026, 3, 4, 1, tzinfo=UTC), 3),
    ],
)
def test_the_days_an_interval_touches(start: datetime, end: datetime, days: int) -> None:
    touched = days_in(start, end)
    assert len(touched) == days and touched[0] == start.date()


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (
            datetime(2026, 1, 4, tzinfo=UTC),
            datetime(2026, 1, 18, tzinfo=UTC),
            "2026-01-04 to 2026-01-17",
        ),
        (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC), "2026-03-02"),
    ],
)
def test_a_span_names_its_first_and_last_day(start: datetime, end: datetime, words: str) -> None:
    assert day_span(start, end) == words


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        (datetime(2026, 3, 2), datetime(2026, 3, 3, tzinfo=UTC), "a stage takes UTC datetimes"),
        (
            datetime(2026, 3, 2, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 3, 3, tzinfo=UTC),
            "a stage takes UTC datetimes",
        ),
        (datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), "empty data interval"),
    ],
)
def test_a_stage_refuses_an_interval_its_task_did_not_make_utc(
    start: datetime, end: datetime, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        checked_interval(start, end)


def test_a_utc_interval_passes_through_unchanged() -> None:
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    assert checked_interval(start, end) == (start, end)
