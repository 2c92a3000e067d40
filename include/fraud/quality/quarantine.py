"""Quarantine: failing rows stored verbatim with the expectations they failed, until a replay fixes them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection

# A replay of an interval closes the rows earlier runs quarantined for it; they stay as history.
_RESOLVE_OPEN_SQL = """
update quality.quarantine
set resolved_at = now(), resolved_by_run_id = :run_id
where data_interval_start = :interval_start and data_interval_end = :interval_end
    and resolved_at is null
"""

# All quarantined rows in one statement; values travel as bound JSON, never as SQL text.
_INSERT_QUARANTINE_SQL = """
insert into quality.quarantine (
    transaction_id, tx_datetime, source_row, failed_expectations,
    run_id, data_interval_start, data_interval_end
)
select
    (record ->> 'transaction_id')::bigint,
    (record ->> 'tx_datetime')::timestamptz,
    (record ->> 'source_row')::jsonb,
    array(select jsonb_array_elements_text(record -> 'failed_expectations')),
    :run_id,
    :interval_start,
    :interval_end
from jsonb_array_elements(cast(:records as jsonb)) with ordinality as records (record, position)
order by position
"""


def _json_value(value: object) -> object:
    """One cell as JSON without altering it: exact decimals and odd floats become text."""
    import pandas as pd

    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def source_rows(frame: pd.DataFrame, positions: Sequence[int], columns: Sequence[str]) -> list[str]:
    """The original rows at ``positions`` as JSON text, values unaltered."""
    rows = frame.iloc[list(positions)][list(columns)].to_dict("records")
    return [
        json.dumps({key: _json_value(value) for key, value in row.items()}, allow_nan=False)
        for row in rows
    ]


def quarantine_records(
    frame: pd.DataFrame,
    failures: Mapping[int, tuple[str, ...]],
    columns: Sequence[str],
    time_column: str,
) -> list[dict[str, Any]]:
    """Rows for quality.quarantine: key, time, verbatim source row and failed expectations."""
    positions = list(failures)
    if not positions:
        return []
    subset = frame.iloc[positions]
    return [
        {
            "transaction_id": _json_value(transaction_id),
            "tx_datetime": _json_value(moment),
            "source_row": source_row,
            "failed_expectations": list(failures[position]),
        }
        for position, source_row, transaction_id, moment in zip(
            positions,
            source_rows(frame, positions, columns),
            subset["transaction_id"],
            subset[time_column],
            strict=True,
        )
    ]


def write_quarantine(
    connection: Connection,
    records: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    interval_start: datetime,
    interval_end: datetime,
) -> int:
    """Insert quarantine records (key, time, verbatim source row, failed expectations)."""
    if not records:
        return 0
    connection.execute(
        sa.text(_INSERT_QUARANTINE_SQL),
        {
            "records": json.dumps(list(records), allow_nan=False),
            "run_id": run_id,
            "interval_start": interval_start,
            "interval_end": interval_end,
        },
    )
    return len(records)


def resolve_open(
    connection: Connection, *, run_id: str, interval_start: datetime, interval_end: datetime
) -> None:
    """Close the interval's open quarantine rows, resolved by this run."""
    connection.execute(
        sa.text(_RESOLVE_OPEN_SQL),
        {"run_id": run_id, "interval_start": interval_start, "interval_end": interval_end},
    )
