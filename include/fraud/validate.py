"""The data-quality gate: run the Great Expectations suites on one interval and split its rows.

Row-level failures are quarantined verbatim; batch-level failures stop the run. The suites live
in ``expectations/*.json``; every expectation says in ``meta.level`` which kind it is.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import time
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fraud.config import Settings
from fraud.extract import (
    INTERVAL_SNAPSHOT,
    LABEL_COLUMNS,
    TRANSACTION_COLUMNS,
    daily_volume_history,
    read_interval,
    read_labels,
    validated_elsewhere_ids,
)
from fraud.gx import (
    ExpectationFailure,
    RowFailure,
    build_data_docs,
    open_context,
    run_checkpoint,
)

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

QUARANTINE_SHARE = "gate.max_quarantine_share"


@dataclass(frozen=True)
class ValidationOutcome:
    """What one validation run decided for its interval; also its row in quality.validation_run."""

    run_id: str
    interval_start: datetime
    interval_end: datetime
    status: str
    extracted_count: int
    validated_count: int
    quarantined_count: int
    failures: tuple[ExpectationFailure, ...]
    data_docs_path: str | None
    # Seconds spent reading, checking, rendering Data Docs and writing; not stored in the ledger.
    phase_seconds: Mapping[str, float] = field(default_factory=dict)


class BatchValidationError(RuntimeError):
    """A batch-level expectation failed: nothing was written to staging for the interval."""

    def __init__(self, outcome: ValidationOutcome) -> None:
        batch = [failure for failure in outcome.failures if failure.level == "batch"]
        more = f" (+{len(batch) - 1} more batch failures)" if len(batch) > 1 else ""
        first = batch[0].message if batch else "batch failed"
        super().__init__(
            f"quality gate failed for [{outcome.interval_start.isoformat()}, "
            f"{outcome.interval_end.isoformat()}) run {outcome.run_id}: {first}{more}"
        )
        self.outcome = outcome


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gate, declared as data and logged with every run."""

    amount_ceiling: float = 100_000.0
    max_quarantine_share: float = 0.05
    volume_band_low: float = 0.3
    volume_band_high: float = 3.0
    volume_history_days: int = 28
    min_volume_history_days: int = 7

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> GateConfig:
        """Build the gate from the pipeline settings."""
        values = {
            "amount_ceiling": settings.amount_ceiling,
            "max_quarantine_share": settings.max_quarantine_share,
            "volume_band_low": settings.volume_band_low,
            "volume_band_high": settings.volume_band_high,
            "volume_history_days": settings.volume_history_days,
            "min_volume_history_days": settings.min_volume_history_days,
        }
        return cls(**{**values, **overrides})


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


# --- checks -------------------------------------------------------------------------------------


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
    if "tx_datetime" in view.columns and isinstance(view["tx_datetime"].dtype, pd.DatetimeTZDtype):
        view["tx_datetime"] = view["tx_datetime"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return view


def _amount_as_float(value: object) -> float | None:
    """Read one amount (Decimal, number or decimal text) as float; ``None`` when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _utc_interval(interval_start: datetime, interval_end: datetime) -> tuple[datetime, datetime]:
    """Interval bounds as UTC instants, a naive bound read as UTC; an empty interval is an error."""
    start, end = (
        moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        for moment in (interval_start, interval_end)
    )
    if end <= start:
        raise ValueError(f"empty data interval [{start.isoformat()}, {end.isoformat()})")
    return start, end


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
    if share <= gate.max_quarantine_share:
        return None
    observed = f"{share:.4f} ({quarantined} of {extracted} rows)"
    allowed = gate.max_quarantine_share
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
    interval_start, interval_end = _utc_interval(interval_start, interval_end)
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


# --- the database transaction -------------------------------------------------------------------


def _json_value(value: object) -> object:
    """One cell as JSON without altering it: exact decimals and odd floats become text."""
    import pandas as pd

    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def source_rows(frame: pd.DataFrame, positions: Sequence[int], columns: Sequence[str]) -> list[str]:
    """The original rows at ``positions`` as JSON text, values unaltered."""
    rows = frame.iloc[list(positions)][list(columns)].to_dict("records")
    return [
        json.dumps({key: _json_value(value) for key, value in row.items()}, allow_nan=False)
        for row in rows
    ]


def quarantine_records(
    frame: pd.DataFrame,
    failures: Mapping[int, tuple[str, ...]],
    columns: Sequence[str],
    time_column: str,
) -> list[dict[str, Any]]:
    """Rows for quality.quarantine: key, time, verbatim source row and failed expectations."""
    positions = list(failures)
    if not positions:
        return []
    subset = frame.iloc[positions]
    return [
        {
            "transaction_id": _json_value(transaction_id),
            "tx_datetime": _json_value(moment),
            "source_row": source_row,
            "failed_expectations": list(failures[position]),
        }
        for position, source_row, transaction_id, moment in zip(
            positions,
            source_rows(frame, positions, columns),
            subset["transaction_id"],
            subset[time_column],
            strict=True,
        )
    ]


_DELETE_STAGED = """
delete from staging.transactions
where tx_datetime >= :interval_start and tx_datetime < :interval_end
"""

_RESOLVE_QUARANTINE = """
update quality.quarantine
set resolved_at = now(), resolved_by_run_id = :run_id
where data_interval_start = :interval_start and data_interval_end = :interval_end
    and resolved_at is null
"""

# Validated rows move server-side, from the very snapshot the checks read.
_INSERT_VALIDATED = f"""
insert into staging.transactions
    (transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, run_id)
select transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, :run_id
from {INTERVAL_SNAPSHOT}
where transaction_id <> all(cast(:quarantined_ids as bigint[]))
"""

# All quarantined rows in one statement; values travel as bound JSON, never as SQL text.
_INSERT_QUARANTINE = """
insert into quality.quarantine (
    transaction_id, tx_datetime, source_row, failed_expectations,
    run_id, data_interval_start, data_interval_end
)
select
    (record ->> 'transaction_id')::bigint,
    (record ->> 'tx_datetime')::timestamptz,
    (record ->> 'source_row')::jsonb,
    array(select jsonb_array_elements_text(record -> 'failed_expectations')),
    :run_id,
    :interval_start,
    :interval_end
from jsonb_array_elements(cast(:records as jsonb)) with ordinality as records (record, position)
order by position
"""


def _replace_interval(
    connection: Connection,
    frame: pd.DataFrame,
    check: CheckResult,
    labels: pd.DataFrame,
    label_check: CheckResult,
    *,
    run_id: str,
    interval_start: datetime,
    interval_end: datetime,
) -> None:
    """Replace the interval's staging rows and open quarantine set with this run's."""
    interval = {"interval_start": interval_start, "interval_end": interval_end}
    connection.execute(sa.text(_DELETE_STAGED), interval)
    connection.execute(sa.text(_RESOLVE_QUARANTINE), {**interval, "run_id": run_id})
    quarantined_ids = frame["transaction_id"].iloc[list(check.row_failures)]
    staged = connection.execute(
        sa.text(_INSERT_VALIDATED),
        {"run_id": run_id, "quarantined_ids": [int(value) for value in quarantined_ids]},
    ).rowcount
    if staged != check.validated_count:
        raise RuntimeError(f"staged {staged} rows but {check.validated_count} were validated")
    write_quarantine(
        connection,
        quarantine_records(frame, check.row_failures, TRANSACTION_COLUMNS, "tx_datetime")
        + quarantine_records(
            labels, label_check.row_failures, LABEL_COLUMNS, "transaction_tx_datetime"
        ),
        run_id=run_id,
        interval_start=interval_start,
        interval_end=interval_end,
    )


def _hold_failed_batch(
    connection: Connection,
    frame: pd.DataFrame,
    check: CheckResult,
    *,
    run_id: str,
    interval_start: datetime,
    interval_end: datetime,
) -> int:
    """Hold every row of a failed batch in quarantine under the expectations that stopped it.

    Nothing reaches staging, features or scores, yet each extracted row is stored verbatim and
    counted, so extracted = validated + quarantined holds for failed runs too, and a replay after
    the source is corrected closes these rows like any others.
    """
    batch = tuple(failure.expectation for failure in check.failures if failure.level == "batch")
    held = {
        position: tuple(dict.fromkeys((*check.row_failures.get(position, ()), *batch)))
        for position in range(len(frame))
    }
    connection.execute(
        sa.text(_RESOLVE_QUARANTINE),
        {"run_id": run_id, "interval_start": interval_start, "interval_end": interval_end},
    )
    return write_quarantine(
        connection,
        quarantine_records(frame, held, TRANSACTION_COLUMNS, "tx_datetime"),
        run_id=run_id,
        interval_start=interval_start,
        interval_end=interval_end,
    )


def write_quarantine(
    connection: Connection,
    records: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    interval_start: datetime,
    interval_end: datetime,
) -> int:
    """Insert quarantine records (key, time, verbatim source row, failed expectations)."""
    if not records:
        return 0
    connection.execute(
        sa.text(_INSERT_QUARANTINE),
        {
            "records": json.dumps(list(records), allow_nan=False),
            "run_id": run_id,
            "interval_start": interval_start,
            "interval_end": interval_end,
        },
    )
    return len(records)


def _record_run(connection: Connection, outcome: ValidationOutcome) -> None:
    """Append the run to the row ledger quality.validation_run."""
    connection.execute(
        sa.text(
            "insert into quality.validation_run (run_id, data_interval_start, data_interval_end,"
            " status, extracted_count, validated_count, quarantined_count, failures,"
            " data_docs_path) values (:run_id, :interval_start, :interval_end, :status,"
            " :extracted_count, :validated_count, :quarantined_count, cast(:failures as jsonb),"
            " :data_docs_path)"
        ),
        {
            **{
                key: value
                for key, value in asdict(outcome).items()
                if key not in {"failures", "phase_seconds"}
            },
            "failures": json.dumps([asdict(failure) for failure in outcome.failures]),
        },
    )


@contextmanager
def _timed(phase_seconds: dict[str, float], phase: str) -> Generator[None, None, None]:
    """Record the wall-clock seconds of the block as ``phase_seconds[phase]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        phase_seconds[phase] = round(time.perf_counter() - started, 3)


def validate_interval(
    engine: Engine,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    gate: GateConfig,
    artifact_dir: Path,
) -> ValidationOutcome:
    """Validate one interval in one transaction; raise BatchValidationError after recording it."""
    interval_start, interval_end = _utc_interval(interval_start, interval_end)
    context_dir = Path(artifact_dir).resolve() / "gx"
    phases: dict[str, float] = {}
    with engine.begin() as connection:
        connection.execute(
            sa.text("select pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"fraud.validate:{interval_start.isoformat()}"},
        )
        with _timed(phases, "read"):
            frame = read_interval(connection, interval_start, interval_end)
            known_ids = validated_elsewhere_ids(connection, interval_start, interval_end)
            history = daily_volume_history(connection, interval_start, gate.volume_history_days)
            labels = read_labels(connection, interval_start, interval_end)
        with _timed(phases, "check"):
            check = check_frame(
                frame,
                interval_start=interval_start,
                interval_end=interval_end,
                known_ids=known_ids,
                volume_history=history,
                gate=gate,
                context_dir=context_dir,
                run_name=run_id,
                build_docs=False,
            )
            label_check = check_labels(
                labels, context_dir=context_dir, run_name=run_id, build_docs=False
            )
        with _timed(phases, "docs"):
            docs = build_data_docs(context_dir, check.result_ids + label_check.result_ids)
        write_started = time.perf_counter()
        interval = {
            "run_id": run_id,
            "interval_start": interval_start,
            "interval_end": interval_end,
        }
        if check.passed:
            _replace_interval(connection, frame, check, labels, label_check, **interval)
            validated, quarantined = check.validated_count, check.quarantined_count
        else:
            validated, quarantined = 0, _hold_failed_batch(connection, frame, check, **interval)
        outcome = ValidationOutcome(
            run_id=run_id,
            interval_start=interval_start,
            interval_end=interval_end,
            status="passed" if check.passed else "failed",
            extracted_count=check.extracted_count,
            validated_count=validated,
            quarantined_count=quarantined,
            failures=check.failures + label_check.failures,
            data_docs_path=docs,
        )
        _record_run(connection, outcome)
    phases["write"] = round(time.perf_counter() - write_started, 3)
    outcome = replace(outcome, phase_seconds=phases)
    _log(outcome, gate, check.volume_band)
    if not check.passed:
        raise BatchValidationError(outcome)
    return outcome


def _log(outcome: ValidationOutcome, gate: GateConfig, band: VolumeBand | None) -> None:
    """Log the decision with the gate and volume band it was taken against."""
    logger.info(
        "validation %s of [%s, %s): %s, extracted %d, validated %d, quarantined %d, gate %s,"
        " volume band %s, failures %s, seconds %s",
        outcome.run_id,
        outcome.interval_start.isoformat(),
        outcome.interval_end.isoformat(),
        outcome.status,
        outcome.extracted_count,
        outcome.validated_count,
        outcome.quarantined_count,
        asdict(gate),
        band,
        [failure.message for failure in outcome.failures],
        dict(outcome.phase_seconds),
    )
