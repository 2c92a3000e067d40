"""Nightly drift: PSI of every monitored column of the night's scored rows against the reference
of the model version that scored them, stored per column; Evidently's report beside it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import copy_frame, copy_out_chunks, copy_out_table, inline
from fraud.config import Settings
from fraud.gates import PsiBands
from fraud.model import registry
from fraud.model.artifacts import DRIFT_REFERENCE, REFERENCE_SAMPLE
from fraud.model.reference import MONITORED_SCORE, NOT_MONITORED, DriftReference
from fraud.monitoring.psi import DriftError, PsiCounts
from fraud.monitoring.report import write_evidently_report
from fraud.timing import Stopwatch

logger = logging.getLogger(__name__)

TOP_IMPORTANCE_FEATURES = 5

# The version that scored most of the night's published rows (the lowest of a tie).
_NIGHT_VERSION_SQL = """
select s.model_version, count(*)
from scoring.transaction_scores as s
left join scoring.scored_day as d on d.tx_date = (s.tx_datetime at time zone 'UTC')::date
where s.tx_datetime >= :start and s.tx_datetime < :end and s.model_name = :model_name
  and s.generation = coalesce(d.generation, 0)
group by s.model_version
order by count(*) desc, model_version
limit 1
"""

# The night's published rows that version scored, with their features (never a run still under
# way: sql/V025__publish_scored_days.sql); streamed, so %(name)s parameters.
SCORED_FEATURES_SQL = """
select f.*, s.score
from scoring.transaction_scores as s
join staging.transaction_features as f
    on f.transaction_id = s.transaction_id and f.tx_datetime = s.tx_datetime
left join scoring.scored_day as d on d.tx_date = (s.tx_datetime at time zone 'UTC')::date
where s.tx_datetime >= %(start)s and s.tx_datetime < %(end)s
  and f.tx_datetime >= %(start)s and f.tx_datetime < %(end)s
  and s.model_name = %(model_name)s and s.model_version = %(version)s
  and s.generation = coalesce(d.generation, 0)
"""

# The same rows, a seeded sample of them in a stable order, for the report.
_SAMPLED_SCORED_FEATURES_SQL = (
    SCORED_FEATURES_SQL
    + """
order by staging.sample_of(s.transaction_id, 0), s.transaction_id
limit %(rows)s
"""
)
CHUNK_ROWS = 200_000
REPORT_ROWS = 20_000

_DELETE_NIGHT_SQL = """
delete from monitoring.feature_drift where drift_date = :day and model_name = :name
"""


@dataclass(frozen=True)
class DriftOutcome:
    """What one night of drift monitoring found; small enough for XCom."""

    drift_date: str
    model_version: int
    rows_compared: int
    max_psi: float
    alert_columns: tuple[str, ...]
    monitored_columns: tuple[str, ...]
    report_path: str

    @property
    def alerting_columns(self) -> tuple[str, ...]:
        """The monitored columns (score first, then by importance) in the alert band."""
        return tuple(column for column in self.monitored_columns if column in self.alert_columns)


@lru_cache(maxsize=4)
def _version_artifacts(
    tracking_uri: str, model_name: str, version: int
) -> tuple[registry.RegisteredModel, DriftReference]:
    """A version's booster and drift reference, loaded once per process: a registered version
    never changes, and loading it is the slow part of a night."""
    settings = Settings(mlflow_tracking_uri=tracking_uri, model_name=model_name)
    model = registry.load_version(settings, version)
    reference = DriftReference.from_json(
        registry.download_run_file(settings, model.run_id, DRIFT_REFERENCE).read_text()
    )
    return model, reference


@lru_cache(maxsize=4)
def _reference_sample(tracking_uri: str, model_name: str, version: int) -> pd.DataFrame:
    """A version's reference sample, which only the Evidently report needs, loaded once."""
    settings = Settings(mlflow_tracking_uri=tracking_uri, model_name=model_name)
    model, _ = _version_artifacts(tracking_uri, model_name, version)
    return pd.read_parquet(registry.download_run_file(settings, model.run_id, REFERENCE_SAMPLE))


@dataclass(frozen=True)
class DriftConfig:
    """The four settings the drift stage reads."""

    model_name: str
    mlflow_tracking_uri: str
    psi_bands: PsiBands
    artifact_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> DriftConfig:
        """The drift stage's part of the settings."""
        return cls(
            settings.model_name,
            settings.mlflow_tracking_uri,
            settings.psi_bands,
            settings.artifact_dir,
        )


def _night_version(
    engine: Engine, model_name: str, interval_start: datetime, interval_end: datetime
) -> int:
    """The model version that scored most of the night; one line when nothing was scored."""
    window = {"start": interval_start, "end": interval_end, "model_name": model_name}
    with engine.connect() as connection:
        found = connection.execute(sa.text(_NIGHT_VERSION_SQL), window).first()
    if found is None:
        raise DriftError(
            f"no scored rows for {interval_start:%Y-%m-%d} and model {model_name!r}:"
            " run fraud_score for this date first"
        )
    return int(found[0])


def _types(reference: DriftReference) -> dict[str, pa.DataType]:
    return {column.column: pa.float64() for column in reference.columns}


@dataclass(frozen=True)
class DriftReport:
    """Where a night's Evidently report was written."""

    drift_date: date
    report_path: Path


def drift_report_path(artifact_dir: Path, drift_date: date) -> Path:
    """Where the night's Evidently report is written."""
    return artifact_dir / "drift" / f"{drift_date:%Y-%m-%d}.html"


def nightly_drift_report(
    engine: Engine, config: DriftConfig, *, interval_start: datetime, interval_end: datetime
) -> DriftReport:
    """The Evidently data-drift report of the night against the version's reference sample.

    It is kept apart from :func:`nightly_drift` because rendering it is the slow part of a night
    and no decision waits for it.
    """
    watch = Stopwatch()
    version = _night_version(engine, config.model_name, interval_start, interval_end)
    _, reference = _version_artifacts(config.mlflow_tracking_uri, config.model_name, version)
    sample = _reference_sample(config.mlflow_tracking_uri, config.model_name, version)
    columns = [column.column for column in reference.columns]
    params = {
        "start": interval_start,
        "end": interval_end,
        "model_name": config.model_name,
        "version": version,
        "rows": REPORT_ROWS,
    }
    with engine.connect() as connection:
        query = inline(connection, _SAMPLED_SCORED_FEATURES_SQL, params)
        current = copy_out_table(connection, query, _types(reference)).to_pandas()
    path = drift_report_path(config.artifact_dir, interval_start.date())
    write_evidently_report(sample, current[columns], columns, path)
    logger.info(
        "drift report of %s against version %d: %s sampled rows beside %s reference rows in %.1f s",
        interval_start.date(),
        version,
        f"{len(current):,}",
        f"{len(sample):,}",
        watch.stop(),
    )
    return DriftReport(drift_date=interval_start.date(), report_path=path)


def nightly_drift(
    engine: Engine,
    config: DriftConfig,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
) -> DriftOutcome:
    """PSI of every feature and the score against the scoring model's reference, stored."""
    watch = Stopwatch()
    version = _night_version(engine, config.model_name, interval_start, interval_end)
    model, reference = _version_artifacts(config.mlflow_tracking_uri, config.model_name, version)
    # The version's own reference says which columns it monitors; the night streams through
    # in chunks and only their bucket counts stay.
    counts = PsiCounts(reference)
    params = {
        "start": interval_start,
        "end": interval_end,
        "model_name": config.model_name,
        "version": version,
    }
    chunks = 0
    with engine.connect() as connection:
        query = inline(connection, SCORED_FEATURES_SQL, params)
        for chunk in copy_out_chunks(connection, query, _types(reference), CHUNK_ROWS):
            counts.add(chunk.to_pandas())
            chunks += 1
    results = counts.results()
    importance = (
        pd.Series(
            model.booster.feature_importance(importance_type="gain"),
            index=model.booster.feature_name(),
        )
        .drop(list(NOT_MONITORED), errors="ignore")
        .nlargest(TOP_IMPORTANCE_FEATURES)
    )
    monitored = (MONITORED_SCORE, *importance.index)

    drift_date = interval_start.date()
    report_path = drift_report_path(config.artifact_dir, drift_date)

    rows = pd.DataFrame(
        {
            "drift_date": drift_date,
            "model_name": config.model_name,
            "model_version": version,
            "feature": list(results),
            "psi": [result.psi for result in results.values()],
            "band": [config.psi_bands.band(result.psi) for result in results.values()],
            "rows_compared": [result.rows_compared for result in results.values()],
            "reference_rows": reference.n_rows,
            "report_path": str(report_path),
            "run_id": run_id,
        }
    )
    with engine.begin() as connection:
        connection.execute(
            sa.text(_DELETE_NIGHT_SQL), {"day": drift_date, "name": config.model_name}
        )
        copy_frame(connection, rows, "monitoring.feature_drift")
    alert_columns = tuple(rows.loc[rows["band"] == "alert", "feature"])
    logger.info(
        "drift of %s against version %d: %s rows in %d chunks, max PSI %.3f (%s),"
        " in the alert band %s, %.1f s",
        drift_date,
        version,
        f"{counts.rows:,}",
        chunks,
        rows["psi"].max(),
        rows.sort_values("psi", ascending=False)["feature"].iloc[0],
        list(alert_columns),
        watch.stop(),
    )
    return DriftOutcome(
        drift_date=drift_date.isoformat(),
        model_version=version,
        rows_compared=counts.rows,
        max_psi=float(rows["psi"].max()),
        alert_columns=alert_columns,
        monitored_columns=monitored,
        report_path=str(report_path),
    )
