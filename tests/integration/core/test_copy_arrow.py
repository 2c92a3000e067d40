"""``fraud.db.copy_arrow``: what goes in through Arrow's CSV writer comes back unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from fraud.bulk import copy_arrow

pytestmark = pytest.mark.integration

ROWS = [
    # (text, number, flag): nulls, empty and awkward text, floats that need all 17 digits.
    (None, None, None),
    ("", 0.1 + 0.2, True),
    ('comma, "quote"', 1e-300, False),
    ("line\nbreak", -2.2250738585072014e-308, True),
    ("\\N", 123456789.12345679, False),
]


def test_every_value_loads_back_exactly(engine: sa.Engine) -> None:
    table = pa.table(
        {
            "text": pa.array([row[0] for row in ROWS], pa.string()),
            "number": pa.array([row[1] for row in ROWS], pa.float64()),
            "flag": pa.array([row[2] for row in ROWS], pa.bool_()),
        }
    )
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "create temporary table copied (position serial, text text,"
            " number double precision, flag boolean) on commit drop"
        )
        assert copy_arrow(connection, table, "copied") == len(ROWS)
        stored = connection.exec_driver_sql(
            "select text, number, flag from copied order by position"
        ).all()
    assert [tuple(row) for row in stored] == ROWS


def test_an_empty_table_runs_no_copy(engine: sa.Engine) -> None:
    empty = pa.table({"number": pa.array([], pa.float64())})
    with engine.begin() as connection:
        assert copy_arrow(connection, empty, "no_such_table") == 0


def test_a_frames_missing_values_are_stored_as_nulls(engine: sa.Engine) -> None:
    # As scoring builds them: no reason is None, no contribution is NaN.
    frame = pd.DataFrame({"reason": [None, "tx_amount"], "contribution": [np.nan, 0.25]})
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "create temporary table reasons (position serial, reason text,"
            " contribution double precision) on commit drop"
        )
        copy_arrow(connection, pa.Table.from_pandas(frame, preserve_index=False), "reasons")
        stored = connection.exec_driver_sql(
            "select reason, contribution from reasons order by position"
        ).all()
    assert [tuple(row) for row in stored] == [(None, None), ("tx_amount", 0.25)]
