"""Shares of a day: disjoint slices of its rows, by a stable hash of a customer or terminal id.

A night's work is split into shares that any worker can take (the mapped tasks of the DAGs):
share ``index`` of ``count`` holds the rows whose id hashes to ``index`` modulo ``count``, by
the SQL function ``staging.share_of`` (``sql/V021__share_function.sql``). The hash is
PostgreSQL's own, so a share holds the same rows on every run and every server, and a re-run
replaces exactly the rows it wrote before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from fraud.locks import advisory_lock


@dataclass(frozen=True)
class Share:
    """One share of a day's rows: ``index`` of ``count``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"share {self.index} of {self.count} does not exist")

    def __str__(self) -> str:
        """``share 1/2``: counted from one, as the logs read."""
        return f"share {self.index + 1}/{self.count}"

    @property
    def params(self) -> dict[str, int]:
        """The bind parameters of the SQL that selects this share's rows."""
        return {"share_index": self.index, "share_count": self.count}

    def split(self, chunks: int) -> list[Share]:
        """This share's ``chunks`` chunks by hash: disjoint, and together holding its rows.

        Chunk ``j`` holds the ids of share ``index + count * j`` of ``count * chunks``: an id's
        hash modulo ``count * chunks`` is ``index`` modulo ``count`` exactly for the ids of this
        share. (The feature build splits a share's histories by the same rule, in SQL.)
        """
        return [
            Share(self.index + self.count * chunk, self.count * chunks) for chunk in range(chunks)
        ]

    def lock(self, connection: Connection, scope: str) -> None:
        """Wait until no other transaction writes this share of ``scope``, then hold it.

        A whole-``scope`` writer (one share of one) holds the scope exclusively; shares hold it
        shared and their own share exclusively. Locks a transaction holds never block itself,
        so a transaction that holds the whole scope may then write any of its shares. Two runs
        of the same rows (a retry beside a manual re-run, overlapping backfills) thus queue
        instead of both deleting the old rows and then colliding on the new rows' keys.
        """
        if self.count == 1:
            advisory_lock(connection, scope)
            return
        advisory_lock(connection, scope, shared=True)
        advisory_lock(connection, f"{scope}:{self.index}/{self.count}")


WHOLE = Share()


def all_shares(count: int) -> list[Share]:
    """Every share of ``count``, in order."""
    return [Share(index, count) for index in range(count)]
