"""The promotion gate's ratio rule on money, in real gate runs: MLflow SQL store, real warehouse.

The metric rules are left out of these runs' gate so that the ratio rule alone decides: a
champion trained on the real labels, then a challenger worth nothing that prevents far less
within the review capacity (rejected), a copy of the champion that prevents as much (promoted),
and a challenger worth nothing judged on a window with too few fraudulent cards for the rule
(skipped, so promoted). The ledger, the tags and the version's description say both amounts and
the rule's outcome.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import Settings, load_settings
from fraud.db import create_warehouse_engine
from fraud.features.columns import FEATURE_COLUMNS
from fraud.gates import RatioGate
from fraud.model.artifacts import VALIDATION_FRAME
from fraud.model.challenger import Challenger
from fraud.model.money import CARD_REPORTED_AT, fraud_cards, money_within_capacity
from fraud.model.promotion import decide_promotion
from fraud.model.registry import CHALLENGER, EXPERIMENT, client, set_alias
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams
from tests.integration.model.test_model_registry import CUTOFF, WINDOWS, _booster, _frames

pytestmark = pytest.mark.integration

MODEL_NAME = "fraud-money-gate-test"
CAPACITY = 10
PREVENTED = "prevented_amount_within_capacity"


def _validation() -> pd.DataFrame:
    """The validation frame with each card's first fraud report before the cut-off."""
    _, validation = _frames()
    labels = simulate(SimulationParams(seed=21, n_customers=400, n_terminals=800, n_days=31)).labels
    reports = labels[labels["is_fraud"] & (labels["reported_at"] < CUTOFF)]
    cards = validation[["transaction_id", "customer_id"]].merge(reports, on="transaction_id")
    first = cards.groupby("customer_id")["reported_at"].min()
    return validation.assign(**{CARD_REPORTED_AT: validation["customer_id"].map(first)})


def _register(settings: Settings, booster: lgb.Booster, folder: Path) -> Challenger:
    """Log a run with its validation frame and register the booster as the challenger."""
    import mlflow
    import mlflow.lightgbm

    validation = _validation()
    scored = validation.assign(score=booster.predict(validation[list(FEATURE_COLUMNS)]))
    frame_path = folder / VALIDATION_FRAME
    frame_path.parent.mkdir(parents=True, exist_ok=True)
    scored.to_parquet(frame_path, index=False)
    client(settings)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run() as run:
        mlflow.log_params(WINDOWS.as_params())
        mlflow.log_artifacts(str(frame_path.parent), frame_path.parent.name)
        info = mlflow.lightgbm.log_model(
            booster, name="model", registered_model_name=settings.model_name
        )
    version = int(info.registered_model_version)
    set_alias(settings, CHALLENGER, version)
    return Challenger(
        version=version,
        run_id=run.info.run_id,
        label_cutoff=CUTOFF,
        validation_start=WINDOWS.validation_start,
        validation_end=WINDOWS.validation_end,
        trigger="test",
    )


@pytest.fixture(scope="module")
def settings(warehouse_url: str) -> Generator[Settings, None, None]:
    """This module's model, a review capacity of 10 cards and the ratio rule alone."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_MODEL_NAME", MODEL_NAME)
        patch.setenv("FRAUD_REVIEW_CAPACITY", str(CAPACITY))
        patch.setenv("FRAUD_GATE_MIN_PREVENTED_RATIO", "0.98")
        patch.setenv("FRAUD_GATE_MIN_FRAUD_CARDS", "1")
        yield replace(load_settings(), promotion_gate=())


@pytest.fixture(scope="module")
def engine(settings: Settings) -> Generator[Engine, None, None]:
    engine = create_warehouse_engine(settings.require_database_url())
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Runs:
    """The versions judged, by what each run was to show."""

    champion: int
    rejected: int
    passed: int
    skipped: int


@pytest.fixture(scope="module")
def runs(settings: Settings, engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Bootstrap a champion, then judge a weak challenger, a copy of the champion and a weak
    challenger on a window the rule cannot judge."""
    strong, weak = _booster(shuffled=False), _booster(shuffled=True)
    too_many = replace(
        settings,
        promotion_money_gate=RatioGate(min_fraud_cards=fraud_cards(_validation()) + 1),
    )
    versions = []
    for name, booster, judged_with in (
        ("champion", strong, settings),
        ("rejected", weak, settings),
        ("passed", strong, settings),
        ("skipped", weak, too_many),
    ):
        challenger = _register(settings, booster, tmp_path_factory.mktemp(name))
        decide_promotion(engine, judged_with, challenger)
        versions.append(challenger.version)
    return Runs(*versions)


def _decision(engine: Engine, version: int) -> dict:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "select decision, reason, gate, challenger_metrics, champion_metrics"
                " from monitoring.model_decisions where model_name = :name"
                " and challenger_version = :version"
            ),
            {"name": MODEL_NAME, "version": version},
        ).one()
    return dict(row._mapping)


def _prevented(booster: lgb.Booster) -> float:
    validation = _validation()
    scored = validation.assign(score=booster.predict(validation[list(FEATURE_COLUMNS)]))
    return money_within_capacity(scored, CAPACITY, timedelta(hours=10)).prevented_amount


def test_a_challenger_preventing_less_is_rejected(runs: Runs, engine: Engine) -> None:
    strong, weak = _prevented(_booster(shuffled=False)), _prevented(_booster(shuffled=True))
    assert weak < 0.98 * strong, "the weak model must prevent less for this test to mean much"
    row = _decision(engine, runs.rejected)
    assert row["decision"] == "rejected"
    assert row["challenger_metrics"][PREVENTED] == pytest.approx(weak)
    assert row["champion_metrics"][PREVENTED] == pytest.approx(strong)
    assert f"{PREVENTED} {weak:,.2f} is less than 0.98 of champion {strong:,.2f}" in row["reason"]
    assert row["gate"][-1] == {"metric": PREVENTED, "min_ratio": 0.98, "min_fraud_cards": 1}


def test_a_challenger_preventing_as_much_is_promoted(runs: Runs, engine: Engine) -> None:
    row = _decision(engine, runs.passed)
    assert row["decision"] == "promoted"
    assert row["challenger_metrics"][PREVENTED] == row["champion_metrics"][PREVENTED] > 0
    assert row["reason"].endswith("(at least 0.98): ok")


def test_too_few_fraudulent_cards_skip_the_rule(runs: Runs, engine: Engine) -> None:
    cards = fraud_cards(_validation())
    row = _decision(engine, runs.skipped)
    assert row["decision"] == "promoted"
    assert row["challenger_metrics"]["fraud_cards"] == cards
    assert row["challenger_metrics"][PREVENTED] < row["champion_metrics"][PREVENTED]
    assert (
        f"{PREVENTED}: rule skipped, the window holds {cards} fraudulent cards, fewer than the"
        f" {cards + 1} needed to judge amounts"
    ) in row["reason"]


def test_the_versions_description_says_both_amounts(
    runs: Runs, settings: Settings, engine: Engine
) -> None:
    row = _decision(engine, runs.rejected)
    description = client(settings).get_model_version(MODEL_NAME, str(runs.rejected)).description
    champion = row["champion_metrics"][PREVENTED]
    assert f"prevented within the review capacity {champion:,.2f}" in description
    assert description.endswith(f"Gate decision: rejected ({row['reason']}).")
    tags = client(settings).get_model_version(MODEL_NAME, str(runs.rejected)).tags
    assert tags["decision_reason"] == row["reason"]
