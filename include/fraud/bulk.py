"""Bulk reads and writes with COPY: frames and Arrow tables in, CSV streams out as Arrow.

Rows never travel as Python objects one by one: a select streams out of the server as CSV
(``COPY ... TO STDOUT``) straight into Arrow, and rows go in as CSV written by Arrow or pandas.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# Bytes the CSV reader parses at a time: a few MB keeps its buffers small and its threads busy.
_BLOCK_BYTES = 4 << 20


def dbapi(connection: Connection) -> Any:
    """The driver's own connection under a SQLAlchemy one, for COPY."""
    return connection.connection.dbapi_connection


def inline(connection: Connection, statement: str, params: Mapping[str, object]) -> str:
    """A statement with its ``%(name)s`` parameters bound as literals (COPY takes no parameters)."""
    with dbapi(connection).cursor() as cursor:
        return str(cursor.mogrify(statement, dict(params)).decode())


def copy_frame(connection: Connection, frame: pd.DataFrame, table: str) -> int:
    """Bulk-load a frame into ``table`` with COPY inside the caller's transaction."""
    if frame.empty:
        return 0
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    buffer.seek(0)
    columns = ", ".join(f'"{column}"' for column in frame.columns)
    with dbapi(connection).cursor() as cursor:
        cursor.copy_expert(
            f"copy {table} ({columns}) from stdin with (format csv, null '\\N')", buffer
        )
    return len(frame)


def copy_arrow(connection: Connection, table: pa.Table, target: str) -> int:
    """Bulk-load an Arrow table into ``target`` with COPY inside the caller's transaction.

    Arrow's CSV writer is an order of magnitude faster than pandas' ``to_csv``; it quotes every
    string and leaves nulls unquoted and empty, which is how PostgreSQL's CSV tells them apart.
    Floats are written in their shortest exact form, so they load back bit for bit.
    """
    import pyarrow.csv as pa_csv

    if table.num_rows == 0:
        return 0
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    buffer.seek(0)
    columns = ", ".join(f'"{column}"' for column in table.column_names)
    with dbapi(connection).cursor() as cursor:
        cursor.copy_expert(f"copy {target} ({columns}) from stdin with (format csv)", buffer)
    return table.num_rows


def read_frame(connection: Connection, query: str, params: Mapping[str, object]) -> pd.DataFrame:
    """Run a small query and return its rows as a frame (for large results: :func:`copy_out`)."""
    import pandas as pd

    result = connection.execute(sa.text(query), dict(params))
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def copy_out_batches(
    connection: Connection, query: str, types: Mapping[str, pa.DataType]
) -> Iterator[pa.RecordBatch]:
    """Stream a select's rows (``query`` with its parameters inlined) as Arrow record batches.

    The server writes CSV into a pipe from a helper thread while Arrow parses it here, so at
    most a parsed block and the pipe's buffer are in memory, whatever the size of the result.
    Only the columns in ``types`` are parsed, each with its declared type.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    read_end, write_end = os.pipe()
    reader, writer = os.fdopen(read_end, "rb"), os.fdopen(write_end, "wb")
    failure: list[BaseException] = []
    raw = dbapi(connection)

    def pump() -> None:
        try:
            with raw.cursor() as cursor:
                cursor.copy_expert(f"copy ({query}) to stdout with (format csv, header)", writer)
        except BaseException as error:  # handed over to the reading side below
            failure.append(error)
        finally:
            writer.close()

    thread = threading.Thread(target=pump, name="copy-out", daemon=True)
    thread.start()
    try:
        yield from pa_csv.open_csv(
            reader,
            read_options=pa_csv.ReadOptions(block_size=_BLOCK_BYTES),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict(types),
                include_columns=list(types),
                # PostgreSQL writes booleans as t and f.
                true_values=["t"],
                false_values=["f"],
            ),
        )
    except pa.ArrowInvalid:
        # The server stopped writing mid-row: its error says why, not the parser's.
        reader.close()
        thread.join()
        if failure:
            raise failure[0] from None
        raise
    finally:
        reader.close()
        thread.join()
    if failure:
        raise failure[0]


def copy_out_chunks(
    connection: Connection, query: str, types: Mapping[str, pa.DataType], chunk_rows: int
) -> Iterator[pa.Table]:
    """Stream a select's rows as Arrow tables of ``chunk_rows`` rows each (the last fewer)."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in copy_out_batches(connection, query, types):
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= chunk_rows:
            # A parsed block may hold many chunks: slice it (zero-copy) into chunks.
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)


def copy_out_table(
    connection: Connection, query: str, types: Mapping[str, pa.DataType]
) -> pa.Table:
    """A select's whole result as one Arrow table, typed as ``types`` says."""
    import pyarrow as pa

    batches = list(copy_out_batches(connection, query, types))
    schema = pa.schema([(name, kind) for name, kind in types.items()])
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()
