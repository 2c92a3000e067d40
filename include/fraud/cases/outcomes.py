"""Verdicts from a case-management export: every line checked, bad lines named, nothing lost.

A file has the header ``transaction_id,outcome,decided_by,decided_at,note``. Each line is checked
(the transaction exists, the outcome is one of three, ``decided_at`` is ISO 8601 with an offset,
not in the future and not before the payment, the line does not repeat an earlier one) and each
bad line gets one message naming its line number, column and reason. By default a file with any
bad line writes nothing; ``skip_bad`` writes the good lines and the bad ones, with their reasons,
to a rejects file beside it. A line identical to a stored verdict (the same export imported
twice) is skipped and counted. The database runs the same checks on every insert
(``sql/V032__cases_alert_outcomes.sql``), so these messages only say early what it would refuse.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.atomic_files import write_whole_bytes
from fraud.labels import VerdictRow, record_verdicts

COLUMNS = ("transaction_id", "outcome", "decided_by", "decided_at", "note")
OUTCOMES = ("fraud_confirmed", "genuine_confirmed", "unreachable")
REQUIRED = ("transaction_id", "outcome", "decided_by", "decided_at")

PAYMENT_TIMES_SQL = """
select transaction_id, tx_datetime from cases.payment_times(:ids)
"""

DATABASE_NOW_SQL = "select now()"


class VerdictImportError(ValueError):
    """A file that cannot be imported as it is; the message names every bad line."""


@dataclass(frozen=True)
class Verdict:
    """One checked line of an export."""

    line: int
    transaction_id: int
    outcome: str
    decided_by: str
    decided_at: datetime
    note: str | None

    @property
    def identity(self) -> tuple[object, ...]:
        """What makes two verdicts the same one: every column the export carries."""
        return (self.transaction_id, self.outcome, self.decided_by, self.decided_at, self.note)


@dataclass(frozen=True)
class Rejection:
    """One bad line: where, which column, why, and the line as read."""

    line: int
    column: str
    reason: str
    values: dict[str, str] = field(default_factory=dict)

    def message(self, path: str) -> str:
        """The one line a person reads."""
        return f"{path}:{self.line}: {self.column}: {self.reason}"


@dataclass(frozen=True)
class ImportOutcome:
    """What an import read and did with it: read = imported + skipped_identical + rejected."""

    file: str
    read: int
    imported: int
    skipped_identical: int
    rejected: int
    rejects_file: str | None
    rejections: tuple[str, ...]


def parse_line(line: int, values: dict[str, str]) -> Verdict | Rejection:
    """One line of the file as a verdict, or the first thing wrong with it."""
    for column in REQUIRED:
        if not (values.get(column) or "").strip():
            return Rejection(line, column, "missing", values)
    raw_id = values["transaction_id"].strip()
    if not raw_id.lstrip("-").isdigit():
        return Rejection(line, "transaction_id", f"{raw_id!r} is not a whole number", values)
    outcome = values["outcome"].strip()
    if outcome not in OUTCOMES:
        return Rejection(
            line, "outcome", f"{outcome!r} is not one of {', '.join(OUTCOMES)}", values
        )
    raw_moment = values["decided_at"].strip()
    try:
        decided_at = datetime.fromisoformat(raw_moment)
    except ValueError:
        return Rejection(line, "decided_at", f"{raw_moment!r} is not an ISO 8601 time", values)
    if decided_at.utcoffset() is None:
        return Rejection(
            line, "decided_at", f"{raw_moment!r} has no UTC offset (e.g. +00:00)", values
        )
    note = (values.get("note") or "").strip() or None
    return Verdict(line, int(raw_id), outcome, values["decided_by"].strip(), decided_at, note)


def read_export(text: str) -> tuple[list[Verdict], list[Rejection], int]:
    """Every data line of an export as a verdict or a rejection, and how many lines were read."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(name.strip() for name in reader.fieldnames or ())
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise VerdictImportError(
            f"line 1: header lacks {', '.join(missing)}: expected {','.join(COLUMNS)}"
        )
    verdicts: list[Verdict] = []
    rejections: list[Rejection] = []
    first_seen: dict[tuple[object, ...], int] = {}
    read = 0
    for values in reader:
        read += 1
        line = reader.line_num
        row = {key.strip(): value for key, value in values.items() if isinstance(key, str)}
        extra = values.get(None)  # DictReader puts surplus fields under None
        if extra:
            reason = f"{len(extra)} more fields than the header"
            rejections.append(Rejection(line, "line", reason, row))
            continue
        absent = [column for column in COLUMNS if row.get(column) is None]
        if absent:
            reason = "missing: the line has fewer fields than the header"
            rejections.append(Rejection(line, absent[0], reason, row))
            continue
        parsed = parse_line(line, row)
        if isinstance(parsed, Rejection):
            rejections.append(parsed)
        elif parsed.identity in first_seen:
            rejections.append(
                Rejection(line, "line", f"repeats line {first_seen[parsed.identity]}", row)
            )
        else:
            first_seen[parsed.identity] = line
            verdicts.append(parsed)
    return verdicts, rejections, read


def check_against_payments(
    verdicts: Sequence[Verdict], paid_at: dict[int, datetime], now: datetime
) -> tuple[list[Verdict], list[Rejection]]:
    """Split verdicts into those the warehouse accepts and those it would refuse, and why."""
    good: list[Verdict] = []
    bad: list[Rejection] = []
    for verdict in verdicts:
        values = _values(verdict)
        payment_time = paid_at.get(verdict.transaction_id)
        if payment_time is None:
            bad.append(Rejection(verdict.line, "transaction_id", "unknown transaction", values))
        elif verdict.decided_at < payment_time:
            bad.append(
                Rejection(
                    verdict.line,
                    "decided_at",
                    f"before the payment ({payment_time.isoformat()})",
                    values,
                )
            )
        elif verdict.decided_at > now:
            bad.append(Rejection(verdict.line, "decided_at", "in the future", values))
        else:
            good.append(verdict)
    return good, bad


def import_verdicts(connection: Connection, path: Path, *, skip_bad: bool = False) -> ImportOutcome:
    """Import one export in the connection's transaction: all or nothing unless ``skip_bad``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise VerdictImportError(f"{path}: cannot be read: {error}") from error
    try:
        verdicts, rejections, read = read_export(text)
    except VerdictImportError as error:
        raise VerdictImportError(f"{path}:{error}") from error
    ids = sorted({verdict.transaction_id for verdict in verdicts})
    paid_at = {
        int(transaction_id): moment
        for transaction_id, moment in connection.execute(sa.text(PAYMENT_TIMES_SQL), {"ids": ids})
    }
    now = connection.execute(sa.text(DATABASE_NOW_SQL)).scalar_one()
    good, refused = check_against_payments(verdicts, paid_at, now)
    rejections = sorted([*rejections, *refused], key=lambda rejection: rejection.line)
    messages = tuple(rejection.message(str(path)) for rejection in rejections)
    if rejections and not skip_bad:
        raise VerdictImportError(
            f"{path}: {len(rejections)} of {read} lines refused, nothing imported"
            " (--skip-bad imports the others):\n" + "\n".join(messages)
        )
    imported = _insert(connection, good)
    rejects_file = write_rejects(path, rejections) if rejections else None
    return ImportOutcome(
        file=str(path),
        read=read,
        imported=imported,
        skipped_identical=len(good) - imported,
        rejected=len(rejections),
        rejects_file=str(rejects_file) if rejects_file else None,
        rejections=messages,
    )


def _insert(connection: Connection, verdicts: Sequence[Verdict]) -> int:
    """Insert the verdicts; an identical stored one is left alone. Returns how many went in."""
    rows = [
        VerdictRow(v.transaction_id, v.outcome, v.decided_by, v.decided_at, v.note)
        for v in verdicts
    ]
    return record_verdicts(connection, rows)


def rejects_path(path: Path) -> Path:
    """Where the bad lines of ``path`` go: beside it, ``NAME.rejects.csv``."""
    return path.with_name(f"{path.stem}.rejects.csv")


def write_rejects(path: Path, rejections: Iterable[Rejection]) -> Path:
    """The bad lines with their line number, column and reason, written whole beside the file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("line", "column", "reason", *COLUMNS))
    for rejection in rejections:
        values = rejection.values
        writer.writerow(
            (
                rejection.line,
                rejection.column,
                rejection.reason,
                *(values.get(c, "") for c in COLUMNS),
            )
        )
    target = rejects_path(path)
    write_whole_bytes(target, buffer.getvalue().encode("utf-8"))
    return target


def _values(verdict: Verdict) -> dict[str, str]:
    return {
        "transaction_id": str(verdict.transaction_id),
        "outcome": verdict.outcome,
        "decided_by": verdict.decided_by,
        "decided_at": verdict.decided_at.isoformat(),
        "note": verdict.note or "",
    }
