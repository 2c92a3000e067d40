"""The feature step's I/O floor: what it must read and write, with nothing computed.

For every share the nightly step would take, the same temporary targets and the same selects,
under the same planner settings, copied out to nowhere; then the night's feature rows, exported beforehand, copied into
the features table in a transaction that is rolled back. The feature step's time over this one
says what the computing costs on top of the I/O it cannot avoid.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fraud.bulk import dbapi, inline
from fraud.config import load_settings
from fraud.db import warehouse_engine
from fraud.features.history import history_reads, new_targets, prepare_reads
from fraud.features.nightly import DAY_TARGETS_SQL, FEATURE_TABLE, chunk_count
from fraud.shares import Share

_EXPORT_SQL = f"""
copy (select * from {FEATURE_TABLE} where tx_datetime >= %(start)s and tx_datetime < %(end)s)
to stdout with (format csv)
"""
_DELETE_SQL = f"delete from {FEATURE_TABLE} where tx_datetime >= :start and tx_datetime < :end"
_IMPORT_SQL = f"copy {FEATURE_TABLE} from stdin with (format csv)"


def feature_floor(start: datetime, end: datetime, *, shares: int, csv_path: str) -> dict[str, Any]:
    """Seconds of the feature step's reads and of its writes, measured apart."""
    settings = load_settings()
    window = {"start": start, "end": end}
    engine = warehouse_engine(settings.require_database_url())
    read_seconds, targets, parts = 0.0, 0, 0
    with engine.begin() as connection:
        raw = dbapi(connection)
        for index in range(shares):
            share = Share(index, shares)
            started = time.perf_counter()
            rows = new_targets(connection, DAY_TARGETS_SQL, {**window, **share.params})
            prepare_reads(connection)
            count = chunk_count(rows, settings.feature_chunk_rows)
            reads = history_reads(
                start=start,
                end=end,
                cutoff=end,
                label_delay_days=settings.label_delay_days,
                share=share,
                chunks=count,
                whole_share=True,
            )
            for query, params in reads.values():
                statement = inline(connection, query, params)
                with open(os.devnull, "wb") as sink, raw.cursor() as cursor:
                    cursor.copy_expert(f"copy ({statement}) to stdout with (format csv)", sink)
            read_seconds += time.perf_counter() - started
            targets, parts = targets + rows, parts + count
        with Path(csv_path).open("wb") as target, raw.cursor() as cursor:
            cursor.copy_expert(inline(connection, _EXPORT_SQL, window), target)
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(sa.text(_DELETE_SQL), window)
        started = time.perf_counter()
        with Path(csv_path).open("rb") as source, dbapi(connection).cursor() as cursor:
            cursor.copy_expert(_IMPORT_SQL, source)
            written = cursor.rowcount
        write_seconds = time.perf_counter() - started
        transaction.rollback()
    return {
        "read_seconds": round(read_seconds, 3),
        "write_seconds": round(write_seconds, 3),
        "seconds": round(read_seconds + write_seconds, 3),
        "targets": targets,
        "rows_written": written,
        "parts": parts,
    }
