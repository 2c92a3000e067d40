"""UTC days and data intervals: where a date becomes a half-open ``[start, end)`` of instants.

Every stage works on UTC days. Airflow hands tasks pendulum datetimes, the command line hands
them ``YYYY-MM-DD`` strings, a test may hand them naive datetimes: each becomes a plain
standard-library UTC datetime here, so the rest of the package compares like with like.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

ONE_DAY = timedelta(days=1)


def utc(moment: datetime) -> datetime:
    """The same instant as a standard-library UTC datetime; a naive moment is read as UTC."""
    if moment.tzinfo is None:
        return datetime.combine(moment.date(), moment.time(), tzinfo=UTC)
    return datetime.fromtimestamp(moment.timestamp(), tz=UTC)


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time as a UTC instant; a date means its midnight, a naive time UTC."""
    return utc(datetime.fromisoformat(text))


def midnight(day: date) -> datetime:
    """00:00 UTC at the start of a calendar day; for a datetime, of its UTC day."""
    if isinstance(day, datetime):
        day = utc(day).date()
    return datetime.combine(day, time(), tzinfo=UTC)


def day_interval(day: date | str) -> tuple[datetime, datetime]:
    """The data interval ``[day, day + 1)`` of a date or a ``YYYY-MM-DD`` string."""
    start = midnight(date.fromisoformat(day) if isinstance(day, str) else day)
    return start, start + ONE_DAY


def utc_interval(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Both bounds as UTC instants; an empty or reversed interval is an error that names it."""
    start, end = utc(start), utc(end)
    if end <= start:
        raise ValueError(f"empty data interval [{start.isoformat()}, {end.isoformat()})")
    return start, end


def checked_interval(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The interval as it is, once it is known to be UTC and not empty: what a stage asks of the
    interval its task made UTC at the edge (:func:`utc_interval`), instead of converting again."""
    for bound in (start, end):
        if bound.utcoffset() != timedelta(0):
            raise ValueError(f"{bound.isoformat()}: a stage takes UTC datetimes (utc_interval)")
    if end <= start:
        raise ValueError(f"empty data interval [{start.isoformat()}, {end.isoformat()})")
    return start, end


def days_in(start: datetime, end: datetime) -> list[date]:
    """The UTC days that ``[start, end)`` touches, in order."""
    first, last = utc(start).date(), (utc(end) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def day_span(start: datetime, end: datetime) -> str:
    """The first and last UTC days of ``[start, end)`` in words: ``2026-01-04 to 2026-01-17``."""
    days = days_in(start, end)
    return f"{days[0]} to {days[-1]}" if len(days) > 1 else str(days[0])
