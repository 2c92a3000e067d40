"""A version's booster file is checked against the SHA-256 recorded at registration, against a
real MLflow SQL store and its artifact folder: intact it loads, changed it is refused, and a
version registered before the tag existed loads with a warning."""

from __future__ import annotations

import logging
from collections.abc import Generator
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlparse

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from fraud.config import Settings, load_settings
from fraud.model.registry import (
    EXPERIMENT,
    MODEL_TEXT_SHA256,
    RegistryError,
    client,
    load_version,
    model_text_digest,
    record_model_text_digest,
)

pytestmark = pytest.mark.integration

MODEL_NAME = "fraud-digest-test"


@cache
def _booster_and_rows() -> tuple[lgb.Booster, pd.DataFrame]:
    """A five-tree booster of four features and rows to score."""
    rng = np.random.default_rng(3)
    rows = pd.DataFrame(rng.normal(size=(500, 4)), columns=["f0", "f1", "f2", "f3"])
    labels = (rows["f0"] - rows["f3"] + rng.normal(size=len(rows)) > 0).astype(int)
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_leaves": 7}
    return lgb.train(params, lgb.Dataset(rows, labels), num_boost_round=5), rows


@pytest.fixture(scope="module")
def settings(warehouse_url: str) -> Generator[Settings, None, None]:
    """Settings with this module's own model name, so other tests' versions never interfere."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_MODEL_NAME", MODEL_NAME)
        yield load_settings()


def _register(settings: Settings, booster: lgb.Booster, *, tagged: bool) -> tuple[int, Path]:
    """Register the booster as retraining does (with the digest tag, or as before it existed);
    return the version and its booster file in the artifact store."""
    import mlflow
    import mlflow.lightgbm

    client(settings)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run():
        info = mlflow.lightgbm.log_model(
            booster, name="model", registered_model_name=settings.model_name
        )
    version = int(info.registered_model_version)
    if tagged:
        record_model_text_digest(settings, version, booster)
    location = mlflow.get_logged_model(info.model_id).artifact_location
    return version, Path(unquote(urlparse(location).path)) / "model.lgb"


def test_registration_records_the_stored_files_digest_and_it_loads(settings: Settings) -> None:
    booster, rows = _booster_and_rows()
    version, stored = _register(settings, booster, tagged=True)

    tags = client(settings).get_model_version(MODEL_NAME, str(version)).tags
    loaded = load_version(settings, version)

    assert tags[MODEL_TEXT_SHA256] == model_text_digest(stored.read_bytes())
    np.testing.assert_array_equal(loaded.booster.predict(rows), booster.predict(rows))


def test_a_booster_file_changed_in_the_artifact_store_is_refused(settings: Settings) -> None:
    booster, _ = _booster_and_rows()
    version, stored = _register(settings, booster, tagged=True)
    other = lgb.Booster(model_str=booster.model_to_string(num_iteration=2))
    stored.write_text(other.model_to_string())  # a valid model, with other scores

    with pytest.raises(RegistryError) as refused:
        load_version(settings, version)

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"model {MODEL_NAME!r} version {version}: model.lgb has SHA-256 ")
    assert f"recorded in its {MODEL_TEXT_SHA256} tag at registration: refusing" in message


def test_a_version_registered_before_the_tag_loads_with_a_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    booster, rows = _booster_and_rows()
    version, _ = _register(settings, booster, tagged=False)

    with caplog.at_level(logging.WARNING, logger="fraud.model.registry"):
        loaded = load_version(settings, version)

    assert (
        f"model {MODEL_NAME!r} version {version} has no {MODEL_TEXT_SHA256} tag"
        " (registered before it was recorded): loading model.lgb unverified"
    ) in [record.getMessage() for record in caplog.records if record.name == "fraud.model.registry"]
    np.testing.assert_array_equal(loaded.booster.predict(rows), booster.predict(rows))
