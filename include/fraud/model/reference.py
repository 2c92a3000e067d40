"""The drift reference of a model version: fixed bins and shares of every monitored column.

The reference is built once per model version from its validation window by
:func:`build_reference` and stored next to the model as JSON, so every night compares the
scored batch against exactly the same bins and shares (:mod:`fraud.monitoring.psi`). For a
numeric column the bins are the reference deciles (tied quantiles merged, so count-like columns
keep valid bins; the outer edges are -inf and +inf, so every current value lands in a bin; bins
are right-closed, ``(a, b]``); for a categorical column each reference category is a bucket and
one extra ``__unseen__`` bucket collects categories the model never saw.

Missing values are neither dropped nor imputed: they form their own ``__missing__`` bucket,
because the model routes missing values down a learned branch, so a feature that suddenly
goes missing changes the scores as much as a shifted one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from fraud.features.columns import FEATURE_COLUMNS

UNSEEN = "__unseen__"
MISSING = "__missing__"
NUMERIC = "numeric"
CATEGORICAL = "categorical"
MONITORED_SCORE = "score"
# A single night is all weekend or all weekday, so its PSI against a week-long reference is
# always huge and says nothing about the world changing: calendar flags are not monitored.
NOT_MONITORED = frozenset({"is_weekend"})
DRIFT_COLUMNS = (
    *(column for column in FEATURE_COLUMNS if column not in NOT_MONITORED),
    MONITORED_SCORE,
)


@dataclass(frozen=True)
class ColumnReference:
    """Buckets of one column and the reference share of each (the missing bucket last)."""

    column: str
    kind: str
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()

    def buckets(self) -> tuple[str, ...]:
        """Return one readable label per share: bins or categories, then unseen and missing."""
        if self.kind == CATEGORICAL:
            return (*self.categories, UNSEEN, MISSING)
        bins = tuple(f"({low:g}, {high:g}]" for low, high in pairwise(self.edges))
        return (*bins, MISSING)


@dataclass(frozen=True)
class DriftReference:
    """The training-time distribution of every monitored column of one model version."""

    columns: tuple[ColumnReference, ...]
    n_rows: int
    bins: int = 10

    def to_json(self) -> str:
        """Serialise to strict JSON; the infinite outer edges are implied, not written."""
        payload = {
            "n_rows": self.n_rows,
            "bins": self.bins,
            "columns": [
                {
                    "column": column.column,
                    "kind": column.kind,
                    "inner_edges": list(column.edges[1:-1]),
                    "categories": list(column.categories),
                    "shares": list(column.shares),
                }
                for column in self.columns
            ],
        }
        return json.dumps(payload, indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> DriftReference:
        """Read a reference written by :meth:`to_json`."""
        payload = json.loads(text)
        columns = tuple(
            ColumnReference(
                column=item["column"],
                kind=item["kind"],
                edges=(
                    (-math.inf, *map(float, item["inner_edges"]), math.inf)
                    if item["kind"] == NUMERIC
                    else ()
                ),
                categories=tuple(item["categories"]),
                shares=tuple(map(float, item["shares"])),
            )
            for item in payload["columns"]
        )
        return cls(columns=columns, n_rows=int(payload["n_rows"]), bins=int(payload["bins"]))


def as_float(series: pd.Series) -> np.ndarray:
    """Return a column as float64 with missing values as NaN (nullable dtypes included)."""
    return series.to_numpy(dtype="float64", na_value=np.nan)


def quantile_edges(
    values: np.ndarray, bins: int, weights: np.ndarray | None = None
) -> tuple[float, ...]:
    """Return -inf, the distinct inner (weighted) quantiles of the non-missing values, +inf."""
    present = ~np.isnan(values)
    if not present.any() or bins < 2:
        return (-math.inf, math.inf)
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    # Quantiles are observed values, so a tied value closes its own bin instead of leaving
    # an empty interpolated bin beside it.
    inner = np.unique(
        np.quantile(
            values[present],
            levels,
            method="inverted_cdf",
            weights=None if weights is None else weights[present],
        )
    )
    return (-math.inf, *map(float, inner), math.inf)


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Return the count in each right-closed bin of ``edges`` (outer edges as +-inf), then NaNs."""
    # One ``values <= cut`` pass per inner edge, differenced, is several times faster than
    # searchsorted + bincount for a few dozen bins; NaN compares false, so it lands in no bin.
    values = np.ascontiguousarray(values, dtype="float64")
    missing = int(np.count_nonzero(np.isnan(values)))
    at_or_below = [np.count_nonzero(values <= cut) for cut in edges[1:-1]]
    cumulative = np.array([0, *at_or_below, values.size - missing], dtype="int64")
    return np.append(np.diff(cumulative), missing)


def bin_shares(
    values: np.ndarray, edges: Sequence[float], weights: np.ndarray | None = None
) -> np.ndarray:
    """Return the (weighted) share of values in each right-closed bin of ``edges``, then the
    missing share."""
    if weights is None:
        return bin_counts(values, edges) / max(len(values), 1)
    values = np.asarray(values, dtype="float64")
    missing = np.isnan(values)
    # Right-closed bins: a value lands after every inner edge it exceeds.
    slot = np.searchsorted(np.asarray(edges[1:-1], dtype="float64"), values[~missing], "left")
    sums = np.bincount(slot, weights=weights[~missing], minlength=len(edges) - 1)
    return np.append(sums, weights[missing].sum()) / max(float(weights.sum()), 1e-300)


def category_counts(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Return the count of each category, then of unseen categories, then of missing values."""
    present = values.dropna().astype(str)
    counts = present.value_counts()
    known = np.array([counts.get(category, 0) for category in categories], dtype="int64")
    unseen = present.size - known.sum()
    missing = values.size - present.size
    return np.append(known, [unseen, missing])


def category_shares(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Return the share of each category, then of unseen categories, then of missing values."""
    return category_counts(values, categories) / max(values.size, 1)


def _numeric_reference(
    column: str, series: pd.Series, bins: int, weights: np.ndarray | None
) -> ColumnReference:
    """Fix the quantile bins of one numeric column and its reference shares."""
    values = as_float(series)
    edges = quantile_edges(values, bins, weights)
    shares = bin_shares(values, edges, weights)
    return ColumnReference(column, NUMERIC, edges=edges, shares=tuple(map(float, shares)))


def _categorical_reference(column: str, series: pd.Series) -> ColumnReference:
    """Fix the categories of one categorical column and its reference shares."""
    categories = tuple(sorted(series.dropna().astype(str).unique()))
    shares = category_shares(series, categories)
    return ColumnReference(
        column, CATEGORICAL, categories=categories, shares=tuple(map(float, shares))
    )


def build_reference(
    frame: pd.DataFrame,
    columns: Sequence[str],
    bins: int = 10,
    categorical: Sequence[str] = (),
) -> DriftReference:
    """Fix the buckets and reference shares of ``columns`` from a model's validation frame.

    A ``weight`` column (a sample's rows stand for the payments left out) weighs each row, so
    the bins and shares are those of the whole window. Categorical columns are unweighted.
    """
    weights = frame["weight"].to_numpy(dtype="float64") if "weight" in frame else None
    references = tuple(
        _categorical_reference(column, frame[column])
        if column in categorical
        else _numeric_reference(column, frame[column], bins, weights)
        for column in columns
    )
    return DriftReference(columns=references, n_rows=len(frame), bins=bins)


def sample_reference(frame: pd.DataFrame, n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Return a reproducible sample of at most ``n`` rows, stored with the model for reports.

    With a ``weight`` column, rows are drawn in proportion to it, so the sample looks like the
    whole window rather than like the training sample.
    """
    if "weight" in frame:
        if len(frame) <= n and frame["weight"].nunique() <= 1:
            return frame.reset_index(drop=True)
        drawn = frame.sample(n=n, weights="weight", replace=len(frame) <= n, random_state=seed)
        return drawn.reset_index(drop=True)
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    return frame.sample(n=n, random_state=seed).reset_index(drop=True)
