"""The Handbook protocol with and without the investigators' feedback (``fraud evaluate
--feedback-capacity K``).

Both runs replay every night from a month before training to the end of the test
(:func:`fraud.model.feedback.replay_nights`), with the same simulated investigators reviewing
the ``K`` highest-ranked cards each morning; they differ in one thing only: with feedback, the
verdicts are labels (features, the known-card rule, training targets), without it they are not.

* **Before the test**, the nights are ranked by the champion of the time: a model trained, as
  retraining trains it, on the window as long as the training one that ends a label delay before
  the replay starts, with the reports known when the replay starts. The month of nights before
  training lets the features of the first training row see a month of verdicts, as they would
  in a bank that has had its investigators for a while.
* **Training rows** are the replayed nights of the training window, each with the features its
  night computed, and its label as known at the protocol's cut-off (the end of the gap).
* **The test nights** are ranked by the model each run trained, so that the feedback run's
  verdicts of a test night reach the next one's features.
* **Test payments** are the same in both runs: the known-card rule of the delayed-only run (the
  Handbook's), so that feedback cannot win or lose by removing cards. Their targets are every
  label, however late.
* ``split`` also tries Dal Pozzolo et al.'s feedback/delayed split: one model on the training
  payments with a verdict, one on the others, their probabilities averaged; it is ranked and
  judged the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fraud.bulk import read_frame
from fraud.config import Settings
from fraud.features.columns import FEATURE_COLUMNS, LONGEST_WINDOW_DAYS, history_start
from fraud.features.frames import History, read_history
from fraud.labels import reported_labels_before
from fraud.model import train
from fraud.model.feedback import (
    FRAUD,
    GENUINE,
    Replay,
    ReplayRules,
    Scorer,
    empty_verdicts,
    known_frauds,
    nights_between,
    replay_nights,
    stopped_fraud,
)
from fraud.model.protocol import REPORTED_METRICS, Protocol, known_card_mask
from fraud.simulation.investigators import InvestigatorParams

_END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)
_JUST_BEFORE = timedelta(microseconds=1)

# Every report of the range's payments, fraud or genuine, with the moment it was reported.
REPORTED_LABELS_SQL = f"""
select reported.transaction_id, reported.is_fraud, reported.known_at as reported_at
from {reported_labels_before(":end_of_time")} as reported
join raw.transactions as t using (transaction_id)
where t.tx_datetime >= :start and t.tx_datetime < :end
"""


@dataclass(frozen=True)
class Bank:
    """The payments of the whole replay and their reports, in memory."""

    transactions: pd.DataFrame
    reported: pd.DataFrame

    @property
    def truth(self) -> pd.Series:
        """Each payment's true status: a fraud whenever its report came."""
        frauds = self.reported.loc[self.reported["is_fraud"].astype(bool), "transaction_id"]
        return pd.Series(True, index=frauds.to_numpy(np.int64))


def read_bank(engine: Engine, start: datetime, end: datetime) -> Bank:
    """Clean payments of [start, end) and every report of them."""
    with engine.connect() as connection:
        transactions = read_history(connection, start, end, start).transactions
        reported = read_frame(
            connection,
            REPORTED_LABELS_SQL,
            {"start": start, "end": end, "end_of_time": _END_OF_TIME},
        )
    reported["transaction_id"] = reported["transaction_id"].astype(np.int64)
    reported["is_fraud"] = reported["is_fraud"].astype(bool)
    reported["reported_at"] = pd.to_datetime(reported["reported_at"], utc=True)
    return Bank(transactions, reported)


def _fit(frame: pd.DataFrame, settings: Settings) -> train.TrainedModels:
    return train.fit_models(
        frame, seed=settings.random_seed, time_budget_seconds=settings.training_time_budget_seconds
    )


def _booster_scorer(models: train.TrainedModels) -> Scorer:
    return lambda frame: train.booster_scores(models.booster, frame[list(FEATURE_COLUMNS)])


def _training_rows(
    replay: Replay, bank: Bank, protocol: Protocol, *, use_verdicts: bool
) -> pd.DataFrame:
    """The replayed nights of the training window, labelled as known at the cut-off."""
    scored = replay.scored()
    rows = scored[
        scored["tx_datetime"].between(protocol.train_start, protocol.train_end, inclusive="left")
    ].copy()
    verdicts = replay.verdicts if use_verdicts else empty_verdicts()
    known = known_frauds(bank.reported, verdicts, protocol.training_label_cutoff - _JUST_BEFORE)
    rows["is_fraud"] = rows["transaction_id"].isin(known["transaction_id"]).astype(np.int8)
    return rows.drop(columns=["score"]).reset_index(drop=True)


def _verdict_labelled(replay: Replay, protocol: Protocol) -> set[int]:
    """Payments with a fraud or genuine verdict known before the training cut-off."""
    verdicts = replay.verdicts
    known = verdicts[
        (verdicts["known_at"] < protocol.training_label_cutoff)
        & verdicts["outcome"].isin([FRAUD, GENUINE])
    ]
    return set(known["transaction_id"].astype(int))


def _split_scorer(rows: pd.DataFrame, feedback: set[int], settings: Settings) -> Scorer:
    """One model on the payments with a verdict, one on the others, probabilities averaged."""
    with_verdict = rows["transaction_id"].isin(feedback)
    feedback_model = _fit(rows[with_verdict], settings)
    delayed_model = _fit(rows[~with_verdict], settings)
    return lambda frame: (
        0.5 * _booster_scorer(feedback_model)(frame) + 0.5 * _booster_scorer(delayed_model)(frame)
    )


def _outcome(
    replay: Replay,
    bank: Bank,
    protocol: Protocol,
    test_ids: np.ndarray,
    judged: Callable[[pd.DataFrame], dict[str, np.ndarray]],
) -> dict[str, object]:
    """The run's metrics on the common test payments, its stopped fraud and its test alerts."""
    scored = replay.scored()
    test = scored[scored["transaction_id"].isin(test_ids)].reset_index(drop=True)
    metrics = train.evaluate_scores(test, judged(test))
    amount, cards = stopped_fraud(
        bank.transactions, bank.truth, replay.verdicts, protocol.test_start, protocol.test_end
    )
    test_verdicts = replay.verdicts[replay.verdicts["known_at"] >= protocol.test_start]
    return {
        "metrics": {
            name: {metric: values[metric] for metric in REPORTED_METRICS}
            for name, values in metrics.items()
        },
        "test_payments": len(test),
        "stopped_fraud_amount": round(amount, 2),
        "cards_stopped": cards,
        "test_verdicts": test_verdicts["outcome"].value_counts().to_dict(),
        "alerts": [
            [night.isoformat(), card, rank]
            for night, card, rank in replay.alerts
            if night >= protocol.test_start.date()
        ],
    }


def evaluate_with_feedback(
    engine: Engine, settings: Settings, protocol: Protocol, capacity: int, *, split: bool = False
) -> dict[str, object]:
    """Run the protocol without and with the investigators' feedback; see the module doc."""
    delay = settings.label_delay_days
    rules = ReplayRules(
        InvestigatorParams(capacity=capacity, seed=settings.random_seed),
        settings.review_cooldown_days,
        delay,
    )
    replay_start = protocol.train_start - timedelta(days=LONGEST_WINDOW_DAYS)
    warm_end = replay_start - timedelta(days=protocol.delay_days)
    warm_start = warm_end - (protocol.train_end - protocol.train_start)
    bank = read_bank(engine, history_start(warm_start, delay), protocol.test_end)
    warm_labels = known_frauds(bank.reported, empty_verdicts(), replay_start - _JUST_BEFORE)
    champion = _fit(
        train.labelled_features(
            History(bank.transactions, warm_labels), warm_start, warm_end, delay
        ),
        settings,
    )
    before_test = nights_between(replay_start, protocol.test_start)
    test_nights = nights_between(protocol.test_start, protocol.test_end)
    test_ids: np.ndarray | None = None
    results: dict[str, object] = {"capacity": capacity}
    for name, use_verdicts in (("delayed_only", False), ("with_feedback", True)):
        replay = replay_nights(
            bank.transactions, bank.reported, bank.truth, before_test,
            _booster_scorer(champion), rules, use_verdicts=use_verdicts,
        )  # fmt: skip
        rows = _training_rows(replay, bank, protocol, use_verdicts=use_verdicts)
        models = _fit(rows, settings)
        runs = {
            name: (
                replay.copy(),
                _booster_scorer(models),
                partial(train.score_models, models),
            )
        }
        if split and use_verdicts:
            scorer = _split_scorer(rows, _verdict_labelled(replay, protocol), settings)
            runs[f"{name}_split"] = (replay.copy(), scorer, partial(_model_only, scorer))
        for run, (state, scorer, judged) in runs.items():
            state = replay_nights(
                bank.transactions, bank.reported, bank.truth, test_nights, scorer, rules,
                use_verdicts=use_verdicts, replay=state,
            )  # fmt: skip
            if test_ids is None:
                test_ids = _common_test(state, bank, protocol)
            results[run] = _outcome(state, bank, protocol, test_ids, judged)
            results[run]["training_rows_with_verdict"] = (  # type: ignore[index]
                len(_verdict_labelled(state, protocol) & set(rows["transaction_id"].astype(int)))
                if use_verdicts
                else 0
            )
    return results


def _model_only(scorer: Scorer, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """A run judged on its model alone (the split has no baselines of its own)."""
    return {"model": scorer(frame)}


def _common_test(replay: Replay, bank: Bank, protocol: Protocol) -> np.ndarray:
    """The test payments of the delayed-only run: known cards dropped by the reports alone."""
    scored = replay.scored()
    test = scored[
        scored["tx_datetime"].between(protocol.test_start, protocol.test_end, inclusive="left")
    ]
    dropped = known_card_mask(test, bank.transactions, bank.reported, protocol.cards_known_since)
    return test.loc[~dropped, "transaction_id"].to_numpy(np.int64)
