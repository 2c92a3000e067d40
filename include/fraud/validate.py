"""The data-quality gate: run the Great Expectations suites on one interval and split its rows.

Row-level failures are quarantined verbatim; batch-level failures stop the run. The suites live
in ``expectations/*.json``; every expectation says in ``meta.level`` which kind it is.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fraud.config import REPOSITORY_ROOT, Settings
from fraud.db import copy_frame
from fraud.extract import (
    LABEL_COLUMNS,
    TRANSACTION_COLUMNS,
    daily_volume_history,
    read_interval,
    read_labels,
    validated_elsewhere_ids,
)

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

EXPECTATIONS_DIR = REPOSITORY_ROOT / "expectations"
RESULT_FORMAT = {"result_format": "COMPLETE"}
QUARANTINE_SHARE = "gate.max_quarantine_share"
_LEVELS = ("row", "batch")
_ASSETS = ("transactions", "fraud_labels")
# Which suites each checkpoint validates; the schema runs alone first because the row checks
# cannot be evaluated on missing or retyped columns.
_CHECKPOINTS: dict[str, tuple[str, ...]] = {
    "transactions_schema": ("transactions_schema",),
    "transactions": ("transactions", "transactions_volume"),
    "transactions_without_volume": ("transactions",),
    "fraud_labels": ("fraud_labels",),
}


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation: its name, its level, what was observed and a one-line message."""

    expectation: str
    level: str
    observed: str
    message: str


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


# --- suites and the Great Expectations context -------------------------------------------------


@functools.cache
def load_suites(expectations_dir: Path = EXPECTATIONS_DIR) -> dict[str, dict[str, Any]]:
    """Read the versioned suites and check each expectation declares its level and notes."""
    suites: dict[str, dict[str, Any]] = {}
    for path in sorted(expectations_dir.glob("*.json")):
        suite = json.loads(path.read_text())
        names = [expectation_name(suite["name"], item) for item in suite["expectations"]]
        if len(set(names)) != len(names):
            raise ValueError(f"{path.name}: two expectations share a name")
        for name, item in zip(names, suite["expectations"], strict=True):
            meta = item.get("meta", {})
            if meta.get("level") not in _LEVELS or not meta.get("notes"):
                raise ValueError(f"{path.name}: {name} needs meta.level (row|batch) and meta.notes")
        suites[suite["name"]] = suite
    return suites


def expectation_name(suite_name: str, expectation: Mapping[str, Any]) -> str:
    """Name an expectation as ``suite.type(columns)``, the form stored in quarantine rows."""
    kwargs = expectation.get("kwargs", {})
    columns = [str(kwargs[key]) for key in ("column", "column_A", "column_B") if key in kwargs]
    suffix = f"({','.join(columns)})" if columns else ""
    return f"{suite_name}.{expectation['type']}{suffix}"


@dataclass(frozen=True)
class _GateContext:
    """An open file-backed context with one checkpoint per validation step."""

    context: Any
    checkpoints: Mapping[str, Any]
    docs_index: str | None


@functools.cache
def _open_context(context_dir: Path) -> _GateContext:
    """Create or open the GX project under ``context_dir`` and register suites and checkpoints."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", context_root_dir=str(context_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()
    source = _pandas_source(context)
    batches = {name: _whole_frame(source, name) for name in _ASSETS}
    definitions = {}
    for name, suite in load_suites().items():
        stored = context.suites.add_or_update(gx.ExpectationSuite(**suite))
        definition = gx.ValidationDefinition(
            name=name, data=batches[suite["meta"]["data_asset"]], suite=stored
        )
        definitions[name] = context.validation_definitions.add_or_update(definition)
    checkpoints = {
        name: context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name,
                validation_definitions=[definitions[suite] for suite in suites],
                result_format=RESULT_FORMAT,
            )
        )
        for name, suites in _CHECKPOINTS.items()
    }
    sites = context.get_docs_sites_urls(only_if_exists=False)
    url = sites[0]["site_url"] if sites else None
    index = url.removeprefix("file://") if url else None
    return _GateContext(context=context, checkpoints=checkpoints, docs_index=index)


def _pandas_source(context: Any) -> Any:
    """Return the in-memory pandas data source, adding it on first use."""
    try:
        return context.data_sources.get("frames")
    except (KeyError, ValueError):
        return context.data_sources.add_pandas("frames")


def _whole_frame(source: Any, asset_name: str) -> Any:
    """Return the whole-dataframe batch definition of an asset, adding both on first use."""
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition("whole_frame")
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe("whole_frame")


@dataclass(frozen=True)
class _CheckpointRun:
    """Failed expectations of one checkpoint run (in suite order) and its stored result ids."""

    found: list[ExpectationFailure | tuple[str, list[int]]]
    result_ids: tuple[Any, ...]


def _run_checkpoint(
    gate_context: _GateContext,
    checkpoint: str,
    frame: pd.DataFrame,
    parameters: Mapping[str, Any],
    run_name: str | None,
) -> _CheckpointRun:
    """Run one checkpoint on a frame; return batch failures and row failures with positions."""
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(run_name=run_name) if run_name else None
    result = gate_context.checkpoints[checkpoint].run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=dict(parameters),
        run_id=run_id,
    )
    order = _expectation_order()
    found: list[tuple[int, ExpectationFailure | tuple[str, list[int]]]] = []
    for validation in result.run_results.values():
        for item in validation.results:
            if item.success:
                continue
            config = item.expectation_config
            name = expectation_name(
                validation.suite_name, {"type": config.type, "kwargs": config.kwargs}
            )
            found.append((order.get(name, len(order)), _failure_of(name, config, item)))
    return _CheckpointRun(
        found=[failure for _, failure in sorted(found, key=lambda pair: pair[0])],
        result_ids=tuple(result.run_results),
    )


def _expectation_order() -> dict[str, int]:
    """Position of every expectation across the suites, so failures are reported in that order."""
    suites = load_suites()
    names = [
        expectation_name(name, item) for name in suites for item in suites[name]["expectations"]
    ]
    return {name: position for position, name in enumerate(names)}


def build_data_docs(context_dir: Path, result_ids: Sequence[Any]) -> str | None:
    """Render the given validation results and the index of the Data Docs site; return its path."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    gate_context = _open_context(Path(context_dir).resolve())
    suites = {result_id.expectation_suite_identifier.name for result_id in result_ids}
    gate_context.context.build_data_docs(
        resource_identifiers=[
            *result_ids,
            *(ExpectationSuiteIdentifier(name=name) for name in sorted(suites)),
        ]
    )
    return gate_context.docs_index


def _failure_of(name: str, config: Any, item: Any) -> ExpectationFailure | tuple[str, list[int]]:
    """Turn one failed GX result into a batch failure, or a row failure with its positions."""
    exception = item.exception_info or {}
    raised = exception.get("raised_exception") or any(
        isinstance(value, dict) and value.get("raised_exception") for value in exception.values()
    )
    if raised:
        observed = _one_line(_exception_message(exception))
        return ExpectationFailure(name, "batch", observed, f"{name} could not run: {observed}")
    details = item.result or {}
    if config.meta.get("level") == "row" and "unexpected_index_list" in details:
        return (name, [int(position) for position in details["unexpected_index_list"]])
    observed = _observed(details)
    message = f"{name} failed: observed {observed}{_expected(config.kwargs)}"
    return ExpectationFailure(name, "batch", observed, _one_line(message))


def _expected(kwargs: Mapping[str, Any]) -> str:
    """Describe the bounds or type a batch expectation asked for, for its failure message."""
    if "min_value" in kwargs or "max_value" in kwargs:
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        return f", expected between {_number(low)} and {_number(high)}"
    if "type_" in kwargs:
        return f", expected {kwargs['type_']}"
    return ""


def _number(value: object) -> str:
    """Print a bound compactly: integral floats without their decimals."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _exception_message(exception: Mapping[str, Any]) -> str:
    """Find the first exception message in a GX exception_info mapping."""
    if exception.get("exception_message"):
        return str(exception["exception_message"])
    for value in exception.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return "unknown error"


def _observed(details: Mapping[str, Any]) -> str:
    """Summarise the observed value of a failed batch expectation on one line."""
    observed = details.get("observed_value")
    mismatched = (details.get("details") or {}).get("mismatched")
    if mismatched:
        parts = [f"{key} {sorted(map(str, value))}" for key, value in mismatched.items() if value]
        return _one_line("; ".join(parts) or repr(observed))
    if "unexpected_count" in details:
        return _one_line(
            f"{details['unexpected_count']} of {details.get('element_count')} rows, e.g. "
            f"{details.get('partial_unexpected_list', [])[:3]!r}"
        )
    return _one_line(str(observed))


def _one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace so a message stays on one line, and cap its length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
    found: Sequence[ExpectationFailure | tuple[str, list[int]]], row_count: int
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
    gate_context = _open_context(Path(context_dir).resolve())
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
    runs = [_run_checkpoint(gate_context, "transactions_schema", view, parameters, run_name)]
    if not runs[0].found:
        checkpoint = "transactions_without_volume" if band.skipped else "transactions"
        runs.append(_run_checkpoint(gate_context, checkpoint, view, parameters, run_name))
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
    gate_context = _open_context(Path(context_dir).resolve())
    view = frame.reset_index(drop=True)
    run = _run_checkpoint(gate_context, "fraud_labels", view, {}, run_name)
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


def _quarantine_records(
    frame: pd.DataFrame,
    failures: Mapping[int, tuple[str, ...]],
    columns: Sequence[str],
    time_column: str,
) -> list[dict[str, Any]]:
    """Rows for quality.quarantine: key, time, verbatim source row and failed expectations."""
    positions = list(failures)
    if not positions:
        return []
    rows = source_rows(frame, positions, columns)
    subset = frame.iloc[positions]
    records = []
    for position, source_row, transaction_id, moment in zip(
        positions, rows, subset["transaction_id"], subset[time_column], strict=True
    ):
        records.append(
            {
                "transaction_id": _json_value(transaction_id),
                "tx_datetime": None if _json_value(moment) is None else moment.to_pydatetime(),
                "source_row": source_row,
                "failed_expectations": list(failures[position]),
            }
        )
    return records


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
    import numpy as np

    interval = {"interval_start": interval_start, "interval_end": interval_end}
    connection.execute(
        sa.text(
            "delete from staging.transactions"
            " where tx_datetime >= :interval_start and tx_datetime < :interval_end"
        ),
        interval,
    )
    connection.execute(
        sa.text(
            "update quality.quarantine set resolved_at = now(), resolved_by_run_id = :run_id"
            " where data_interval_start = :interval_start and data_interval_end = :interval_end"
            " and resolved_at is null"
        ),
        {**interval, "run_id": run_id},
    )
    keep = np.ones(len(frame), dtype=bool)
    keep[list(check.row_failures)] = False
    validated = frame.iloc[keep][list(TRANSACTION_COLUMNS)].assign(run_id=run_id)
    copy_frame(connection, validated, "staging.transactions")
    transactions = _quarantine_records(
        frame, check.row_failures, TRANSACTION_COLUMNS, "tx_datetime"
    )
    label_rows = _quarantine_records(
        labels, label_check.row_failures, LABEL_COLUMNS, "transaction_tx_datetime"
    )
    records = transactions + label_rows
    if records:
        connection.execute(
            sa.text(
                "insert into quality.quarantine (transaction_id, tx_datetime, source_row,"
                " failed_expectations, run_id, data_interval_start, data_interval_end)"
                " values (:transaction_id, :tx_datetime, cast(:source_row as jsonb),"
                " :failed_expectations, :run_id, :interval_start, :interval_end)"
            ),
            [{**record, **interval, "run_id": run_id} for record in records],
        )


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
            **{key: value for key, value in asdict(outcome).items() if key != "failures"},
            "failures": json.dumps([asdict(failure) for failure in outcome.failures]),
        },
    )


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
    context_dir = Path(artifact_dir) / "gx"
    with engine.begin() as connection:
        connection.execute(
            sa.text("select pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"fraud.validate:{interval_start.isoformat()}"},
        )
        frame = read_interval(connection, interval_start, interval_end)
        check = check_frame(
            frame,
            interval_start=interval_start,
            interval_end=interval_end,
            known_ids=validated_elsewhere_ids(connection, interval_start, interval_end),
            volume_history=daily_volume_history(
                connection, interval_start, gate.volume_history_days
            ),
            gate=gate,
            context_dir=context_dir,
            run_name=run_id,
            build_docs=False,
        )
        labels = read_labels(connection, interval_start, interval_end)
        label_check = check_labels(
            labels, context_dir=context_dir, run_name=run_id, build_docs=False
        )
        docs = build_data_docs(context_dir, check.result_ids + label_check.result_ids)
        outcome = ValidationOutcome(
            run_id=run_id,
            interval_start=interval_start,
            interval_end=interval_end,
            status="passed" if check.passed else "failed",
            extracted_count=check.extracted_count,
            validated_count=check.validated_count,
            quarantined_count=check.quarantined_count,
            failures=check.failures + label_check.failures,
            data_docs_path=docs,
        )
        logger.info(
            "validation %s of [%s, %s): %s, gate %s, volume band %s, failures %s",
            run_id,
            interval_start.isoformat(),
            interval_end.isoformat(),
            outcome.status,
            asdict(gate),
            check.volume_band,
            [failure.message for failure in outcome.failures],
        )
        if check.passed:
            _replace_interval(
                connection,
                frame,
                check,
                labels,
                label_check,
                run_id=run_id,
                interval_start=interval_start,
                interval_end=interval_end,
            )
        _record_run(connection, outcome)
    if not check.passed:
        raise BatchValidationError(outcome)
    return outcome
