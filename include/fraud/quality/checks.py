"""The gate's checks: the Great Expectations suites run on one interval's frame, no database.

Row-level failures say which rows to quarantine; batch-level failures stop the run. Every
expectation says in ``meta.level`` (``expectations/*.json``) which kind it is.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsFloat

from fraud.dates import checked_interval

# The gate's thresholds are declared once, in fraud.config; the stage re-exports them.
from fraud.gates import GateConfig
from fraud.payments import gate_parameters
from fraud.quality.suites import (
    ExpectationFailure,
    RowFailure,
    build_data_docs,
    open_context,
    run_checkpoint,
)

if TYPE_CHECKING:
    import pandas as pd

QUARANTINE_SHARE = "gate.max_quarantine_share"


@dataclass(frozen=True)
class VolumeBand:
    """Row-count band of an interval, or ``None`` bounds when history is too short to judge."""

    min_rows: float | None
    max_rows: float | None
    median_daily_rows: float | None
    history_days_with_data: int

    @property
    def skipped(self) -> bool:
        """True when the volume expectation is not run."""
        return self.min_rows is None


@dataclass(frozen=True)
class CheckResult:
    """Outcome of the suites on one frame: failing rows by position and every failed expectation."""

    extracted_count: int
    row_failures: Mapping[int, tuple[str, ...]]
    failures: tuple[ExpectationFailure, ...]
    data_docs_path: str | None
    volume_band: VolumeBand | None = None
    result_ids: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def batch_failures(self) -> tuple[ExpectationFailure, ...]:
        """The failures that stop the run."""
        return tuple(failure for failure in self.failures if failure.level == "batch")

    @property
    def passed(self) -> bool:
        """True when no batch-level expectation failed."""
        return not self.batch_failures

    @property
    def quarantined_count(self) -> int:
        """Rows quarantined: those failing a row expectation, or none when the batch failed."""
        return len(self.row_failures) if self.passed else 0

    @property
    def validated_count(self) -> int:
        """Rows passed on to staging: the rest, or none when the batch failed."""
        return self.extracted_count - len(self.row_failures) if self.passed else 0


def volume_band(
    history: Sequence[int], interval_start: datetime, interval_end: datetime, gate: GateConfig
) -> VolumeBand:
    """Band of row counts for the interval from the median of the history days that have data."""
    days_with_data = [count for count in history if count > 0]
    if len(days_with_data) < gate.min_volume_history_days:
        return VolumeBand(None, None, None, len(days_with_data))
    days = (interval_end - interval_start).total_seconds() / 86400
    expected = statistics.median(days_with_data) * days
    return VolumeBand(
        min_rows=gate.volume_band_low * expected,
        max_rows=gate.volume_band_high * expected,
        median_daily_rows=float(statistics.median(days_with_data)),
        history_days_with_data=len(days_with_data),
    )


def _check_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of the frame the suites run on: positional index, exact amounts converted to float."""
    import pandas as pd

    view = frame.reset_index(drop=True).copy(deep=False)
    if "tx_amount" in view.columns and view["tx_amount"].dtype == object:
        view["tx_amount"] = view["tx_amount"].map(_amount_as_float).astype("float64")
    if "original_amount" in view.columns and view["original_amount"].dtype == object:
        view["original_amount"] = view["original_amount"].map(_optional_amount).astype("float64")
    if "tx_datetime" in view.columns and isinstance(view["tx_datetime"].dtype, pd.DatetimeTZDtype):
        view["tx_datetime"] = view["tx_datetime"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return view


def _amount_as_float(value: object) -> float | None:
    """Read one amount (Decimal, number or decimal text) as float; ``None`` when it is not one."""
    if value is None or isinstance(value, bool) or not isinstance(value, SupportsFloat | str):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _optional_amount(value: object) -> float | None:
    """Read an optional amount: ``None`` stays null, anything else that is not a finite number
    (NaN, infinity, text) reads as 0, which the strictly-positive check quarantines."""
    if value is None:
        return None
    amount = _amount_as_float(value)
    return amount if amount is not None and math.isfinite(amount) else 0.0


def _split(
    found: Sequence[ExpectationFailure | RowFailure], row_count: int
) -> tuple[dict[int, tuple[str, ...]], list[ExpectationFailure]]:
    """Collect row failures by position and turn each failed row expectation into a summary."""
    by_row: dict[int, list[str]] = {}
    failures: list[ExpectationFailure] = []
    for item in found:
        if isinstance(item, ExpectationFailure):
            failures.append(item)
            continue
        name, positions = item
        for position in positions:
            by_row.setdefault(position, []).append(name)
        observed = f"{len(positions)} of {row_count} rows"
        failures.append(ExpectationFailure(name, "row", observed, f"{name}: {observed} failed"))
    return {position: tuple(names) for position, names in sorted(by_row.items())}, failures


def _share_failure(quarantined: int, extracted: int, gate: GateConfig) -> ExpectationFailure | None:
    """The batch failure raised when too many rows would be quarantined, if they are."""
    share = quarantined / extracted if extracted else 0.0
    if share <= gate.max_quarantine_fraction:
        return None
    observed = f"{share:.4f} ({quarantined} of {extracted} rows)"
    allowed = gate.max_quarantine_fraction
    message = f"{QUARANTINE_SHARE} failed: observed {observed}, allowed at most {allowed}"
    return ExpectationFailure(QUARANTINE_SHARE, "batch", observed, message)


def check_frame(
    frame: pd.DataFrame,
    *,
    interval_start: datetime,
    interval_end: datetime,
    known_ids: set[int] | frozenset[int],
    volume_history: Sequence[int],
    gate: GateConfig,
    context_dir: Path,
    run_name: str | None = None,
    build_docs: bool = True,
) -> CheckResult:
    """Run the transaction suites on a frame (no database) and say which rows and batch failed."""
    interval_start, interval_end = checked_interval(interval_start, interval_end)
    gate_context = open_context(Path(context_dir).resolve())
    view = _check_view(frame)
    band = volume_band(volume_history, interval_start, interval_end, gate)
    parameters = {
        "interval_start": interval_start,
        "interval_end": interval_end,
        "amount_ceiling": gate.amount_ceiling,
        "known_transaction_ids": sorted(int(value) for value in known_ids),
        "volume_min_rows": band.min_rows,
        "volume_max_rows": band.max_rows,
        **gate_parameters(),
    }
    runs = [run_checkpoint(gate_context, "transactions_schema", view, parameters, run_name)]
    if not runs[0].found:
        checkpoint = "transactions_without_volume" if band.skipped else "transactions"
        runs.append(run_checkpoint(gate_context, checkpoint, view, parameters, run_name))
    row_failures, failures = _split([item for run in runs for item in run.found], len(view))
    share = _share_failure(len(row_failures), len(view), gate)
    result_ids = tuple(result_id for run in runs for result_id in run.result_ids)
    return CheckResult(
        extracted_count=len(view),
        row_failures=row_failures,
        failures=(*failures, *([share] if share else [])),
        data_docs_path=build_data_docs(context_dir, result_ids) if build_docs else None,
        volume_band=band,
        result_ids=result_ids,
    )


def check_labels(
    frame: pd.DataFrame, *, context_dir: Path, run_name: str | None = None, build_docs: bool = True
) -> CheckResult:
    """Run the label suite on the labels reported in an interval (no database)."""
    gate_context = open_context(Path(context_dir).resolve())
    view = frame.reset_index(drop=True)
    run = run_checkpoint(gate_context, "fraud_labels", view, {}, run_name)
    row_failures, failures = _split(run.found, len(view))
    return CheckResult(
        extracted_count=len(view),
        row_failures=row_failures,
        failures=tuple(failures),
        data_docs_path=build_data_docs(context_dir, run.result_ids) if build_docs else None,
        result_ids=run.result_ids,
    )
