"""Population stability index (PSI) of each feature and of the score against a fixed reference.

PSI = sum over buckets of (current share - reference share) * ln(current / reference share),
with ``epsilon`` (1e-4) substituted for an empty bucket on either side. The buckets are the
model version's reference (:mod:`fraud.model.reference`), missing values in a bucket of their
own. A column with no missing values on either side gets a zero contribution from that bucket;
``rows_compared`` counts the non-missing current values.

How this differs from Evidently's PSI. Evidently (0.7, ``get_binned_data``) re-derives the
bins on every comparison: equal-width bins (Sturges' rule for their number) over the union
of reference and current values, or one bucket per value when the reference has at most 20
distinct values, and it fills empty buckets with 1e-4 (or a millionth of the smallest
non-empty share when that is itself below 1e-4). Its bins therefore move with each night's
data: one outlier stretches every bin, and two nights are not measured on the same scale.
Here the bins are fixed per model version from the reference distribution alone: quantile
bins give each bucket about a tenth of the training mass (so heavy-tailed amounts are not
crushed into one equal-width bin), the same bins are used every night until the next model
version, and a night's PSI is comparable with the previous nights'. Given the same bins and
no share below 1e-4, both compute the same number (checked in the unit tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraud.model.reference import (
    CATEGORICAL,
    ColumnReference,
    DriftReference,
    as_float,
    bin_counts,
    category_counts,
)

EPSILON = 1e-4


class DriftError(ValueError):
    """Drift cannot be measured: no current rows, or a monitored column is absent."""


@dataclass(frozen=True)
class ColumnDrift:
    """PSI of one column, with the shares it was computed from."""

    column: str
    psi: float
    rows_compared: int
    buckets: tuple[str, ...]
    reference_shares: tuple[float, ...]
    current_shares: tuple[float, ...]


def psi_from_shares(
    reference_shares: np.ndarray, current_shares: np.ndarray, epsilon: float = EPSILON
) -> float:
    """Return sum((cur - ref) * ln(cur / ref)) with ``epsilon`` in place of empty buckets."""
    reference = np.where(np.asarray(reference_shares) == 0, epsilon, reference_shares)
    current = np.where(np.asarray(current_shares) == 0, epsilon, current_shares)
    return float(np.sum((current - reference) * np.log(current / reference)))


def _current_counts(reference: ColumnReference, series: pd.Series) -> np.ndarray:
    """Return the current counts of one column in the reference's buckets, missing last."""
    if reference.kind == CATEGORICAL:
        return category_counts(series, reference.categories)
    return bin_counts(as_float(series), reference.edges)


class PsiCounts:
    """Bucket counts of every reference column, added up chunk by chunk: a night's PSI then
    costs the memory of one chunk, whatever the night's volume."""

    def __init__(self, reference: DriftReference) -> None:
        self.reference = reference
        self.rows = 0
        self.counts = {
            column.column: np.zeros(len(column.shares), dtype=np.int64)
            for column in reference.columns
        }

    def add(self, current: pd.DataFrame) -> None:
        """Count one chunk of current rows into the reference's buckets."""
        absent = [
            column.column for column in self.reference.columns if column.column not in current
        ]
        if absent:
            raise DriftError(f"the current frame lacks the reference columns {absent}")
        for column in self.reference.columns:
            self.counts[column.column] += _current_counts(column, current[column.column])
        self.rows += len(current)

    def results(self, epsilon: float = EPSILON) -> dict[str, ColumnDrift]:
        """The PSI of every reference column over all the rows added, keyed by column name."""
        if self.rows == 0:
            raise DriftError("the current frame has no rows: PSI is undefined")
        results: dict[str, ColumnDrift] = {}
        for column in self.reference.columns:
            counts = self.counts[column.column]
            shares = counts / self.rows
            results[column.column] = ColumnDrift(
                column=column.column,
                psi=psi_from_shares(np.asarray(column.shares), shares, epsilon),
                rows_compared=int(self.rows - counts[-1]),
                buckets=column.buckets(),
                reference_shares=column.shares,
                current_shares=tuple(map(float, shares)),
            )
        return results


def psi(
    reference: DriftReference, current: pd.DataFrame, epsilon: float = EPSILON
) -> dict[str, ColumnDrift]:
    """Return the PSI of every reference column in ``current``, keyed by column name."""
    counts = PsiCounts(reference)
    if not current.empty:
        counts.add(current)
    return counts.results(epsilon)
