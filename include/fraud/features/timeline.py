"""Rows sorted by (entity, time) so that window features need no per-row loop.

Every distinct timestamp gets a rank (:class:`Clock`); every row gets one int64 key, its
entity's dense code times the number of distinct timestamps plus its timestamp's rank
(:class:`Timeline`). A window of one entity is then a contiguous slice of the sorted keys,
found with ``np.searchsorted``, and sums over it are differences of cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

# Which end of a run of equal values ``np.searchsorted`` returns.
Side = Literal["left", "right"]


def _search(
    haystack: np.ndarray, needles: np.ndarray, needle_order: np.ndarray, side: Side
) -> np.ndarray:
    """``np.searchsorted`` with the needles visited in sorted order, much faster on big inputs."""
    found = np.empty(len(needles), dtype=np.int64)
    found[needle_order] = np.searchsorted(haystack, needles[needle_order], side=side)
    return found


def _targets_along(row_order: np.ndarray, target_slot: np.ndarray) -> np.ndarray:
    """Target indices in the order their rows take in ``row_order``."""
    slots = target_slot[row_order]
    return slots[slots >= 0]


@dataclass(frozen=True)
class Clock:
    """The distinct timestamps of the input: any moment becomes a rank among them."""

    times: np.ndarray  # sorted distinct timestamps, epoch ns
    rank: np.ndarray  # rank of every input row's timestamp in ``times``
    target_order: np.ndarray  # target indices sorted by time

    def rank_of(self, moments: np.ndarray, side: Side) -> np.ndarray:
        """Rank of one moment per target; the moments must rise with the target's time."""
        return _search(self.times, moments, self.target_order, side)


def make_clock(ns: np.ndarray, target_slot: np.ndarray) -> Clock:
    """Rank the timestamps of all rows."""
    order = np.argsort(ns)
    sorted_ns = ns[order]
    is_new = np.ones(len(ns), dtype=bool)
    is_new[1:] = sorted_ns[1:] != sorted_ns[:-1]
    rank = np.empty(len(ns), dtype=np.int64)
    rank[order] = np.cumsum(is_new) - 1
    return Clock(sorted_ns[is_new], rank, _targets_along(order, target_slot))


@dataclass(frozen=True)
class Timeline:
    """Rows sorted by (entity, time) under one int64 key: entity code * n_times + time rank."""

    order: np.ndarray  # input rows in (entity, time) order
    keys: np.ndarray  # the sorted keys
    codes: np.ndarray  # entity code of every input row
    n_times: int
    target_codes: np.ndarray  # entity code of every target
    target_order: np.ndarray  # target indices in (entity, time) order

    def position(self, rank: np.ndarray, side: Side) -> np.ndarray:
        """Index in ``keys`` where each target's entity reaches the given time rank."""
        needles = self.target_codes * self.n_times + rank
        return _search(self.keys, needles, self.target_order, side)


def make_timeline(
    entity: np.ndarray, clock: Clock, targets: np.ndarray, target_slot: np.ndarray
) -> Timeline:
    """Sort the rows by entity, then time."""
    codes = pd.factorize(entity)[0].astype(np.int64)
    n_times = len(clock.times)
    combined = codes * n_times + clock.rank
    # Rows with equal keys share entity and timestamp, so their relative order never matters.
    order = np.argsort(combined)
    target_order = _targets_along(order, target_slot)
    return Timeline(order, combined[order], codes, n_times, codes[targets], target_order)
