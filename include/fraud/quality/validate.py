"""The quality gate's transaction: read one interval, check it, then stage, quarantine and record.

Row-level failures are quarantined verbatim, and the features and scores an earlier run derived
from them are deleted in the same transaction; a batch-level failure stops the run, holds every
row in quarantine and writes nothing to staging. Each run adds one row to the ledger
``quality.validation_run``, where extracted = validated + quarantined.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from fraud.dates import checked_interval, day_span
from fraud.gates import GateConfig
from fraud.locks import advisory_lock, night_lock_key
from fraud.partitions import ensure_partitions
from fraud.quality.checks import CheckResult, VolumeBand, check_frame, check_labels
from fraud.quality.extract import (
    INTERVAL_SNAPSHOT,
    LABEL_COLUMNS,
    TRANSACTION_COLUMNS,
    daily_volume_history,
    read_interval,
    read_labels,
    validated_elsewhere_ids,
)
from fraud.quality.quarantine import quarantine_records, resolve_open, write_quarantine
from fraud.quality.suites import ExpectationFailure, build_data_docs
from fraud.timing import Stopwatch, timed

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

_RECORD_RUN_SQL = """
insert into quality.validation_run (
    run_id, data_interval_start, data_interval_end, status,
    extracted_count, validated_count, quarantined_count, failures, data_docs_path
)
values (
    :run_id, :interval_start, :interval_end, :status,
    :extracted_count, :validated_count, :quarantined_count, cast(:failures as jsonb),
    :data_docs_path
)
"""


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


_DELETE_STAGED_SQL = """
delete from staging.transactions
where tx_datetime >= :interval_start and tx_datetime < :interval_end
"""


# Validated rows move server-side, from the very snapshot the checks read.
_INSERT_VALIDATED_SQL = f"""
insert into staging.transactions (
    transaction_id, tx_datetime, customer_id, terminal_id, tx_amount,
    channel, merchant_category, merchant_country, currency, original_amount, run_id
)
select
    transaction_id, tx_datetime, customer_id, terminal_id, tx_amount,
    channel, merchant_category, merchant_country, currency, original_amount, :run_id
from {INTERVAL_SNAPSHOT}
where transaction_id <> all(cast(:quarantined_ids as bigint[]))
"""


# A replay may quarantine rows an earlier run passed: their features and scores (every
# generation, published or not) leave with them, so no reader sees a score of a quarantined row.
_WITHDRAW_DERIVED_SQL = """
with features as (
    delete from staging.transaction_features
    where tx_datetime >= :interval_start and tx_datetime < :interval_end
      and transaction_id = any(cast(:quarantined_ids as bigint[]))
)
delete from scoring.transaction_scores
where tx_datetime >= :interval_start and tx_datetime < :interval_end
  and transaction_id = any(cast(:quarantined_ids as bigint[]))
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
    """Replace the interval's staging rows and open quarantine set with this run's, and drop the
    features and scores of rows it now quarantines."""
    bounds = {"interval_start": interval_start, "interval_end": interval_end}
    connection.execute(sa.text(_DELETE_STAGED_SQL), bounds)
    resolve_open(connection, run_id=run_id, **bounds)
    quarantined_ids = [
        int(value) for value in frame["transaction_id"].iloc[list(check.row_failures)]
    ]
    staged = connection.execute(
        sa.text(_INSERT_VALIDATED_SQL), {"run_id": run_id, "quarantined_ids": quarantined_ids}
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
    if quarantined_ids:
        connection.execute(
            sa.text(_WITHDRAW_DERIVED_SQL), {**bounds, "quarantined_ids": quarantined_ids}
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
    resolve_open(
        connection, run_id=run_id, interval_start=interval_start, interval_end=interval_end
    )
    return write_quarantine(
        connection,
        quarantine_records(frame, held, TRANSACTION_COLUMNS, "tx_datetime"),
        run_id=run_id,
        interval_start=interval_start,
        interval_end=interval_end,
    )


def _record_run(connection: Connection, outcome: ValidationOutcome) -> None:
    """Append the run to the row ledger quality.validation_run."""
    connection.execute(
        sa.text(_RECORD_RUN_SQL),
        {
            **{
                key: value
                for key, value in asdict(outcome).items()
                if key not in {"failures", "phase_seconds"}
            },
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
    interval_start, interval_end = checked_interval(interval_start, interval_end)
    context_dir = Path(artifact_dir).resolve() / "gx"
    phases: dict[str, float] = {}
    ensure_partitions(engine, interval_start, interval_end)
    with engine.begin() as connection:
        advisory_lock(connection, night_lock_key("validate", interval_start))
        with timed(phases, "read"):
            frame = read_interval(connection, interval_start, interval_end)
            known_ids = validated_elsewhere_ids(connection, interval_start, interval_end)
            history = daily_volume_history(connection, interval_start, gate.volume_history_days)
            labels = read_labels(connection, interval_start, interval_end)
        with timed(phases, "check"):
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
        with timed(phases, "docs"):
            docs = build_data_docs(context_dir, check.result_ids + label_check.result_ids)
        write = Stopwatch()
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
            validated, quarantined = check.validated_count, check.quarantined_count
        else:
            quarantined = _hold_failed_batch(
                connection,
                frame,
                check,
                run_id=run_id,
                interval_start=interval_start,
                interval_end=interval_end,
            )
            validated = 0
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
    phases["write"] = round(write.stop(), 3)
    outcome = replace(outcome, phase_seconds=phases)
    _log(outcome, gate, check.volume_band)
    if not check.passed:
        raise BatchValidationError(outcome)
    return outcome


def _log(outcome: ValidationOutcome, gate: GateConfig, band: VolumeBand | None) -> None:
    """Log the decision with the gate and volume band it was taken against."""
    logger.info(
        "validated %s: %s extracted, %s validated, %s quarantined in %.1f s, batch %s"
        " (run %s, gate %s, volume band %s, failures %s, seconds %s)",
        day_span(outcome.interval_start, outcome.interval_end),
        f"{outcome.extracted_count:,}",
        f"{outcome.validated_count:,}",
        f"{outcome.quarantined_count:,}",
        sum(outcome.phase_seconds.values()),
        outcome.status,
        outcome.run_id,
        asdict(gate),
        band,
        [failure.message for failure in outcome.failures],
        dict(outcome.phase_seconds),
    )
