"""Test support: register a booster as the registry's champion, as the integration tests need."""

from __future__ import annotations

import lightgbm as lgb

from fraud import registry
from fraud.config import Settings


def register_champion(settings: Settings, booster: lgb.Booster) -> int:
    """Log the booster to a run, register it as a new version and make it the champion."""
    import mlflow
    import mlflow.lightgbm

    registry.client(settings)
    mlflow.set_experiment(registry.EXPERIMENT)
    with mlflow.start_run():
        info = mlflow.lightgbm.log_model(
            booster, name="model", registered_model_name=settings.model_name
        )
    version = int(info.registered_model_version)
    registry.set_alias(settings, registry.CHAMPION, version)
    return version
