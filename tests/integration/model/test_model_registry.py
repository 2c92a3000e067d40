"""The promotion gate and rollback against a real MLflow SQL store and the real warehouse.

Three versions of one model are registered the way retraining registers them (a run with its
validation frame, a logged LightGBM booster, the ``challenger`` alias): a bootstrapped champion
trained on shuffled labels, a better challenger that the gate promotes, and a copy of the weak
model that the gate rejects. Then ``fraud model rollback`` moves the champion back.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.cli import main
from fraud.config import Settings, load_settings
from fraud.dates import day_span
from fraud.db import create_warehouse_engine
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.frames import History
from fraud.model import promotion
from fraud.model.artifacts import VALIDATION_FRAME
from fraud.model.challenger import Challenger
from fraud.model.metrics import compute_metrics
from fraud.model.promotion import decide_promotion
from fraud.model.registry import (
    CHALLENGER,
    CHAMPION,
    EXPERIMENT,
    RegistryError,
    _alias_version,
    booster_flavor,
    client,
    load_champion,
    set_alias,
)
from fraud.model.train import labelled_features, windows_before
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams

pytestmark = pytest.mark.integration

MODEL_NAME = "fraud-registry-test"
CUTOFF = datetime(2026, 2, 1, tzinfo=UTC)
ROLLBACK_REASON = "alert volume tripled after the promotion"


@cache
def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation features of a small simulated bank."""
    simulation = simulate(SimulationParams(seed=21, n_customers=400, n_terminals=800, n_days=31))
    history = History(simulation.transactions, simulation.labels)
    windows = windows_before(CUTOFF, train_days=10, validation_days=5, label_delay_days=3)
    return (
        labelled_features(history, windows.train_start, windows.train_end, 3),
        labelled_features(history, windows.validation_start, windows.validation_end, 3),
    )


def _booster(shuffled: bool) -> lgb.Booster:
    """A small booster on the real labels, or on shuffled ones (a model worth nothing)."""
    training, _ = _frames()
    labels = training["is_fraud"].to_numpy()
    if shuffled:
        labels = np.random.default_rng(0).permutation(labels)
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_threads": 1}
    dataset = lgb.Dataset(training[list(FEATURE_COLUMNS)], label=labels)
    return lgb.train(params, dataset, num_boost_round=30)


WINDOWS = windows_before(CUTOFF, train_days=10, validation_days=5, label_delay_days=3)


def _register(settings: Settings, booster: lgb.Booster, folder: Path) -> Challenger:
    """Log a run with its windows, metrics and validation frame and register the booster, as
    retraining does."""
    import mlflow
    import mlflow.lightgbm

    training, validation = _frames()
    scored = validation.assign(score=booster.predict(validation[list(FEATURE_COLUMNS)]))
    frame_path = folder / VALIDATION_FRAME
    frame_path.parent.mkdir(parents=True, exist_ok=True)
    scored.to_parquet(frame_path, index=False)
    client(settings)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run() as run:
        mlflow.log_params(
            {
                **WINDOWS.as_params(),
                "training_rows": len(training),
                "training_frauds": int(training["is_fraud"].sum()),
                "validation_rows": len(validation),
            }
        )
        mlflow.log_metrics(compute_metrics(scored))
        mlflow.log_artifacts(str(frame_path.parent), frame_path.parent.name)
        info = mlflow.lightgbm.log_model(
            booster, name="model", registered_model_name=settings.model_name
        )
    version = int(info.registered_model_version)
    set_alias(settings, CHALLENGER, version)
    start = validation["tx_datetime"].min().floor("D")
    return Challenger(
        version=version,
        run_id=run.info.run_id,
        label_cutoff=CUTOFF.isoformat(),
        validation_start=start.isoformat(),
        validation_end=(start + timedelta(days=5)).isoformat(),
        trigger="test",
    )


@dataclass(frozen=True)
class Story:
    """The versions registered and the decision the gate took on each."""

    weak: int
    strong: int
    rejected: int
    decisions: dict[int, str]


@pytest.fixture(scope="module")
def settings(warehouse_url: str) -> Generator[Settings, None, None]:
    """Settings with this module's own model name, so other tests' versions never interfere."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_MODEL_NAME", MODEL_NAME)
        yield load_settings()


@pytest.fixture(scope="module")
def engine(settings: Settings) -> Generator[Engine, None, None]:
    engine = create_warehouse_engine(settings.require_database_url())
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def story(settings: Settings, engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Story:
    """Bootstrap a weak champion, promote a strong challenger, reject a weak one."""
    decisions: dict[int, str] = {}
    versions = []
    for name, shuffled in (("weak", True), ("strong", False), ("rejected", True)):
        challenger = _register(settings, _booster(shuffled), tmp_path_factory.mktemp(name))
        decisions[challenger.version] = decide_promotion(engine, settings, challenger)
        versions.append(challenger.version)
    return Story(*versions, decisions=decisions)


def _decision_rows(engine: Engine) -> list[dict]:
    """This module's decisions, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select challenger_version, champion_version, decision, reason,"
                " challenger_metrics, champion_metrics from monitoring.model_decisions"
                " where model_name = :name order by decision_id"
            ),
            {"name": MODEL_NAME},
        )
        return [dict(row._mapping) for row in rows]


def _alias(settings: Settings, alias: str) -> int | None:
    return _alias_version(client(settings), MODEL_NAME, alias)


def test_gate_bootstraps_promotes_then_rejects(story: Story) -> None:
    assert story.decisions == {
        story.weak: "bootstrapped",
        story.strong: "promoted",
        story.rejected: "rejected",
    }


def test_rejected_version_keeps_the_challenger_alias(
    story: Story, settings: Settings, engine: Engine
) -> None:
    assert _alias(settings, CHAMPION) in {story.strong, story.weak}
    assert _alias(settings, CHALLENGER) == story.rejected
    rejected = next(row for row in _decision_rows(engine) if row["decision"] == "rejected")
    assert rejected["challenger_version"] == story.rejected
    assert rejected["champion_version"] == story.strong
    assert "average_precision" in rejected["reason"] and "does not beat" in rejected["reason"]
    challenger_ap = rejected["challenger_metrics"]["average_precision"]
    assert challenger_ap < rejected["champion_metrics"]["average_precision"]
    tags = client(settings).get_model_version(MODEL_NAME, str(story.rejected)).tags
    assert tags["decision"] == "rejected"
    assert tags["decision_reason"] == rejected["reason"]


def test_each_version_describes_its_windows_metrics_and_decision(
    story: Story, settings: Settings, engine: Engine
) -> None:
    training, validation = _frames()
    windows = (
        f"trained on the payments of {day_span(WINDOWS.train_start, WINDOWS.train_end)}"
        f" ({len(training)} rows read, {int(training['is_fraud'].sum())} known frauds) and"
        f" validated on those of {day_span(WINDOWS.validation_start, WINDOWS.validation_end)}"
        f" ({len(validation)} rows), with the labels reported before 2026-02-01 00:00 UTC."
    )
    rows = {row["challenger_version"]: row for row in _decision_rows(engine)}
    for version in (story.weak, story.strong, story.rejected):
        row = rows[version]
        description = client(settings).get_model_version(MODEL_NAME, str(version)).description
        assert windows in description
        challenger = row["challenger_metrics"]
        assert (
            f"it scores AUC {challenger['auc_roc']:.3f}, AP {challenger['average_precision']:.3f},"
            f" CP@100 {challenger['card_precision_at_100']:.3f}"
        ) in description
        assert description.endswith(f"Gate decision: {row['decision']} ({row['reason']}).")
        champion = row["champion_metrics"]
        if row["champion_version"] is not None:
            assert (
                f"champion version {row['champion_version']}, on the same rows,"
                f" AUC {champion['auc_roc']:.3f}, AP {champion['average_precision']:.3f}"
            ) in description


def test_rollback_command_restores_the_replaced_champion(
    story: Story, settings: Settings, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _alias(settings, CHAMPION) == story.strong
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_MODEL_NAME", MODEL_NAME)
        assert main(["model", "rollback", "--reason", ROLLBACK_REASON]) == 0
    assert f"from version {story.strong} back to version {story.weak}" in capsys.readouterr().out
    assert _alias(settings, CHAMPION) == story.weak
    last = _decision_rows(engine)[-1]
    assert (last["decision"], last["reason"]) == ("rolled_back", ROLLBACK_REASON)
    assert (last["challenger_version"], last["champion_version"]) == (story.weak, story.strong)
    # Nothing replaced the weak version: a second rollback is refused with one line.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_MODEL_NAME", MODEL_NAME)
        assert main(["model", "rollback", "--reason", "again"]) == 2
    assert "replaced no earlier version" in capsys.readouterr().err


class _Injected(RuntimeError):
    """The failure a test injects into one step of decide_promotion."""


@pytest.mark.parametrize("step", ["decision row", "alias", "tags"])
def test_a_retry_after_a_failure_at_any_step_ends_as_one_clean_run(
    step: str, warehouse_url: str, engine: Engine, tmp_path: Path
) -> None:
    """Bootstrap a weak champion, then promote a strong challenger whose first attempt fails at
    one step: the retry ends with one decision row, the strong version as champion, no
    challenger alias and the decision tags, as one clean run does."""
    name = f"{MODEL_NAME}-retry-{step.replace(' ', '-')}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_MODEL_NAME", name)
        settings = load_settings()
        weak = _register(settings, _booster(True), tmp_path / "weak")
        assert decide_promotion(engine, settings, weak) == "bootstrapped"
        strong = _register(settings, _booster(False), tmp_path / "strong")

        target = {
            "decision row": "insert_decision",
            "alias": "_apply_decision",
            "tags": "tag_decision",
        }[step]
        original = getattr(promotion, target)

        def fail_once(*args: object, **kwargs: object) -> None:
            patch.setattr(promotion, target, original)
            if step == "alias":
                # The champion alias moves, then the step fails before the challenger's is cleared.
                set_alias(settings, CHAMPION, strong.version)
            raise _Injected(step)

        patch.setattr(promotion, target, fail_once)
        with pytest.raises(_Injected):
            decide_promotion(engine, settings, strong)
        assert decide_promotion(engine, settings, strong) == "promoted"
        # A third run changes nothing either.
        assert decide_promotion(engine, settings, strong) == "promoted"

        mlflow_client = client(settings)
        assert _alias_version(mlflow_client, name, CHAMPION) == strong.version
        assert _alias_version(mlflow_client, name, CHALLENGER) is None
        tags = mlflow_client.get_model_version(name, str(strong.version)).tags
        assert tags["decision"] == "promoted"
        description = mlflow_client.get_model_version(name, str(strong.version)).description
        assert f"champion version {weak.version}" in description
        assert "Gate decision: promoted (" in description
        assert mlflow_client.get_run(strong.run_id).data.tags["decision"] == "promoted"
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select challenger_version, champion_version, decision"
                " from monitoring.model_decisions where model_name = :name order by decision_id"
            ),
            {"name": name},
        ).all()
    assert [tuple(row) for row in rows] == [
        (weak.version, None, "bootstrapped"),
        (strong.version, weak.version, "promoted"),
    ]


def test_the_warehouse_refuses_a_second_gate_decision_for_one_version(engine: Engine) -> None:
    insert = sa.text(
        "insert into monitoring.model_decisions (model_name, challenger_version, decision, reason,"
        " challenger_metrics, champion_metrics, trigger)"
        " values ('fraud-unique-test', 7, :decision, 'test', '{}', '{}', 'test')"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"decision": "promoted"})
        # Rollbacks are not gate decisions: one version may be rolled back to more than once.
        connection.execute(insert, {"decision": "rolled_back"})
        connection.execute(insert, {"decision": "rolled_back"})
    with pytest.raises(sa.exc.IntegrityError, match="model_decisions_one_gate_decision"):
        with engine.begin() as connection:
            connection.execute(insert, {"decision": "rejected"})


class _Unpickled:
    """A pyfunc model whose unpickling leaves a mark: loading it would run code from the store."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state: dict[str, str]) -> None:
        Path(state["marker"]).write_text("unpickled")
        self.__dict__.update(state)


def test_a_pickled_pyfunc_champion_is_refused_in_one_line_unloaded(
    engine: Engine, tmp_path: Path
) -> None:
    import mlflow
    import mlflow.pyfunc

    class Model(mlflow.pyfunc.PythonModel):
        def __init__(self, payload: _Unpickled) -> None:
            self.payload = payload

        def predict(self, context: object, model_input: pd.DataFrame) -> pd.DataFrame:
            return model_input

    marker = tmp_path / "unpickled"
    name = f"{MODEL_NAME}-pyfunc"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_MODEL_NAME", name)
        settings = load_settings()
        client(settings)
        mlflow.set_experiment(EXPERIMENT)
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=Model(_Unpickled(str(marker))),
                registered_model_name=name,
            )
        version = int(info.registered_model_version)
        set_alias(settings, CHAMPION, version)
        # Logging may round-trip the object itself; only what loading does is under test.
        marker.unlink(missing_ok=True)
        with pytest.raises(RegistryError) as refused:
            load_champion(settings)
    message = str(refused.value)
    assert "\n" not in message
    assert f"version {version} is not a plain LightGBM Booster" in message
    assert "python_function" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("flavors", "named"),
    [
        ({"python_function": {}}, "class: none"),
        (
            {"lightgbm": {"model_class": "lightgbm.sklearn.LGBMClassifier", "data": "model.pkl"}},
            "class: lightgbm.sklearn.LGBMClassifier",
        ),
        ({"lightgbm": {"model_class": "lightgbm.basic.Booster"}}, "class: lightgbm.basic.Booster"),
    ],
)
def test_only_a_booster_flavor_with_its_file_passes(
    settings: Settings, flavors: dict[str, dict], named: str
) -> None:
    with pytest.raises(RegistryError, match=named):
        booster_flavor(settings, 3, flavors)
    booster = {"lightgbm": {"model_class": "lightgbm.basic.Booster", "data": "model.lgb"}}
    assert booster_flavor(settings, 3, booster) == "model.lgb"
