"""Test support: register a booster as the registry's champion, as the integration tests need."""

from __future__ import annotations

import lightgbm as lgb

from fraud.config import Settings
from fraud.model.registry import (
    CHAMPION,
    EXPERIMENT,
    client,
    record_model_text_digest,
    set_alias,
)


def register_champion(settings: Settings, booster: lgb.Booster) -> int:
    """Log the booster to a run, register it as a new version (tagged with its text's digest,
    as retraining does) and make it the champion."""
    import mlflow
    import mlflow.lightgbm

    client(settings)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run():
        info = mlflow.lightgbm.log_model(
            booster, name="model", registered_model_name=settings.model_name
        )
    version = int(info.registered_model_version)
    record_model_text_digest(settings, version, booster)
    set_alias(settings, CHAMPION, version)
    return version
