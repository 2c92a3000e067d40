"""The promotion gate: a challenger becomes champion only if it beats it on the same window.

The gate is declared as data (``Settings.promotion_gate``, and the ratio rule on money
``Settings.promotion_money_gate``); each decision is stored with the gate it used in
``monitoring.model_decisions``, as tags on the MLflow model version and run, and in the version's
description. Both versions' amounts within the review capacity are among the metrics stored.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.gates import MetricGate, RatioGate
from fraud.model import registry
from fraud.model.artifacts import VALIDATION_FRAME
from fraud.model.challenger import Challenger, money_metrics
from fraud.model.metrics import compute_metrics
from fraud.model.registry import GateVerdict
from fraud.model.train import booster_scores

if TYPE_CHECKING:
    import lightgbm as lgb

logger = logging.getLogger(__name__)

_RECORD_DECISION_SQL = """
insert into monitoring.model_decisions (
    model_name, challenger_version, champion_version, decision, reason,
    challenger_metrics, champion_metrics, gate,
    evaluation_start, evaluation_end, label_cutoff, mlflow_run_id, trigger
)
values (
    :name, :challenger, :champion, :decision, :reason,
    cast(:challenger_metrics as jsonb), cast(:champion_metrics as jsonb), cast(:gate as jsonb),
    :evaluation_start, :evaluation_end, :label_cutoff, :run_id, :trigger
)
"""
# The gate's decisions are unique per version (V024): a second attempt's insert does nothing.
_RECORD_GATE_DECISION_SQL = (
    _RECORD_DECISION_SQL
    + """on conflict (model_name, challenger_version)
    where decision in ('bootstrapped', 'promoted', 'rejected') do nothing
"""
)
GATE_DECISIONS = ("bootstrapped", "promoted", "rejected")
_GATE_DECISION_OF_SQL = """
select decision, reason, champion_version, champion_metrics
from monitoring.model_decisions
where model_name = :name and challenger_version = :version
    and decision in ('bootstrapped', 'promoted', 'rejected')
"""

# The version a promoted champion replaced: where a rollback goes back to.
_REPLACED_VERSION_SQL = """
select champion_version
from monitoring.model_decisions
where model_name = :name and challenger_version = :current
    and decision = 'promoted' and champion_version is not null
order by decided_at desc
limit 1
"""


@dataclass(frozen=True)
class GateOutcome:
    """What the promotion gate decided and why, in words and numbers."""

    passed: bool
    reasons: tuple[str, ...]


def apply_ratio_rule(
    rule: RatioGate, challenger: dict[str, float], champion: dict[str, float]
) -> tuple[bool, str]:
    """The ratio rule on an amount: whether it holds, and why in words; skipped (it holds) when
    the window has too few fraudulent cards (``fraud_cards``) to tell the amounts apart."""
    cards = challenger.get("fraud_cards", math.nan)
    new, old = challenger.get(rule.metric, math.nan), champion.get(rule.metric, math.nan)
    if math.isnan(cards) or cards < rule.min_fraud_cards:
        shown = "an unknown number of" if math.isnan(cards) else f"{cards:.0f}"
        return True, (
            f"{rule.metric}: rule skipped, the window holds {shown} fraudulent cards, fewer"
            f" than the {rule.min_fraud_cards} needed to judge amounts"
        )
    if math.isnan(new):
        return False, f"{rule.metric}: challenger value is missing"
    if math.isnan(old):
        return True, f"{rule.metric}: champion value missing, rule skipped"
    if new < rule.min_ratio * old:
        return False, (
            f"{rule.metric} {new:,.2f} is less than {rule.min_ratio:g} of champion {old:,.2f}"
        )
    return (
        True,
        f"{rule.metric} {new:,.2f} vs champion {old:,.2f} (at least {rule.min_ratio:g}): ok",
    )


def apply_gate(
    gate: tuple[MetricGate, ...],
    challenger: dict[str, float],
    champion: dict[str, float],
    ratio_rule: RatioGate | None = None,
) -> GateOutcome:
    """Compare challenger and champion metrics rule by rule, then the ratio rule on money if
    given; every rule must hold."""
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
    if ratio_rule is not None:
        holds, reason = apply_ratio_rule(ratio_rule, challenger, champion)
        passed = passed and holds
        reasons.append(reason)
    return GateOutcome(passed=passed, reasons=tuple(reasons))


def declared_gate(settings: Settings) -> list[dict[str, object]]:
    """The promotion gate as stored with each decision: the metric rules, then the ratio rule."""
    return [
        *(asdict(rule) for rule in settings.promotion_gate),
        asdict(settings.promotion_money_gate),
    ]


def insert_decision(
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
    """Store one decision in ``monitoring.model_decisions``; a gate decision only once per
    version (a second insert does nothing)."""
    gate = declared_gate(settings)
    statement = _RECORD_GATE_DECISION_SQL if decision in GATE_DECISIONS else _RECORD_DECISION_SQL
    with engine.begin() as connection:
        connection.execute(
            sa.text(statement),
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


def tag_decision(
    settings: Settings, version: int, mlflow_run_id: str | None, decision: str, reason: str
) -> None:
    """The decision as tags on the model version and its run; setting them again is harmless."""
    mlflow_client = registry.client(settings)
    for key, value in {"decision": decision, "decision_reason": reason[:5000]}.items():
        mlflow_client.set_model_version_tag(settings.model_name, str(version), key, value)
    if mlflow_run_id:
        mlflow_client.set_tag(mlflow_run_id, "decision", decision)
        mlflow_client.set_tag(mlflow_run_id, "decision_reason", reason[:5000])


def _json(metrics: dict[str, float]) -> str:
    return json.dumps(
        {key: (None if math.isnan(value) else value) for key, value in metrics.items()}
    )


def rollback(engine: Engine, settings: Settings, reason: str) -> tuple[int, int]:
    """Move ``champion`` back to the version it replaced; record why. Returns (from, to)."""
    current = registry.champion_version(settings)
    if current is None:
        raise registry.RegistryError(f"model {settings.model_name!r} has no champion to roll back")
    with engine.connect() as connection:
        previous = connection.execute(
            sa.text(_REPLACED_VERSION_SQL), {"name": settings.model_name, "current": current}
        ).scalar()
    if previous is None:
        raise registry.RegistryError(
            f"champion version {current} of {settings.model_name!r} replaced no earlier version"
        )
    registry.set_alias(settings, registry.CHAMPION, int(previous))
    insert_decision(
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
    tag_decision(settings, int(previous), None, "rolled_back", reason)
    return current, int(previous)


def model_inputs(booster: lgb.Booster, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a booster was trained on, in its order: an older champion keeps working
    after new feature columns are added."""
    return frame[booster.feature_name()]


def gate_decision_of(engine: Engine, settings: Settings, version: int) -> GateVerdict | None:
    """The gate's stored decision on a version and the champion it compared, if it decided it
    already."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(_GATE_DECISION_OF_SQL), {"name": settings.model_name, "version": version}
        ).one_or_none()
    if row is None:
        return None
    return GateVerdict(
        decision=str(row.decision),
        reason=str(row.reason),
        champion_version=row.champion_version,
        champion_metrics={
            key: math.nan if value is None else float(value)
            for key, value in (row.champion_metrics or {}).items()
        },
    )


def _apply_decision(settings: Settings, challenger: Challenger, verdict: GateVerdict) -> None:
    """The registry's side of a decision: aliases, tags, then the version's description. Each
    step can run again."""
    if verdict.decision != "rejected":
        registry.set_alias(settings, registry.CHAMPION, challenger.version)
        registry.clear_alias(settings, registry.CHALLENGER)
    tag_decision(settings, challenger.version, challenger.run_id, verdict.decision, verdict.reason)
    registry.describe_version(settings, challenger.version, challenger.run_id, verdict)


def decide_promotion(engine: Engine, settings: Settings, challenger: Challenger) -> str:
    """Promote the challenger only if it beats the champion on the same window; record it.

    Safe to retry after a failure at any step: the decision row is written first, in one
    transaction, and only then are the aliases moved, the tags set and the description written. A retry that finds the
    version already decided does not judge it again (the champion may by then be the challenger
    itself); it finishes the registry steps of the stored decision.
    """
    earlier = gate_decision_of(engine, settings, challenger.version)
    if earlier is not None:
        _apply_decision(settings, challenger, earlier)
        logger.info(
            "version %d was already %s: applied again", challenger.version, earlier.decision
        )
        return earlier.decision
    validation = pd.read_parquet(
        registry.download_run_file(settings, challenger.run_id, VALIDATION_FRAME)
    )
    challenger_metrics = {**compute_metrics(validation), **money_metrics(settings, validation)}
    current = registry.champion_version(settings)
    champion_metrics: dict[str, float] = {}
    if current is None:
        decision = "bootstrapped"
        reason = "no champion existed; the first trained version becomes champion"
    else:
        champion = registry.load_version(settings, current)
        scored = validation.assign(
            score=booster_scores(champion.booster, model_inputs(champion.booster, validation))
        )
        champion_metrics = {**compute_metrics(scored), **money_metrics(settings, scored)}
        outcome = apply_gate(
            settings.promotion_gate,
            challenger_metrics,
            champion_metrics,
            settings.promotion_money_gate,
        )
        decision = "promoted" if outcome.passed else "rejected"
        reason = "; ".join(outcome.reasons)
    insert_decision(
        engine,
        settings,
        challenger_version=challenger.version,
        champion_version=current,
        decision=decision,
        reason=reason,
        challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics,
        evaluation_window=(challenger.validation_start, challenger.validation_end),
        label_cutoff=challenger.label_cutoff,
        mlflow_run_id=challenger.run_id,
        trigger=challenger.trigger,
    )
    # Another attempt may have decided meanwhile: what is stored is what is applied.
    verdict = gate_decision_of(engine, settings, challenger.version) or GateVerdict(
        decision, reason, current, champion_metrics
    )
    _apply_decision(settings, challenger, verdict)
    logger.info(
        "version %d %s against champion %s: %s (gate %s)",
        challenger.version,
        verdict.decision,
        verdict.champion_version,
        verdict.reason,
        declared_gate(settings),
    )
    return verdict.decision
