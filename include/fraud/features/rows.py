"""Transactions as typed arrays, and the frauds known among them: what the feature code reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

TargetIds = Sequence[int] | np.ndarray | None


def epoch_ns(values: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch of timestamps, read as UTC."""
    return pd.to_datetime(values, utc=True).dt.as_unit("ns").astype("int64").to_numpy()


def amounts(values: pd.Series) -> np.ndarray:
    """Amounts as float64, whether they arrive as floats or Decimals."""
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class Rows:
    """Transactions as typed arrays: ids, epoch nanoseconds (UTC), customer, terminal, amount."""

    transaction_id: np.ndarray
    ns: np.ndarray
    customer_id: np.ndarray
    terminal_id: np.ndarray
    amount: np.ndarray

    @classmethod
    def of(cls, transactions: pd.DataFrame) -> Rows:
        """Typed arrays of a frame of transactions (timestamps read as UTC)."""
        return cls.from_arrays(
            transactions["transaction_id"].to_numpy(dtype=np.int64),
            epoch_ns(transactions["tx_datetime"]),
            transactions["customer_id"].to_numpy(dtype=np.int64),
            transactions["terminal_id"].to_numpy(dtype=np.int64),
            amounts(transactions["tx_amount"]),
        )

    @classmethod
    def from_arrays(
        cls,
        transaction_id: np.ndarray,
        ns: np.ndarray,
        customer_id: np.ndarray,
        terminal_id: np.ndarray,
        amount: np.ndarray,
    ) -> Rows:
        """Rows of arrays; a transaction id may appear once only."""
        ids = np.asarray(transaction_id, dtype=np.int64)
        # Sorting is several times faster than np.unique's hashing on millions of ids.
        ordered = np.sort(ids)
        if len(ids) and bool(np.any(ordered[1:] == ordered[:-1])):
            raise ValueError("transactions contain duplicate transaction_id values")
        return cls(
            ids,
            np.asarray(ns, dtype=np.int64),
            np.asarray(customer_id, dtype=np.int64),
            np.asarray(terminal_id, dtype=np.int64),
            np.asarray(amount, dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.transaction_id)

    def take(self, positions: np.ndarray) -> Rows:
        """The rows at ``positions``, in that order."""
        return Rows(
            self.transaction_id[positions],
            self.ns[positions],
            self.customer_id[positions],
            self.terminal_id[positions],
            self.amount[positions],
        )

    @classmethod
    def concatenate(cls, pieces: list[Rows]) -> Rows:
        """Several sets of rows as one, one after the other (ids must stay unique)."""
        return cls.from_arrays(
            *(
                np.concatenate([getattr(piece, name) for piece in pieces])
                for name in ("transaction_id", "ns", "customer_id", "terminal_id", "amount")
            )
        )

    def targets(self, target_ids: TargetIds) -> np.ndarray:
        """Positions of the target transactions (all when None), in transaction_id order."""
        if target_ids is None:
            positions = np.arange(len(self))
        else:
            ids = pd.unique(np.asarray(target_ids, dtype=np.int64))
            positions = np.flatnonzero(np.isin(self.transaction_id, ids))
            if len(positions) != len(ids):
                missing = len(ids) - len(positions)
                raise ValueError(f"{missing} target transaction ids are not in the transactions")
        return positions[np.argsort(self.transaction_id[positions], kind="stable")]


@dataclass(frozen=True)
class KnownFrauds:
    """Rows of a history labelled fraudulent, with the moment each label was reported (ns)."""

    row: np.ndarray
    reported_ns: np.ndarray

    @classmethod
    def of(cls, rows: Rows, transaction_id: np.ndarray, reported_ns: np.ndarray) -> KnownFrauds:
        """The frauds among ``rows``, from the ids of fraudulent transactions and their reports."""
        ids = np.asarray(transaction_id, dtype=np.int64)
        reported = np.asarray(reported_ns, dtype=np.int64)
        if not len(rows) or not len(ids):
            return cls(np.empty(0, np.int64), np.empty(0, np.int64))
        order = np.argsort(rows.transaction_id, kind="stable")
        sorted_ids = rows.transaction_id[order]
        at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        found = sorted_ids[at] == ids
        return cls(order[at[found]], reported[found])

    @classmethod
    def from_labels(cls, rows: Rows, labels: pd.DataFrame) -> KnownFrauds:
        """The frauds among ``rows`` from a labels frame (transaction_id, is_fraud, reported_at)."""
        if labels.empty:
            return cls(np.empty(0, np.int64), np.empty(0, np.int64))
        fraud = labels.loc[labels["is_fraud"].astype(bool), ["transaction_id", "reported_at"]]
        return cls.of(
            rows, fraud["transaction_id"].to_numpy(dtype=np.int64), epoch_ns(fraud["reported_at"])
        )
