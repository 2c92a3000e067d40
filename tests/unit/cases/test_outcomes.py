"""An export's lines, checked one by one: each bad line named by its number, column and reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fraud.cases.outcomes import (
    Rejection,
    Verdict,
    VerdictImportError,
    check_against_payments,
    parse_line,
    read_export,
)

HEADER = "transaction_id,outcome,decided_by,decided_at,note\n"
GOOD = {
    "transaction_id": "1000000000001",
    "outcome": "fraud_confirmed",
    "decided_by": "ana",
    "decided_at": "2026-03-02T09:15:00+00:00",
    "note": "cardholder disowns it",
}


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({"transaction_id": ""}, "transaction_id", "missing"),
        ({"transaction_id": "12a"}, "transaction_id", "'12a' is not a whole number"),
        ({"outcome": "maybe"}, "outcome", "'maybe' is not one of"),
        ({"outcome": " "}, "outcome", "missing"),
        ({"decided_by": ""}, "decided_by", "missing"),
        ({"decided_at": "yesterday"}, "decided_at", "'yesterday' is not an ISO 8601 time"),
        ({"decided_at": "2026-03-02T09:15:00"}, "decided_at", "has no UTC offset"),
    ],
)
def test_a_bad_value_names_its_column(change: dict[str, str], column: str, reason: str) -> None:
    parsed = parse_line(7, GOOD | change)
    assert isinstance(parsed, Rejection)
    assert (parsed.line, parsed.column) == (7, column)
    assert reason in parsed.reason
    assert parsed.message("day.csv").startswith(f"day.csv:7: {column}: ")


@pytest.mark.parametrize(
    ("note", "expected"), [("cardholder disowns it", "cardholder disowns it"), ("  ", None)]
)
def test_a_good_line_is_a_verdict(note: str, expected: str | None) -> None:
    parsed = parse_line(2, GOOD | {"note": note})
    assert parsed == Verdict(
        2,
        1_000_000_000_001,
        "fraud_confirmed",
        "ana",
        datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
        expected,
    )


def test_every_line_is_read_once_and_counted() -> None:
    text = HEADER + (
        "1,fraud_confirmed,ana,2026-03-02T09:15:00+00:00,a\n"
        "2,genuine_confirmed,ana,2026-03-02T09:16:00+01:00,\n"
        "1,fraud_confirmed,ana,2026-03-02T09:15:00+00:00,a\n"
        "3,unreachable,ana\n"
        "4,unreachable,ana,2026-03-02T09:17:00+00:00,,surplus\n"
        "5,nope,ana,2026-03-02T09:18:00+00:00,\n"
    )
    verdicts, rejections, read = read_export(text)
    assert read == 6
    assert [verdict.line for verdict in verdicts] == [2, 3]
    assert [(r.line, r.column, r.reason) for r in rejections] == [
        (4, "line", "repeats line 2"),
        (5, "decided_at", "missing: the line has fewer fields than the header"),
        (6, "line", "1 more fields than the header"),
        (7, "outcome", "'nope' is not one of fraud_confirmed, genuine_confirmed, unreachable"),
    ]
    assert read == len(verdicts) + len(rejections)


def test_a_header_without_a_column_refuses_the_file() -> None:
    with pytest.raises(VerdictImportError, match="line 1: header lacks decided_at"):
        read_export("transaction_id,outcome,decided_by,note\n1,unreachable,ana,\n")


def test_the_warehouse_checks_name_the_payment_and_time() -> None:
    paid = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    now = datetime(2026, 3, 5, tzinfo=UTC)

    def verdict(line: int, transaction_id: int, decided_at: datetime) -> Verdict:
        return Verdict(line, transaction_id, "genuine_confirmed", "ana", decided_at, None)

    good, bad = check_against_payments(
        [
            verdict(2, 1, datetime(2026, 3, 2, tzinfo=UTC)),
            verdict(3, 99, datetime(2026, 3, 2, tzinfo=UTC)),
            verdict(4, 1, datetime(2026, 3, 1, 11, 59, tzinfo=UTC)),
            verdict(5, 1, datetime(2026, 3, 6, tzinfo=UTC)),
        ],
        {1: paid},
        now,
    )
    assert [verdict.line for verdict in good] == [2]
    assert [(r.line, r.column, r.reason) for r in bad] == [
        (3, "transaction_id", "unknown transaction"),
        (4, "decided_at", "before the payment (2026-03-01T12:00:00+00:00)"),
        (5, "decided_at", "in the future"),
    ]
