"""The targets' temporary table and the selects that read their histories, with parameters.

The targets of a feature build sit in ``pg_temp.feature_targets`` (a night's share of payments,
or a training window's sample); :func:`history_reads` names every select that
:func:`fraud.features.history.target_features` streams for them, each row tagged with its chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraud.features.columns import LONGEST_WINDOW_DAYS
from fraud.labels import frauds_known_before
from fraud.shares import Share

TARGETS_TABLE = "feature_targets"
TARGETS = f"pg_temp.{TARGETS_TABLE}"

_DROP_TARGETS_SQL = f"drop table if exists {TARGETS}"
# Temporary tables are never analysed by autovacuum: without statistics the planner would guess.
_ANALYZE_TARGETS_SQL = f"analyze {TARGETS}"
_COUNT_TARGETS_SQL = f"select count(*) from {TARGETS}"
# The histories are a large share of a month's payments, found by a hash join against the
# targets. The planner prefers a loop over the customer or terminal index, which fetches each row
# from a random page: measured on 31 days of a million payments a day, 38 s against 6 s for
# reading the month's pages in order. Loops and plain index scans are off for the rest of the
# transaction that reads them.
# The hash of the targets' terminals (hundreds of thousands of ids) fits in memory with a larger
# work_mem than the default 4 MB, instead of spilling its batches to disk. (The lookups below
# name distinct ids: the planner then hashes each id once, a quarter faster than a semi-join.)
_SEQUENTIAL_READS_SQL = (
    "set local enable_nestloop = off",
    "set local enable_indexscan = off",
    "set local work_mem = '128MB'",
)

# The chunk of a customer: its share's rows split further by the same hash, so that the chunks
# of share i of n are the ids whose hash modulo n * chunks is i, i + n, i + 2n... (Share.split).
_CUSTOMER_CHUNK = "staging.share_of({column}, %(share_count)s * %(chunks)s) / %(share_count)s"
_TERMINAL_CHUNK = "staging.share_of({column}, %(chunks)s)"

# Rows of raw.transactions in [start, <end>) not held in quarantine, with their chunk and the
# columns the features read; {rows} picks whose.
_HISTORY_ROWS_SQL = """
select {chunk} as chunk,
       t.transaction_id,
       (extract(epoch from t.tx_datetime) * 1000000)::bigint as tx_us,
       t.customer_id, t.terminal_id, (t.tx_amount * 100)::bigint as amount_cents
from raw.transactions as t
where t.tx_datetime >= %(start)s and t.tx_datetime < %({end})s
  and {rows}
  and not exists (
      select 1 from quality.quarantine as q
      where q.transaction_id = t.transaction_id and q.resolved_at is null
  )
"""
_CUSTOMER_ROWS_CHUNK = _CUSTOMER_CHUNK.format(column="t.customer_id")

# Rows of the share's customers in [start, end), the targets included, with their chunk. A night's
# share holds most of its customers' rows: testing each row's hash is three times faster than
# looking its customer up among the targets' (measured: 4 s against 14 s for 32 million rows).
CUSTOMER_HISTORY_OF_SHARE_SQL = _HISTORY_ROWS_SQL.format(
    chunk=_CUSTOMER_ROWS_CHUNK,
    end="end",
    rows="staging.share_of(t.customer_id, %(share_count)s) = %(share_index)s",
)

# Rows of the targets' customers in [start, end), the targets included, with their chunk: for a
# training window's sample, whose customers are a minority of the window's.
CUSTOMER_HISTORY_OF_TARGETS_SQL = _HISTORY_ROWS_SQL.format(
    chunk=_CUSTOMER_ROWS_CHUNK,
    end="end",
    rows=f"t.customer_id in (select distinct customer_id from {TARGETS})",
)

# Rows of the targets' terminals in [start, terminal_end), with their chunk: a terminal's windows
# end ``label_delay_days`` before each target.
TERMINAL_HISTORY_SQL = _HISTORY_ROWS_SQL.format(
    chunk=_TERMINAL_CHUNK.format(column="t.terminal_id"),
    end="terminal_end",
    rows=f"t.terminal_id in (select distinct terminal_id from {TARGETS})",
)

# Rows of the targets' terminals in [terminal_end, end) known as fraud before the cut-off (reported,
# or by an investigator's verdict): the delayed windows never reach them, the undelayed count of
# known frauds does. The genuine rows of those days are not read: that count needs only the
# frauds' times.
TERMINAL_LATE_FRAUDS_SQL = _HISTORY_ROWS_SQL.format(
    chunk=_TERMINAL_CHUNK.format(column="t.terminal_id"),
    end="end",
    rows=f"""t.terminal_id in (select distinct terminal_id from {TARGETS})
  and t.transaction_id in (
      select transaction_id from {frauds_known_before("%(start)s", "%(cutoff)s")}
  )""",
)

# Payments known as fraud before the cut-off, and since when, among those made since the
# terminals' windows began: a report or a verdict follows its payment, so this holds every fraud
# among the terminals' rows (the others are left out when they are matched to those rows). No
# payment is read for it.
TERMINAL_FRAUDS_SQL = f"""
select transaction_id, (extract(epoch from known_at) * 1000000)::bigint as known_us
from {frauds_known_before("%(start)s", "%(cutoff)s")}
"""

TARGET_ROWS_SQL = f"""
select transaction_id, tx_us, customer_id, terminal_id, amount_cents,
       {_CUSTOMER_CHUNK.format(column="customer_id")} as customer_chunk,
       {_TERMINAL_CHUNK.format(column="terminal_id")} as terminal_chunk
from {TARGETS}
"""


Reads = dict[str, tuple[str, dict[str, Any]]]


def history_reads(
    *,
    start: datetime,
    end: datetime,
    cutoff: datetime,
    label_delay_days: int,
    share: Share,
    chunks: int,
    whole_share: bool,
) -> Reads:
    """The selects the targets within ``[start, end)`` read, with their parameters.

    With ``whole_share`` the targets are a whole share of the customers (a night's share) and
    the share's rows are read; otherwise they are some of its customers (a window's sample) and
    those customers' rows are looked up.
    """
    split = {**share.params, "chunks": chunks}
    customers = {"start": start - timedelta(days=LONGEST_WINDOW_DAYS), "end": end, **split}
    terminals = {
        "start": start - timedelta(days=LONGEST_WINDOW_DAYS + label_delay_days),
        "terminal_end": end - timedelta(days=label_delay_days),
        "cutoff": cutoff,
        **split,
    }
    late = {"start": terminals["terminal_end"], "end": end, "cutoff": cutoff, **split}
    customer_history = (
        CUSTOMER_HISTORY_OF_SHARE_SQL if whole_share else CUSTOMER_HISTORY_OF_TARGETS_SQL
    )
    return {
        "targets": (TARGET_ROWS_SQL, split),
        "customers": (customer_history, customers),
        "terminals": (TERMINAL_HISTORY_SQL, terminals),
        "late_frauds": (TERMINAL_LATE_FRAUDS_SQL, late),
        "frauds": (TERMINAL_FRAUDS_SQL, terminals),
    }


def prepare_reads(connection: Connection) -> None:
    """Statistics on the targets and sequential reads, before a history is read."""
    connection.execute(sa.text(_ANALYZE_TARGETS_SQL))
    for setting in _SEQUENTIAL_READS_SQL:
        connection.execute(sa.text(setting))


def new_targets(connection: Connection, statement: str, params: Mapping[str, Any]) -> int:
    """Replace ``pg_temp.feature_targets`` with the rows ``statement`` selects; count them."""
    connection.execute(sa.text(_DROP_TARGETS_SQL))
    connection.execute(sa.text(statement), dict(params))
    return int(connection.execute(sa.text(_COUNT_TARGETS_SQL)).scalar_one())
