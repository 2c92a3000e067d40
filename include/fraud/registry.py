"""The MLflow model registry: champion and challenger aliases, the promotion gate, rollback."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import MetricGate, Settings
from fraud.db import mask_passwords

if TYPE_CHECKING:
    import lightgbm as lgb
    import numpy as np
    from mlflow import MlflowClient

# Scores of a float64 feature matrix (the booster's columns, in order).
Predictor = Callable[["np.ndarray"], "np.ndarray"]
CHAMPION = "champion"
CHALLENGER = "challenger"
EXPERIMENT = "fraud-training"
# The operating system's reason inside a transport error ("[Errno 111] Connection refused").
_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\"()\]]+)")


class RegistryError(RuntimeError):
    """The registry could not be reached or holds no usable model; one-line message."""


@dataclass(frozen=True)
class RegisteredModel:
    """A model version loaded from the registry, with the run that produced it.

    ``predictor``, when set, computes the booster's scores from its feature matrix faster than
    the booster does (the compiled model of :mod:`fraud.compiled`).
    """

    name: str
    version: int
    run_id: str
    booster: lgb.Booster
    predictor: Predictor | None = None


@dataclass(frozen=True)
class GateOutcome:
    """What the promotion gate decided and why, in words and numbers."""

    passed: bool
    reasons: tuple[str, ...]


def client(settings: Settings) -> MlflowClient:
    """An MLflow client pointed at the configured tracking server and registry."""
    import mlflow
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    )

    # MLflow's HTTP client reads these for every request; its own defaults (7 retries with
    # exponential backoff, 120 s) keep a task waiting about four minutes for a server that is down.
    MLFLOW_HTTP_REQUEST_MAX_RETRIES.set(settings.mlflow_request_max_retries)
    MLFLOW_HTTP_REQUEST_TIMEOUT.set(settings.mlflow_request_timeout_seconds)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    return mlflow.MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)


def _alias_version(mlflow_client: MlflowClient, name: str, alias: str) -> int | None:
    from mlflow.exceptions import MlflowException

    try:
        return int(mlflow_client.get_model_version_by_alias(name, alias).version)
    except MlflowException as error:
        if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise


def unreachable_reason(error: BaseException) -> str:
    """The short reason of a transport failure: the OS's words if present, else the first line."""
    text = str(error)
    if match := _OS_REASON.search(text):
        return match.group(1).strip()
    return text.splitlines()[0] if text.strip() else type(error).__name__


@contextmanager
def registry_errors(settings: Settings) -> Generator[None, None, None]:
    """Turn any failure to talk to the registry into one line naming the masked tracking URI."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except RegistryError:
        raise
    except Exception as error:  # noqa: BLE001 - any transport failure becomes one clear line
        where = f"MLflow registry at {settings.mlflow_tracking_uri}"
        if isinstance(error, MlflowException) and error.error_code == "RESOURCE_DOES_NOT_EXIST":
            message = f"{where}: {unreachable_reason(error)}"
        else:
            message = f"{where} is unreachable: {unreachable_reason(error)}"
        raise RegistryError(mask_passwords(message)) from error


def champion_version(settings: Settings) -> int | None:
    """The version the ``champion`` alias points at, or None before the first promotion."""
    with registry_errors(settings):
        return _alias_version(client(settings), settings.model_name, CHAMPION)


def load_version(settings: Settings, version: int) -> RegisteredModel:
    """Load one registered version's LightGBM booster."""
    import mlflow.lightgbm

    with registry_errors(settings):
        mlflow_client = client(settings)
        model_version = mlflow_client.get_model_version(settings.model_name, str(version))
        booster = mlflow.lightgbm.load_model(f"models:/{settings.model_name}/{version}")
    return RegisteredModel(settings.model_name, version, str(model_version.run_id), booster)


def require_champion_version(settings: Settings) -> int:
    """The champion's version; fail with one line when there is none or no server."""
    version = champion_version(settings)
    if version is None:
        raise RegistryError(
            f"no champion for model {settings.model_name!r} in"
            f" {mask_passwords(settings.mlflow_tracking_uri)}: "
            "run the fraud_retrain DAG to bootstrap one"
        )
    return version


def load_champion(settings: Settings) -> RegisteredModel:
    """Load ``models:/<name>@champion``; fail with one line when there is none or no server."""
    return load_version(settings, require_champion_version(settings))


def download_run_file(settings: Settings, run_id: str, artifact_path: str) -> Path:
    """Fetch one artifact of a run to a local temporary path."""
    import mlflow.artifacts

    client(settings)
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path))


def apply_gate(
    gate: tuple[MetricGate, ...],
    challenger: dict[str, float],
    champion: dict[str, float],
) -> GateOutcome:
    """Compare challenger and champion metrics rule by rule; every rule must hold."""
    reasons: list[str] = []
    passed = True
    for rule in gate:
        new, old = challenger.get(rule.metric, math.nan), champion.get(rule.metric, math.nan)
        if math.isnan(new):
            passed = False
            reasons.append(f"{rule.metric}: challenger value is missing")
            continue
        if math.isnan(old):
            reasons.append(f"{rule.metric}: champion value missing, rule skipped")
            continue
        if rule.min_improvement is not None and not new > old + rule.min_improvement:
            passed = False
            reasons.append(
                f"{rule.metric} {new:.4f} does not beat champion {old:.4f}"
                f" by more than {rule.min_improvement}"
            )
        elif rule.max_regression is not None and new < old - rule.max_regression:
            passed = False
            reasons.append(
                f"{rule.metric} {new:.4f} falls more than {rule.max_regression}"
                f" below champion {old:.4f}"
            )
        else:
            reasons.append(f"{rule.metric} {new:.4f} vs champion {old:.4f}: ok")
    return GateOutcome(passed=passed, reasons=tuple(reasons))


def record_decision(
    engine: Engine,
    settings: Settings,
    *,
    challenger_version: int,
    champion_version: int | None,
    decision: str,
    reason: str,
    challenger_metrics: dict[str, float],
    champion_metrics: dict[str, float],
    evaluation_window: tuple[datetime, datetime] | None,
    label_cutoff: datetime | None,
    mlflow_run_id: str | None,
    trigger: str,
) -> None:
    """Store one decision in ``monitoring.model_decisions`` and as tags on the model version."""
    gate = [asdict(rule) for rule in settings.promotion_gate]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into monitoring.model_decisions (model_name, challenger_version,"
                " champion_version, decision, reason, challenger_metrics, champion_metrics, gate,"
                " evaluation_start, evaluation_end, label_cutoff, mlflow_run_id, trigger)"
                " values (:name, :challenger, :champion, :decision, :reason,"
                " cast(:challenger_metrics as jsonb), cast(:champion_metrics as jsonb),"
                " cast(:gate as jsonb), :evaluation_start, :evaluation_end, :label_cutoff,"
                " :run_id, :trigger)"
            ),
            {
                "name": settings.model_name,
                "challenger": challenger_version,
                "champion": champion_version,
                "decision": decision,
                "reason": reason,
                "challenger_metrics": _json(challenger_metrics),
                "champion_metrics": _json(champion_metrics),
                "gate": json.dumps(gate),
                "evaluation_start": evaluation_window[0] if evaluation_window else None,
                "evaluation_end": evaluation_window[1] if evaluation_window else None,
                "label_cutoff": label_cutoff,
                "run_id": mlflow_run_id,
                "trigger": trigger,
            },
        )
    mlflow_client = client(settings)
    for key, value in {"decision": decision, "decision_reason": reason[:5000]}.items():
        mlflow_client.set_model_version_tag(
            settings.model_name, str(challenger_version), key, value
        )
    if mlflow_run_id:
        mlflow_client.set_tag(mlflow_run_id, "decision", decision)
        mlflow_client.set_tag(mlflow_run_id, "decision_reason", reason[:5000])


def _json(metrics: dict[str, float]) -> str:
    return json.dumps(
        {key: (None if math.isnan(value) else value) for key, value in metrics.items()}
    )


def set_alias(settings: Settings, alias: str, version: int) -> None:
    """Point ``alias`` at ``version``."""
    client(settings).set_registered_model_alias(settings.model_name, alias, str(version))


def clear_alias(settings: Settings, alias: str) -> None:
    """Remove ``alias`` if it is set."""
    from mlflow.exceptions import MlflowException

    try:
        client(settings).delete_registered_model_alias(settings.model_name, alias)
    except MlflowException:
        pass


def rollback(engine: Engine, settings: Settings, reason: str) -> tuple[int, int]:
    """Move ``champion`` back to the version it replaced; record why. Returns (from, to)."""
    current = champion_version(settings)
    if current is None:
        raise RegistryError(f"model {settings.model_name!r} has no champion to roll back")
    with engine.connect() as connection:
        previous = connection.execute(
            sa.text(
                "select champion_version from monitoring.model_decisions"
                " where model_name = :name and challenger_version = :current"
                " and decision = 'promoted' and champion_version is not null"
                " order by decided_at desc limit 1"
            ),
            {"name": settings.model_name, "current": current},
        ).scalar()
    if previous is None:
        raise RegistryError(
            f"champion version {current} of {settings.model_name!r} replaced no earlier version"
        )
    set_alias(settings, CHAMPION, int(previous))
    record_decision(
        engine,
        settings,
        challenger_version=int(previous),
        champion_version=current,
        decision="rolled_back",
        reason=reason,
        challenger_metrics={},
        champion_metrics={},
        evaluation_window=None,
        label_cutoff=None,
        mlflow_run_id=None,
        trigger="manual rollback",
    )
    return current, int(previous)
