"""PSI against a fixed reference: hand-computed cases, edge cases and agreement with Evidently."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evidently.legacy.calculations.stattests import psi_stat_test
from evidently.legacy.calculations.stattests.utils import get_binned_data
from evidently.legacy.core import ColumnType

from fraud.gates import PsiBands
from fraud.model.reference import (
    MISSING,
    UNSEEN,
    DriftReference,
    bin_shares,
    build_reference,
    sample_reference,
)
from fraud.monitoring.psi import EPSILON, DriftError, psi, psi_from_shares
from fraud.monitoring.report import write_evidently_report


def _normal(seed: int, size: int, mean: float = 0.0) -> np.ndarray:
    """Return a seeded normal sample."""
    return np.random.default_rng(seed).normal(mean, 1.0, size)


@pytest.mark.parametrize(
    ("values", "categorical"),
    [
        (list(_normal(0, 1_000)), ()),
        ([0, 0, 0, 0, 0, 0, 1, 1, 2, 7] * 50, ()),
        ([3.5] * 200, ()),
        ([1.0, None, 2.0, None, 3.0] * 40, ()),
        (["pos", "web", "pos", "atm", None] * 40, ("value",)),
    ],
    ids=["normal", "count-with-ties", "constant", "with-missing", "categorical"],
)
def test_identical_data_has_zero_psi(values: list[object], categorical: tuple[str, ...]) -> None:
    frame = pd.DataFrame({"value": values})
    reference = build_reference(frame, ["value"], categorical=categorical)
    assert psi(reference, frame)["value"].psi == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("reference_shares", "current_shares", "expected"),
    [
        ([0.5, 0.5], [0.5, 0.5], 0.0),
        ([0.5, 0.5], [0.8, 0.2], 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)),
        ([0.5, 0.5], [1.0, 0.0], 0.5 * math.log(2.0) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)),
        ([0.0, 1.0], [0.0, 1.0], 0.0),
    ],
    ids=["equal", "two-bins", "empty-current-bin", "empty-on-both-sides"],
)
def test_psi_from_shares_by_hand(
    reference_shares: list[float], current_shares: list[float], expected: float
) -> None:
    assert psi_from_shares(np.array(reference_shares), np.array(current_shares)) == pytest.approx(
        expected, abs=1e-12
    )


@pytest.mark.parametrize("epsilon", [1e-4, 1e-3, 1e-6])
def test_epsilon_replaces_an_empty_reference_bin(epsilon: float) -> None:
    expected = (0.5 - epsilon) * math.log(0.5 / epsilon) + (0.5 - 1.0) * math.log(0.5 / 1.0)
    assert psi_from_shares(np.array([0.0, 1.0]), np.array([0.5, 0.5]), epsilon) == pytest.approx(
        expected, abs=1e-12
    )


def test_two_bin_reference_end_to_end() -> None:
    reference = build_reference(pd.DataFrame({"x": [1.0, 1.0, 2.0, 2.0]}), ["x"], bins=2)
    current = pd.DataFrame({"x": [1.0, 2.0, 2.0, 2.0]})
    drift = psi(reference, current)["x"]
    assert reference.columns[0].edges == (-math.inf, 1.0, math.inf)
    assert drift.current_shares == (0.25, 0.75, 0.0)
    assert drift.psi == pytest.approx(-0.25 * math.log(0.5) + 0.25 * math.log(1.5), abs=1e-12)


@pytest.mark.parametrize(
    ("mean_shift", "expected_band"),
    [(0.0, "stable"), (0.4, "warning"), (1.0, "alert")],
)
def test_shifted_distribution_crosses_the_bands(mean_shift: float, expected_band: str) -> None:
    reference = build_reference(pd.DataFrame({"x": _normal(1, 20_000)}), ["x"])
    current = pd.DataFrame({"x": _normal(2, 20_000, mean_shift)})
    assert PsiBands().band(psi(reference, current)["x"].psi) == expected_band


def test_values_beyond_the_reference_range_fall_in_the_outer_bins() -> None:
    reference = build_reference(pd.DataFrame({"x": np.arange(100.0)}), ["x"])
    shares = psi(reference, pd.DataFrame({"x": [-1e9, 1e9]}))["x"].current_shares
    assert (shares[0], shares[-2], sum(shares)) == (0.5, 0.5, 1.0)


def test_unseen_category_gets_its_own_bucket() -> None:
    reference = build_reference(
        pd.DataFrame({"channel": ["pos", "web"] * 50}), ["channel"], categorical=["channel"]
    )
    drift = psi(reference, pd.DataFrame({"channel": ["pos", "web", "crypto", "crypto"]}))["channel"]
    assert drift.buckets == ("pos", "web", UNSEEN, MISSING)
    assert drift.current_shares == (0.25, 0.25, 0.5, 0.0)
    expected = 2 * (-0.25 * math.log(0.5)) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert drift.psi == pytest.approx(expected, abs=1e-12)


def test_missing_values_form_their_own_bucket() -> None:
    reference = build_reference(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), ["x"], bins=2)
    drift = psi(reference, pd.DataFrame({"x": [1.0, 3.0, None, None]}))["x"]
    assert (drift.rows_compared, drift.current_shares) == (2, (0.25, 0.25, 0.5))
    assert PsiBands().band(drift.psi) == "alert"


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"amount": _normal(3, 500), "count": np.arange(500) % 4, "flag": 1}),
        pd.DataFrame({"amount": [1.0, None], "count": [0, 0], "flag": [None, None]}),
    ],
    ids=["typical", "tiny-with-missing"],
)
def test_json_round_trip_is_equal(frame: pd.DataFrame) -> None:
    frame = frame.assign(channel=["pos", "web"] * (len(frame) // 2))
    reference = build_reference(
        frame, ["amount", "count", "flag", "channel"], categorical=["channel"]
    )
    assert DriftReference.from_json(reference.to_json()) == reference


def test_tied_count_column_keeps_one_bin_per_frequent_value() -> None:
    counts = pd.DataFrame({"n": [0] * 60 + [1] * 20 + [2] * 15 + [30] * 5})
    assert build_reference(counts, ["n"]).columns[0].edges == (-math.inf, 0.0, 1.0, 2.0, math.inf)


@pytest.mark.parametrize(
    ("current", "message"),
    [
        (pd.DataFrame({"x": pd.Series([], dtype="float64")}), "no rows"),
        (pd.DataFrame({"y": [1.0]}), "lacks"),
    ],
    ids=["no-rows", "missing-column"],
)
def test_unmeasurable_current_frame_is_refused(current: pd.DataFrame, message: str) -> None:
    reference = build_reference(pd.DataFrame({"x": [1.0, 2.0]}), ["x"])
    with pytest.raises(DriftError, match=message):
        psi(reference, current)


def _evidently_edges(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Return the bin edges Evidently's ``get_binned_data`` derives for a numeric column."""
    return np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        (_normal(10, 5_000), _normal(11, 4_000, 0.5)),
        (_normal(12, 2_000), _normal(13, 3_000, 2.0)),
        (
            np.random.default_rng(14).exponential(1.0, 5_000),
            np.random.default_rng(15).exponential(1.5, 5_000),
        ),
    ],
    ids=["normal-vs-shifted", "normal-vs-far-shifted", "exponential"],
)
def test_agrees_with_evidently_on_the_same_bins(reference: np.ndarray, current: np.ndarray) -> None:
    edges = _evidently_edges(reference, current)
    ours_reference, ours_current = bin_shares(reference, edges), bin_shares(current, edges)
    # Evidently fills empty bins with 1e-4 only while every non-empty share is above 1e-4.
    assert min(ours_reference[ours_reference > 0].min(), ours_current[ours_current > 0].min()) > (
        EPSILON
    )
    evidently_reference, evidently_current = get_binned_data(
        pd.Series(reference), pd.Series(current), ColumnType.Numerical, n=10, feel_zeroes=False
    )
    np.testing.assert_allclose(ours_reference[:-1], evidently_reference, atol=1e-15)
    np.testing.assert_allclose(ours_current[:-1], evidently_current, atol=1e-15)
    theirs = psi_stat_test(
        pd.Series(reference), pd.Series(current), ColumnType.Numerical, None
    ).drift_score
    assert psi_from_shares(ours_reference, ours_current) == pytest.approx(theirs, abs=1e-6)


def test_agrees_with_evidently_on_categories() -> None:
    rng = np.random.default_rng(16)
    shares = [0.5, 0.3, 0.15, 0.05]
    reference = pd.Series(rng.choice(["pos", "web", "atm", "moto"], 3_000, p=shares))
    current = pd.Series(rng.choice(["pos", "web", "atm"], 2_000, p=[0.3, 0.5, 0.2]))
    stored = build_reference(reference.to_frame("channel"), ["channel"], categorical=["channel"])
    ours = psi(stored, current.to_frame("channel"))["channel"].psi
    theirs = psi_stat_test(reference, current, ColumnType.Categorical, None).drift_score
    assert ours == pytest.approx(theirs, abs=1e-6)


@pytest.mark.parametrize(("rows", "n", "expected_rows"), [(50, 20, 20), (10, 20, 10)])
def test_sample_reference_is_reproducible(rows: int, n: int, expected_rows: int) -> None:
    frame = pd.DataFrame({"x": np.arange(rows)})
    first, second = sample_reference(frame, n=n, seed=3), sample_reference(frame, n=n, seed=3)
    assert len(first) == expected_rows
    pd.testing.assert_frame_equal(first, second)


def test_evidently_report_is_written(tmp_path: Path) -> None:
    reference = pd.DataFrame({"amount": _normal(20, 300), "channel": ["pos", "web", "atm"] * 100})
    current = pd.DataFrame({"amount": _normal(21, 300, 1.0), "channel": ["pos", "web"] * 150})
    path = write_evidently_report(
        reference, current, ["amount", "channel"], tmp_path / "report.html", categorical=["channel"]
    )
    assert path.exists()
    assert "<html" in path.read_text(encoding="utf-8")


def test_a_new_report_replaces_the_previous_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "drift" / "2026-03-01.html"
    reference = pd.DataFrame({"amount": _normal(20, 300)})
    write_evidently_report(
        reference, pd.DataFrame({"amount": _normal(21, 300, 1.0)}), ["amount"], path
    )
    previous = path.read_bytes()
    with path.open("rb") as reader:  # the page serving the night's first report
        rerun = pd.DataFrame({"amount": _normal(22, 300, 2.0)})
        write_evidently_report(reference, rerun, ["amount"], path)
        assert reader.read() == previous
    assert path.read_bytes() != previous
    assert path.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert [item.name for item in path.parent.iterdir()] == [path.name]
