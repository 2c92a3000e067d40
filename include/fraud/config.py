"""Settings for the whole pipeline, read and typed from the environment in one place.

Nothing else in the package calls ``os.getenv``: every module receives a ``Settings``.
Secrets (database passwords) only ever arrive inside URLs in the environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fraud.gates import GateConfig, MetricGate, PsiBands, RatioGate
from fraud.variables import (
    AIRFLOW_BASE_URL,
    DEPLOYMENT_SECRET_VARIABLES,
    ENVIRONMENT_VARIABLES,
    GATE_VARIABLES,
    MONEY_GATE_VARIABLES,
    RENAMED_VARIABLES,
    VARIABLES,
)

# Read by the deployment checks and the masking through this module, as before the names moved.
__all__ = [
    "AIRFLOW_BASE_URL",
    "DEPLOYMENT_SECRET_VARIABLES",
    "ENVIRONMENT_VARIABLES",
    "RENAMED_VARIABLES",
    "ConfigError",
    "Settings",
    "load_settings",
]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# The rankings of the review budget (FRAUD_ALERT_RANKING): fraud.scoring.policy.
ALERT_RANKINGS: tuple[str, ...] = ("score", "expected_loss")
log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every tunable of the pipeline; built by :func:`load_settings`."""

    # The nightly tasks' login: a member of fraud_pipeline only (docs/operations.md, "Roles").
    database_url: str | None = None
    # The warehouse owner, for the steps that change its schema or write raw.* (migrations, the
    # logins, the simulator): never given to the workers. Default: database_url.
    owner_database_url: str | None = None
    # Passwords `fraud db logins` gives fraud_pipeline_login, fraud_analyst_login and
    # fraud_investigator_login.
    pipeline_db_password: str | None = field(default=None, repr=False)
    analyst_db_password: str | None = field(default=None, repr=False)
    investigator_db_password: str | None = field(default=None, repr=False)
    # The monitoring page's login; it must be fraud_analyst or a member of it. Default: database_url.
    analyst_database_url: str | None = None
    # The login `fraud outcomes import` records verdicts as: fraud_investigator or a member of it.
    # Default: the owner's URL (a workstation where one person plays every part).
    investigator_database_url: str | None = None
    airflow_database_url: str | None = None
    mlflow_tracking_uri: str = "http://127.0.0.1:5000"
    # The MLflow UI as a browser reaches it, when the tracking URI is not that (a database URL,
    # or a host name only the containers resolve). Default: the tracking URI if it is http(s).
    mlflow_ui_url: str | None = None
    # Where a browser reaches the Airflow UI and the monitoring page it serves: every link in an
    # alert or a task log starts here. FRAUD_BASE_URL, else Airflow's own AIRFLOW__API__BASE_URL.
    base_url: str = "http://localhost:8080"
    # MLflow's HTTP client: retries (exponential backoff) and per-request timeout, so that a task
    # fails within seconds, not minutes, when the tracking server is down; Airflow retries it later.
    mlflow_request_max_retries: int = 2
    mlflow_request_timeout_seconds: int = 30
    model_name: str = "fraud-lightgbm"
    alert_email: str | None = None
    # An incoming-webhook URL: it carries its own token, so it only arrives from the environment.
    slack_webhook_url: str | None = None
    # The secrets the deployment hands the processes that the package never reads itself (MLflow's
    # password, Airflow's keys, the SMTP and Slack Connections...), as (variable, value): kept only
    # so that every channel masks their values (fraud.masking.configured_secrets).
    deployment_secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    artifact_dir: Path = REPOSITORY_ROOT / ".fraud" / "artifacts"
    schedule_start: date = date(2026, 1, 1)
    retrain_cron: str = "0 4 * * 0"
    # Labels: a chargeback arrives days after the transaction.
    label_delay_days: int = 7
    # Training windows, counted back from the run's label cut-off.
    train_days: int = 28
    validation_days: int = 7
    training_time_budget_seconds: float = 60.0
    random_seed: int = 42
    # Training reads every known fraud and this share of the genuine payments (seeded, by card),
    # raised to read about training_min_genuine_rows of them when the window holds that many (all
    # of a smaller one) and lowered to read at most training_max_genuine_rows; rows carry the
    # weight that undoes the sampling.
    training_genuine_share: float = 0.1
    training_min_genuine_rows: int = 500_000
    training_max_genuine_rows: int = 2_000_000
    # The review capacity: how many cards a night are alerted within the budget and the
    # investigators review (the Handbook's k); the simulated investigators review that many each
    # morning. FRAUD_ALERT_TOP_K is its old name.
    review_capacity: int = 100
    # How the budget's cards are ranked: "score" (the card's highest score of the night) or
    # "expected_loss" (docs/alerts.md).
    alert_ranking: str = "score"
    # When set, cards with a payment scoring at least this are alerted beyond the budget too.
    alert_threshold: float | None = None
    # The review cool-down: a card with a verdict known this many days before the night's end is
    # left out of the night's alerted cards, unless one of its payments scores higher than every payment
    # of it that was reviewed (new evidence). 0 turns it off.
    review_cooldown_days: int = 7
    # The review moment: a night's alerts are reviewed this many hours after the night's end;
    # a card's fraud from then on is what its alert can prevent (fraud.model.money).
    review_delay_hours: float = 10.0
    # Rows held in memory at once while scoring; the day streams through in chunks this size.
    score_chunk_rows: int = 200_000
    # Shares of a night's cards that fraud_score scores as parallel mapped tasks.
    score_shares: int = 2
    # Shares of a night's cards whose features fraud_ingest builds as parallel mapped tasks,
    # and the payments of a share whose features one chunk builds at once (their history in memory).
    feature_shares: int = 2
    feature_chunk_rows: int = 100_000
    # The scores of a day are published at most this many hours after the day ends (UTC), or
    # fraud_score's deadline alert fires: 6 means by 06:00 UTC the next morning.
    scores_deadline_hours: float = 6.0
    # Days of derived partitions (staging, features, scores) kept; None keeps everything.
    retention_days: int | None = None
    # Predict with the model compiled to native code (fraud.compiled), cached under
    # artifact_dir/compiled; false: LightGBM's own predict. Reason codes use LightGBM either way.
    score_compiled: bool = True
    # The quality gate of fraud_ingest.
    quality_gate: GateConfig = field(default_factory=GateConfig)
    # Drift.
    psi_bands: PsiBands = field(default_factory=PsiBands)
    psi_bins: int = 10
    drift_consecutive_nights: int = 1
    # Performance: a day is measured again when its labels are this many days old; an average
    # precision below the floor at the oldest maturity is a retraining reason.
    performance_maturity_days: tuple[int, ...] = (7, 14, 30)
    performance_floor_average_precision: float = 0.3
    # Promotion gate, declared as data and logged with every decision.
    promotion_gate: tuple[MetricGate, ...] = (
        MetricGate("average_precision", min_improvement=0.0),
        MetricGate("auc_roc", max_regression=0.02),
        MetricGate("card_precision_at_100", max_regression=0.05),
    )
    # The promotion gate's ratio rule on money: the amount each version would prevent within the
    # review capacity per day of the validation window (fraud.gates.RatioGate).
    promotion_money_gate: RatioGate = field(default_factory=RatioGate)

    @property
    def schedule_start_datetime(self) -> datetime:
        """Midnight UTC of ``schedule_start``: the first data interval of the nightly DAGs."""
        return datetime.combine(self.schedule_start, time(), tzinfo=UTC)

    @property
    def scores_deadline(self) -> timedelta:
        """How long after its day ends (midnight UTC) a day's scores are due."""
        return timedelta(hours=self.scores_deadline_hours)

    @property
    def mlflow_browser_url(self) -> str | None:
        """Where a browser opens the MLflow UI; None when no web address is known."""
        if self.mlflow_ui_url:
            return self.mlflow_ui_url.rstrip("/")
        parts = urlsplit(self.mlflow_tracking_uri)
        if parts.scheme in {"http", "https"} and parts.hostname:
            # Credentials in the tracking URI are for the pipeline, never for a page.
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            netloc = host + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc)).rstrip("/")
        return None

    @property
    def retention_minimum_days(self) -> int:
        """The fewest days of derived partitions kept: the oldest label maturity read, plus one."""
        return max(self.performance_maturity_days, default=0) + 1

    def require_database_url(self) -> str:
        """Return the warehouse URL or fail with a one-line hint."""
        if not self.database_url:
            raise ConfigError(
                "FRAUD_DATABASE_URL is not set: export it, or run `make up` to start a local stack"
            )
        return self.database_url

    def require_owner_database_url(self) -> str:
        """Return the owner's warehouse URL, else the tasks' one, or fail with a one-line hint."""
        if self.owner_database_url:
            return self.owner_database_url
        if not self.database_url:
            raise ConfigError(
                "neither FRAUD_OWNER_DATABASE_URL nor FRAUD_DATABASE_URL is set: export the"
                " warehouse owner's URL"
            )
        return self.database_url


def _parse(name: str, raw: str, kind: type) -> object:
    """Convert one environment value, naming the variable when it is malformed."""
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes"}
        if kind is date:
            return date.fromisoformat(raw)
        if kind is Path:
            return Path(raw).expanduser().resolve()
        if kind is tuple:
            return tuple(int(part) for part in raw.split(",") if part.strip())
        return kind(raw)
    except ValueError as error:
        expected = "comma-separated list of ints" if kind is tuple else kind.__name__
        raise ConfigError(f"{name}={raw!r} is not a valid {expected}") from error


def _parse_float(name: str, raw: str) -> float:
    """One environment value as a float, naming the variable when it is not one."""
    value = _parse(name, raw, float)
    assert isinstance(value, float)
    return value


def _web_url(name: str, raw: str) -> str:
    """An http(s) URL with a host, without its trailing slash; the variable is named otherwise."""
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL with a host")
    return raw.rstrip("/")


_DEPRECATION_LOGGED: set[str] = set()


def _with_renamed(environ: Mapping[str, str]) -> Mapping[str, str]:
    """The environment with each old name's value under its new name, said once per process;
    both names set to different values is an error."""
    moved: dict[str, str] = {}
    for old, new in RENAMED_VARIABLES.items():
        value = environ.get(old, "").strip()
        if not value:
            continue
        current = environ.get(new, "").strip()
        if current and current != value:
            raise ConfigError(f"{old}={value!r} and {new}={current!r} disagree: set {new} only")
        if old not in _DEPRECATION_LOGGED:
            _DEPRECATION_LOGGED.add(old)
            log.warning("%s is deprecated: set %s instead (same meaning)", old, new)
        moved[new] = value
    return {**environ, **moved} if moved else environ


def _read(environ: Mapping[str, str], variables: dict[str, tuple[str, type]]) -> dict[str, object]:
    """The typed values of the variables that are set, by attribute name."""
    values: dict[str, object] = {}
    for variable, (attribute, kind) in variables.items():
        raw = environ.get(variable)
        if raw is not None and raw.strip() != "":
            values[attribute] = _parse(variable, raw.strip(), kind)
    return values


def deployment_secrets(environ: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """The deployment's secrets that are set, as (variable, value); read even when another setting
    is malformed, so that the error saying so can still be masked."""
    environ = os.environ if environ is None else environ
    return tuple(
        (name, environ[name].strip())
        for name in DEPLOYMENT_SECRET_VARIABLES
        if environ.get(name, "").strip()
    )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment (or the mapping given), defaults elsewhere."""
    environ = _with_renamed(os.environ if environ is None else environ)
    values = _read(environ, VARIABLES)
    gate = _read(environ, GATE_VARIABLES)
    if gate:
        values["quality_gate"] = replace(GateConfig(), **gate)  # type: ignore[arg-type]
    money_gate = _read(environ, MONEY_GATE_VARIABLES)
    if money_gate:
        values["promotion_money_gate"] = replace(RatioGate(), **money_gate)  # type: ignore[arg-type]
    bands = {
        attribute: _parse_float(variable, raw)
        for variable, attribute in (("FRAUD_PSI_WARNING", "warning"), ("FRAUD_PSI_ALERT", "alert"))
        if (raw := environ.get(variable))
    }
    if bands:
        values["psi_bands"] = replace(PsiBands(), **bands)
    airflow_base_url = environ.get(AIRFLOW_BASE_URL, "").strip()
    if "base_url" not in values and airflow_base_url:
        values["base_url"] = airflow_base_url
    if "base_url" in values:
        values["base_url"] = _web_url(
            "FRAUD_BASE_URL" if environ.get("FRAUD_BASE_URL", "").strip() else AIRFLOW_BASE_URL,
            str(values["base_url"]),
        )
    values["deployment_secrets"] = deployment_secrets(environ)
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.psi_bands.warning >= settings.psi_bands.alert:
        raise ConfigError("FRAUD_PSI_WARNING must be below FRAUD_PSI_ALERT")
    if settings.drift_consecutive_nights < 1:
        raise ConfigError("FRAUD_DRIFT_CONSECUTIVE_NIGHTS must be at least 1")
    if settings.review_capacity < 0:
        raise ConfigError("FRAUD_REVIEW_CAPACITY must be at least 0 (cards a night)")
    if settings.alert_ranking not in ALERT_RANKINGS:
        raise ConfigError(
            f"FRAUD_ALERT_RANKING={settings.alert_ranking!r} is not one of {', '.join(ALERT_RANKINGS)}"
        )
    if settings.alert_threshold is not None and not 0.0 <= settings.alert_threshold <= 1.0:
        raise ConfigError("FRAUD_ALERT_THRESHOLD must be between 0 and 1 (unset turns it off)")
    if settings.review_cooldown_days < 0:
        raise ConfigError("FRAUD_REVIEW_COOLDOWN_DAYS must be at least 0 (days)")
    if settings.review_delay_hours < 0:
        raise ConfigError("FRAUD_REVIEW_DELAY_HOURS must be at least 0 (hours after the night)")
    if settings.promotion_money_gate.min_ratio < 0:
        raise ConfigError("FRAUD_GATE_MIN_PREVENTED_RATIO must be at least 0")
    if settings.promotion_money_gate.min_fraud_cards < 0:
        raise ConfigError("FRAUD_GATE_MIN_FRAUD_CARDS must be at least 0 (cards)")
    if settings.score_shares < 1 or settings.score_chunk_rows < 1:
        raise ConfigError("FRAUD_SCORE_SHARES and FRAUD_SCORE_CHUNK_ROWS must be at least 1")
    if not 0.0 < settings.scores_deadline_hours <= 48.0:
        raise ConfigError(
            "FRAUD_SCORES_DEADLINE_HOURS must be above 0 and at most 48 (hours after the day ends)"
        )
    if settings.feature_shares < 1 or settings.feature_chunk_rows < 1:
        raise ConfigError("FRAUD_FEATURE_SHARES and FRAUD_FEATURE_CHUNK_ROWS must be at least 1")
    oldest_measured = settings.retention_minimum_days
    if settings.retention_days is not None and settings.retention_days < oldest_measured:
        raise ConfigError(
            f"FRAUD_RETENTION_DAYS must be at least {oldest_measured}, the age of the oldest"
            " scores the performance monitoring reads (unset keeps everything)"
        )
    if not 0.0 < settings.training_genuine_share <= 1.0:
        raise ConfigError("FRAUD_TRAINING_GENUINE_FRACTION must be above 0 and at most 1")
    if settings.training_max_genuine_rows < 1:
        raise ConfigError("FRAUD_TRAINING_MAX_GENUINE_ROWS must be at least 1")
    if not 0 <= settings.training_min_genuine_rows <= settings.training_max_genuine_rows:
        raise ConfigError(
            "FRAUD_TRAINING_MIN_GENUINE_ROWS must be at least 0 and at most"
            " FRAUD_TRAINING_MAX_GENUINE_ROWS"
        )
    if settings.mlflow_request_max_retries < 0 or settings.mlflow_request_timeout_seconds < 1:
        raise ConfigError(
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES must be at least 0 and MLFLOW_HTTP_REQUEST_TIMEOUT"
            " at least 1"
        )
    maturities = settings.performance_maturity_days
    if not maturities or min(maturities) < 1:
        raise ConfigError("FRAUD_PERFORMANCE_MATURITY_DAYS must list whole days of at least 1")
    return settings
