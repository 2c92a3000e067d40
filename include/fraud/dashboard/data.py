"""The fraud-monitoring page's data: the champion, a fortnight of drift, decisions and alerts,
and the live model's last 30 nights (``fraud.dashboard.live``).

Everything is read from the ``analytics`` views as ``fraud_analyst``; ``fraud.dashboard.html``
renders it and ``plugins/fraud_monitoring.py`` serves it from the Airflow api-server. Neither
this module nor the renderer knows anything of Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.dashboard.live import LiveModel, load_live_model, window
from fraud.dashboard.reviews import Reviews, load_reviews
from fraud.db import sqlalchemy_url
from fraud.gates import PsiBands

ANALYST_ROLE = "fraud_analyst"
NIGHTS = 14
LATEST_ALERTS = 10
LATEST_DECISIONS = 10
SCORE = "score"
# Under the artifact directory: the nightly Evidently reports and the GX Data Docs site.
DRIFT_REPORTS = Path("drift")
DATA_DOCS_SITE = Path("gx", "uncommitted", "data_docs", "local_site")
# How a decision made its challenger the champion; rejections leave the champion in place.
_BECAME_CHAMPION = ("bootstrapped", "promoted", "rolled_back")
_MEASURED = ("bootstrapped", "promoted")

_DECISIONS_SQL = """
select decision_id, decided_at, decision, challenger_version, champion_version,
       champion_version_after, reason, trigger, challenger_average_precision,
       champion_average_precision, challenger_auc_roc, challenger_card_precision_at_100,
       evaluation_start, evaluation_end, mlflow_run_id
from analytics.model_decisions
where model_name = :model_name
order by decision_id
"""

_DRIFT_SQL = """
select drift_date, model_version, feature, psi, report_path
from analytics.feature_drift_daily
where model_name = :model_name
  and drift_date in (
      select distinct drift_date from analytics.feature_drift_daily
      where model_name = :model_name
      order by drift_date desc
      limit :nights
  )
"""

_ALERTS_SQL = """
select raised_at, severity, kind, dag_id, task_id, message
from analytics.pipeline_alerts
order by raised_at desc, alert_id desc
limit :limit
"""


class ArtifactNotFound(LookupError):
    """The requested report file does not exist inside the served directory."""


@dataclass(frozen=True)
class Decision:
    """One row of ``analytics.model_decisions``."""

    decision_id: int
    decided_at: datetime
    decision: str
    challenger_version: int
    champion_version: int | None
    champion_version_after: int
    reason: str
    trigger: str | None
    challenger_average_precision: float | None
    champion_average_precision: float | None
    challenger_auc_roc: float | None
    challenger_card_precision_at_100: float | None
    evaluation_start: datetime | None
    evaluation_end: datetime | None
    mlflow_run_id: str | None


@dataclass(frozen=True)
class Champion:
    """The version serving now, since when, and the decision that measured it."""

    version: int
    since: datetime
    became: str
    measured_by: Decision | None


@dataclass(frozen=True)
class Night:
    """One column of the drift table: the night, the version compared, its report's file name."""

    drift_date: date
    model_version: int
    report_name: str | None


@dataclass(frozen=True)
class Cell:
    """One PSI value and its band."""

    psi: float
    band: str


@dataclass(frozen=True)
class DriftRow:
    """The score or one feature across the nights; ``None`` where it was not compared."""

    feature: str
    cells: tuple[Cell | None, ...]


@dataclass(frozen=True)
class DriftGrid:
    """PSI per monitored column (rows) and night (columns, oldest first)."""

    nights: tuple[Night, ...]
    rows: tuple[DriftRow, ...]


@dataclass(frozen=True)
class Alert:
    """One row of ``analytics.pipeline_alerts``."""

    raised_at: datetime
    severity: str
    kind: str
    dag_id: str | None
    task_id: str | None
    message: str


@dataclass(frozen=True)
class Dashboard:
    """Everything the page shows."""

    model_name: str
    champion: Champion | None
    drift: DriftGrid
    decisions: tuple[Decision, ...]
    alerts: tuple[Alert, ...]
    bands: PsiBands
    data_docs: bool
    live: LiveModel
    # What the investigators found; None where the page is drawn without a warehouse (tests).
    reviews: Reviews | None = None


# --- reading ------------------------------------------------------------------------------------


def analyst_engine(url: str) -> Engine:
    """An engine whose every session runs as ``fraud_analyst``, read-only.

    The page connects with the login it is given (``FRAUD_ANALYST_DATABASE_URL``, else the
    warehouse URL the api-server already has) and takes the role at connection start through
    libpq's ``options=-c role=fraud_analyst``: every query then has exactly the analysts'
    privileges, the ``analytics`` views and nothing else, and ``default_transaction_read_only``
    refuses writes even there. The login must be ``fraud_analyst`` or a member of it: ``make up``
    and docker-compose give the page ``fraud_analyst_login``; a login of ``fraud_pipeline`` alone
    is refused. The role is a guard on what the page's
    own queries can reach, not a sandbox: the server process is trusted code either way.
    """
    return sa.create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=1,
        max_overflow=2,
        connect_args={
            "application_name": "fraud-monitoring",
            "options": f"-c role={ANALYST_ROLE} -c default_transaction_read_only=on",
        },
    )


def load_dashboard(engine: Engine, settings: Settings, today: date | None = None) -> Dashboard:
    """Read the views and build the page's data for the configured model.

    The charts cover the nights before ``today`` (the current UTC day unless given).
    """
    parameters = {"model_name": settings.model_name}
    today = datetime.now(UTC).date() if today is None else today
    with engine.connect() as connection:
        decisions = [
            Decision(**row)
            for row in connection.execute(sa.text(_DECISIONS_SQL), parameters).mappings()
        ]
        drift = connection.execute(sa.text(_DRIFT_SQL), {**parameters, "nights": NIGHTS}).mappings()
        grid = drift_grid([dict(row) for row in drift], settings.psi_bands)
        alerts = connection.execute(sa.text(_ALERTS_SQL), {"limit": LATEST_ALERTS}).mappings()
        latest_alerts = tuple(Alert(**row) for row in alerts)
        live = load_live_model(connection, settings, today)
        reviews = load_reviews(connection, window(today))
    return Dashboard(
        model_name=settings.model_name,
        champion=current_champion(decisions),
        drift=with_reports(grid, settings.artifact_dir),
        decisions=tuple(reversed(decisions[-LATEST_DECISIONS:])),
        alerts=latest_alerts,
        bands=settings.psi_bands,
        data_docs=(settings.artifact_dir / DATA_DOCS_SITE / "index.html").is_file(),
        live=live,
        reviews=reviews,
    )


def current_champion(decisions: Sequence[Decision]) -> Champion | None:
    """The champion after the last decision, when it became champion and how it was measured."""
    if not decisions:
        return None
    version = decisions[-1].champion_version_after
    became = [
        item
        for item in decisions
        if item.challenger_version == version and item.decision in _BECAME_CHAMPION
    ]
    measured = [
        item
        for item in decisions
        if item.challenger_version == version and item.decision in _MEASURED
    ]
    since = became[-1] if became else decisions[-1]
    return Champion(
        version=version,
        since=since.decided_at,
        became=since.decision,
        measured_by=measured[-1] if measured else None,
    )


def drift_grid(
    rows: Iterable[Mapping[str, object]], bands: PsiBands, nights: int = NIGHTS
) -> DriftGrid:
    """Arrange PSI rows as the score then the features (most drifted first) by the latest nights."""
    by_night: dict[date, dict[str, float]] = {}
    versions: dict[date, int] = {}
    reports: dict[date, str | None] = {}
    for row in rows:
        night = row["drift_date"]
        assert isinstance(night, date)
        by_night.setdefault(night, {})[str(row["feature"])] = float(str(row["psi"]))
        versions[night] = int(str(row["model_version"]))
        report = row.get("report_path")
        reports[night] = str(report) if report else None
    dates = sorted(by_night)[-nights:]
    columns = {column for night in dates for column in by_night[night]}
    largest = {
        column: max(by_night[night].get(column, 0.0) for night in dates) for column in columns
    }
    order = sorted(columns, key=lambda column: (column != SCORE, -largest[column], column))
    grid_rows = tuple(
        DriftRow(
            feature=column,
            cells=tuple(
                Cell(psi, bands.band(psi))
                if (psi := by_night[night].get(column)) is not None
                else None
                for night in dates
            ),
        )
        for column in order
    )
    return DriftGrid(
        nights=tuple(Night(night, versions[night], reports[night]) for night in dates),
        rows=grid_rows,
    )


def with_reports(grid: DriftGrid, artifact_dir: Path) -> DriftGrid:
    """Keep a night's report name only when that report is on this server's artifact storage."""
    reports = artifact_dir / DRIFT_REPORTS
    nights = tuple(
        Night(
            night.drift_date,
            night.model_version,
            name
            if night.report_name and (reports / (name := Path(night.report_name).name)).is_file()
            else None,
        )
        for night in grid.nights
    )
    return DriftGrid(nights=nights, rows=grid.rows)


def artifact_file(root: Path, relative: str) -> Path:
    """The regular file ``relative`` names inside ``root``; ArtifactNotFound for anything else.

    Absolute paths, ``..`` and symbolic links that lead out of ``root`` are refused, and so is a
    name the file system cannot look up (a NUL byte, a symlink loop, a name over 255 bytes).
    """
    base = root.resolve()
    try:
        candidate = (base / relative).resolve()
        if not candidate.is_relative_to(base) or not candidate.is_file():
            raise ArtifactNotFound(relative)
    except (OSError, ValueError) as error:
        raise ArtifactNotFound(relative) from error
    return candidate


# --- links --------------------------------------------------------------------------------------


def mlflow_run_url(mlflow_ui: str, run_id: str) -> str:
    """The MLflow UI page of one run."""
    return f"{mlflow_ui.rstrip('/')}/#/runs/{quote(run_id, safe='')}"


def mlflow_version_url(mlflow_ui: str, model_name: str, version: int) -> str:
    """The MLflow UI page of one registered model version."""
    return f"{mlflow_ui.rstrip('/')}/#/models/{quote(model_name, safe='')}/versions/{version}"
