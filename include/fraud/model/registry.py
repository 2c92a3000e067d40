"""The MLflow model registry: the champion and challenger aliases, loading a version, errors.

A version is only ever used through this module: the booster and the run that produced it,
under one-line errors that name the (masked) tracking URI when the registry cannot be reached.

Registration tags a version with the SHA-256 of its booster's LightGBM text
(``model_text_sha256``), and loading reads the booster file once, hashes those bytes and builds
the booster from the same bytes: a model file changed in the artifact store after registration
is refused in one line. A version registered before the tag existed loads with a warning. The tag
lives in the registry's database, apart from the artifact store it vouches for; whoever can
write the registry itself could rewrite it too.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fraud.config import Settings
from fraud.dates import day_span, parse_moment
from fraud.masking import mask_passwords

if TYPE_CHECKING:
    import lightgbm as lgb
    import numpy as np
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

# Scores of a float64 feature matrix (the booster's columns, in order).
Predictor = Callable[["np.ndarray"], "np.ndarray"]
CHAMPION = "champion"
CHALLENGER = "challenger"
EXPERIMENT = "fraud-training"
# The model-version tag holding the SHA-256 of the booster's LightGBM text, set at registration.
MODEL_TEXT_SHA256 = "model_text_sha256"
# The operating system's reason inside a transport error ("[Errno 111] Connection refused").
_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\"()\]]+)")
# The metrics a version's description quotes, with the names people know them by.
DESCRIBED_METRICS = (
    ("auc_roc", "AUC"),
    ("average_precision", "AP"),
    ("card_precision_at_100", "CP@100"),
    ("prevented_amount_within_capacity", "prevented within the review capacity"),
    ("detected_amount_within_capacity", "detected within the review capacity"),
)
# The baselines a run logs (metric prefix) and their names in the description.
_BASELINES = (
    ("baseline_logistic_regression_", "the logistic-regression baseline"),
    ("baseline_amount_rule_", "the amount rule"),
)
_DESCRIPTION_CHARACTERS = 5000


class RegistryError(RuntimeError):
    """The registry could not be reached or holds no usable model; one-line message."""


@dataclass(frozen=True)
class VersionRef:
    """A registered version by number and URI: what a scoring run pins for all its shares."""

    model_version: int
    model_uri: str


@dataclass(frozen=True)
class GateVerdict:
    """The promotion gate's decision on a version, and the champion it was measured against."""

    decision: str
    reason: str
    champion_version: int | None = None
    champion_metrics: dict[str, float] = field(default_factory=dict)


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


# The only class the pipeline loads: a Booster is read from LightGBM's text format, never
# unpickled (MLflow's lightgbm flavor unpickles its scikit-learn classes, and pyfunc models are
# arbitrary code).
BOOSTER_CLASS = "lightgbm.basic.Booster"


def booster_flavor(settings: Settings, version: int, flavors: dict[str, dict]) -> str:
    """The booster's file inside the model folder, if the version's MLmodel declares a plain
    LightGBM Booster; else a one-line error naming the version, before anything is loaded."""
    flavor = flavors.get("lightgbm")
    # MLflow's own default when an old MLmodel names no class.
    model_class = (flavor or {}).get("model_class", BOOSTER_CLASS)
    if flavor is None or model_class != BOOSTER_CLASS or not flavor.get("data"):
        raise RegistryError(
            f"model {settings.model_name!r} version {version} is not a plain LightGBM Booster"
            f" (flavors: {', '.join(sorted(flavors)) or 'none'};"
            f" class: {model_class if flavor else 'none'}): refusing to load it"
        )
    return str(flavor["data"])


def model_text_digest(text: bytes) -> str:
    """The hex SHA-256 of a booster's LightGBM text: the ``model_text_sha256`` tag's value."""
    return hashlib.sha256(text).hexdigest()


def record_model_text_digest(settings: Settings, version: int, booster: lgb.Booster) -> str:
    """Tag a newly registered version with its booster text's SHA-256, which loading checks.

    MLflow saves a Booster with ``Booster.save_model``, which writes ``model_to_string()``.
    """
    digest = model_text_digest(booster.model_to_string().encode())
    client(settings).set_model_version_tag(
        settings.model_name, str(version), MODEL_TEXT_SHA256, digest
    )
    return digest


def verified_model_text(
    settings: Settings, version: int, tags: dict[str, str], model_file: Path
) -> str:
    """The booster file's text if it hashes like the version's tag; a warning when the version
    has no tag, a one-line error naming the version and the file when the digest differs."""
    data = model_file.read_bytes()
    expected = tags.get(MODEL_TEXT_SHA256)
    where = f"model {settings.model_name!r} version {version}"
    if expected is None:
        logger.warning(
            "%s has no %s tag (registered before it was recorded): loading %s unverified",
            where,
            MODEL_TEXT_SHA256,
            model_file.name,
        )
    elif (digest := model_text_digest(data)) != expected:
        raise RegistryError(
            f"{where}: {model_file.name} has SHA-256 {digest[:12]}, not the {expected[:12]}"
            f" recorded in its {MODEL_TEXT_SHA256} tag at registration: refusing to load it"
        )
    return data.decode()


def load_version(settings: Settings, version: int) -> RegisteredModel:
    """Load one registered version's LightGBM booster, refusing anything else (one line) and a
    booster file whose SHA-256 is not the one recorded at registration."""
    import lightgbm as lgb
    import mlflow.artifacts
    import mlflow.models

    uri = f"models:/{settings.model_name}/{version}"
    with registry_errors(settings):
        mlflow_client = client(settings)
        model_version = mlflow_client.get_model_version(settings.model_name, str(version))
        data = booster_flavor(settings, version, mlflow.models.get_model_info(uri).flavors)
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
        tags = dict(model_version.tags or {})
        text = verified_model_text(settings, version, tags, folder / data)
        booster = lgb.Booster(model_str=text)  # the bytes hashed, not the file read again
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


def registered_version(settings: Settings, version: int) -> int:
    """The version, once the registry says it is registered; a one-line ``RegistryError`` else."""
    with registry_errors(settings):
        client(settings).get_model_version(settings.model_name, str(version))
    return version


def load_champion(settings: Settings) -> RegisteredModel:
    """Load ``models:/<name>@champion``; fail with one line when there is none or no server."""
    return load_version(settings, require_champion_version(settings))


def download_run_file(settings: Settings, run_id: str, artifact_path: str) -> Path:
    """Fetch one artifact of a run to a local temporary path."""
    import mlflow.artifacts

    client(settings)
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path))


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


def _span(params: dict[str, str], start: str, end: str) -> str:
    if start not in params or end not in params:
        return "days not recorded"
    return day_span(parse_moment(params[start]), parse_moment(params[end]))


def _figures(metrics: dict[str, float], prefix: str = "") -> str:
    """``AUC 0.912, AP 0.654, CP@100 0.120, prevented within the review capacity 1,234.50, ...``,
    n/a where a metric is missing or undefined."""
    values = []
    for key, label in DESCRIBED_METRICS:
        value = metrics.get(f"{prefix}{key}")
        if value is None or math.isnan(value):
            shown = "n/a"
        else:
            shown = f"{value:,.2f}" if key.endswith("_amount_within_capacity") else f"{value:.3f}"
        values.append(f"{label} {shown}")
    return ", ".join(values)


def version_description(
    version: int, params: dict[str, str], metrics: dict[str, float], verdict: GateVerdict | None
) -> str:
    """One paragraph on a version: its training and validation windows, the label cut-off, its
    metrics beside the champion's and the baselines', and the gate's decision and reason."""
    counts = {key: params.get(key, "?") for key in ("training_rows", "training_frauds")}
    cutoff = params.get("label_cutoff")
    labels = f"{parse_moment(cutoff):%Y-%m-%d %H:%M} UTC" if cutoff else "a cut-off not recorded"
    sentences = [
        f"Version {version} was trained on the payments of"
        f" {_span(params, 'train_start', 'train_end')} ({counts['training_rows']} rows read,"
        f" {counts['training_frauds']} known frauds) and validated on those of"
        f" {_span(params, 'validation_start', 'validation_end')}"
        f" ({params.get('validation_rows', '?')} rows), with the labels reported before {labels}."
    ]
    compared = [f"it scores {_figures(metrics)}"]
    if verdict is not None and verdict.champion_version is not None:
        compared.append(
            f"champion version {verdict.champion_version}, on the same rows,"
            f" {_figures(verdict.champion_metrics)}"
        )
    compared += [f"{name} {_figures(metrics, prefix)}" for prefix, name in _BASELINES]
    sentences.append(f"On the validation window {'; '.join(compared)}.")
    if verdict is None:
        sentences.append("The promotion gate has not decided on it yet.")
    else:
        sentences.append(f"Gate decision: {verdict.decision} ({verdict.reason}).")
    return " ".join(sentences)[:_DESCRIPTION_CHARACTERS]


def describe_version(
    settings: Settings, version: int, run_id: str, verdict: GateVerdict | None
) -> str:
    """Set a version's description from its run's parameters and metrics and the gate's verdict;
    setting it again writes the same paragraph."""
    with registry_errors(settings):
        mlflow_client = client(settings)
        run = mlflow_client.get_run(run_id)
        text = version_description(version, run.data.params, run.data.metrics, verdict)
        mlflow_client.update_model_version(settings.model_name, str(version), description=text)
    return text
