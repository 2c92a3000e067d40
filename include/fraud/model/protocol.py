"""The offline evaluation protocol of the Fraud Detection Handbook, run on ``raw.*``.

One week of training, a gap as long as the label delay, one week of test. Choices, so the
numbers mean the same thing as the Handbook's:

* **Labels** are read through :mod:`fraud.labels`, as every stage reads them: a payment is a
  fraud from the moment it was known as one, by a report or an investigator's verdict.
* **Features** of every row come from :func:`fraud.features.build.build_features`, the function
  training and scoring use, with every label: it ignores the frauds known after the row's
  scoring time, so no feature sees the future.
* **Training targets** are the labels known before the end of the gap
  (``train_end + delay_days``): what the bank knew on the first test day.
* **Test targets** are every label, however late: the truth the model is judged against.
* **Known cards are dropped from the test**, as the Handbook does: on each test day, the
  transactions of cards with a fraud since ``train_start`` known before that day began
  are removed, since an investigator already blocked them. ``known_cards_since`` moves that
  date, so that windows of different lengths are judged on the same test payments. The
  promotion gate and the nightly monitoring mark such rows (``card_known``) instead, and CP@100
  leaves them out the same way (:func:`fraud.model.metrics.card_precision_at_k`).
* The model, the logistic-regression baseline and the amount rule are trained by
  :func:`fraud.model.train.fit_models` on a training set read as retraining reads it: every
  known fraud and a weighted sample of the genuine payments, as the training settings
  (``FRAUD_TRAINING_GENUINE_FRACTION`` between ``FRAUD_TRAINING_MIN_GENUINE_ROWS`` and
  ``FRAUD_TRAINING_MAX_GENUINE_ROWS``) size it for the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.dates import midnight
from fraud.features.columns import history_start
from fraud.features.frames import History, read_history
from fraud.features.window import known_cards, labelled_window
from fraud.model import train
from fraud.model.alert_policy import AlertPolicy, card_frame, rank_cards
from fraud.model.challenger import training_sampling
from fraud.model.metrics import card_precision_at_k
from fraud.model.money import CARD_REPORTED_AT, WITHIN_CAPACITY, capacity_metrics

REPORTED_METRICS = ("auc_roc", "average_precision", "card_precision_at_100", "recall_top_decile")
# The money within the review capacity each model's ranking would have caught on the test days.
MONEY_METRICS = tuple(
    f"{figure}{WITHIN_CAPACITY}"
    for figure in ("detected_amount", "prevented_amount", "value_detection_rate")
)
# The LightGBM model's row when its cards are ranked by expected loss instead of score.
EXPECTED_LOSS_ROW = "model_expected_loss"
# Labels known up to this moment count as the truth of the test window.
_END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Protocol:
    """Train window, label delay and test window; windows are [start, end) in UTC."""

    train_start: datetime
    train_end: datetime
    delay_days: int
    test_start: datetime
    test_end: datetime
    known_cards_since: datetime | None = None

    @classmethod
    def from_dates(
        cls,
        train_start: date,
        train_end: date,
        delay_days: int,
        test_start: date,
        test_end: date,
        known_cards_since: date | None = None,
    ) -> Protocol:
        """Build from inclusive calendar dates, as the command line takes them."""
        protocol = cls(
            midnight(train_start),
            midnight(train_end) + timedelta(days=1),
            delay_days,
            midnight(test_start),
            midnight(test_end) + timedelta(days=1),
            None if known_cards_since is None else midnight(known_cards_since),
        )
        if not protocol.train_start < protocol.train_end <= protocol.training_label_cutoff:
            raise ValueError("the train window is empty or the delay is negative")
        if not protocol.training_label_cutoff <= protocol.test_start < protocol.test_end:
            raise ValueError("the test window must start after the train window plus the delay")
        return protocol

    @property
    def cards_known_since(self) -> datetime:
        """Test cards with a fraud since this moment, reported before their day, are dropped."""
        return self.train_start if self.known_cards_since is None else self.known_cards_since

    @property
    def training_label_cutoff(self) -> datetime:
        """Training targets are the labels reported before this moment."""
        return self.train_end + timedelta(days=self.delay_days)


def known_card_mask(
    test: pd.DataFrame, transactions: pd.DataFrame, labels: pd.DataFrame, since: datetime
) -> np.ndarray:
    """True for test rows whose card had a fraud since ``since`` known before their day began."""
    frauds = labels.loc[labels["is_fraud"].astype(bool), ["transaction_id", "reported_at"]]
    frauds = frauds.merge(
        transactions[["transaction_id", "customer_id", "tx_datetime"]], on="transaction_id"
    )
    frauds = frauds[frauds["tx_datetime"] >= since]
    # The earliest moment each card became known as compromised.
    known_at = frauds.groupby("customer_id")["reported_at"].min()
    return known_cards(test, known_at)


def protocol_datasets(
    transactions: pd.DataFrame, labels: pd.DataFrame, protocol: Protocol, label_delay_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labelled feature frames of the train window (labels known by the cut-off) and the test."""
    known_for_training = labels[labels["reported_at"] < protocol.training_label_cutoff]
    training = train.labelled_features(
        History(transactions, known_for_training),
        protocol.train_start,
        protocol.train_end,
        label_delay_days,
    )
    return training, protocol_test(transactions, labels, protocol, label_delay_days)


def protocol_test(
    transactions: pd.DataFrame, labels: pd.DataFrame, protocol: Protocol, label_delay_days: int
) -> pd.DataFrame:
    """Labelled features of the test window with every label, known cards dropped."""
    test = train.labelled_features(
        History(transactions, labels), protocol.test_start, protocol.test_end, label_delay_days
    )
    test = test[~known_card_mask(test, transactions, labels, protocol.cards_known_since)]
    return test.reset_index(drop=True)


def evaluate_frames(
    transactions: pd.DataFrame,
    labels: pd.DataFrame,
    protocol: Protocol,
    *,
    label_delay_days: int,
    seed: int,
    time_budget_seconds: float,
) -> dict[str, dict[str, float]]:
    """Train on the train window, score the test window; metrics of the model and baselines."""
    training, test = protocol_datasets(transactions, labels, protocol, label_delay_days)
    models = train.fit_models(training, seed=seed, time_budget_seconds=time_budget_seconds)
    return train.evaluate_models(models, test)


def read_raw(engine: Engine, protocol: Protocol, label_delay_days: int) -> History:
    """Transactions from the first row's feature history to the test end, with every label."""
    start = history_start(protocol.train_start, label_delay_days)
    with engine.connect() as connection:
        return read_history(connection, start, protocol.test_end, _END_OF_TIME)


def evaluate_protocol(
    engine: Engine, settings: Settings, protocol: Protocol
) -> dict[str, dict[str, float]]:
    """Run the protocol on the warehouse's ``raw.*``; the four headline metrics per model.

    The training set is read as retraining reads it (:func:`fraud.features.window.labelled_window`,
    genuine payments sampled as retraining samples them and weighted); the test set is
    every payment of the test window, as the Handbook tests.
    """
    history = read_raw(engine, protocol, settings.label_delay_days)
    test = protocol_test(history.transactions, history.labels, protocol, settings.label_delay_days)
    training, _ = labelled_window(
        engine,
        start=protocol.train_start,
        end=protocol.train_end,
        cutoff=protocol.training_label_cutoff,
        label_delay_days=settings.label_delay_days,
        sampling=training_sampling(engine, settings, protocol.train_start, protocol.train_end),
        chunk_rows=settings.feature_chunk_rows,
    )
    models = train.fit_models(
        training,
        seed=settings.random_seed,
        time_budget_seconds=settings.training_time_budget_seconds,
    )
    test = with_card_reports(test, history.labels, protocol.cards_known_since)
    return judged_in_money(test, train.score_models(models, test), settings)


def with_card_reports(test: pd.DataFrame, labels: pd.DataFrame, since: datetime) -> pd.DataFrame:
    """The test rows with their card's first fraud report since ``since`` (NaT when none): from
    then on the known-card rule blocks the card, so an alert no longer prevents its fraud."""
    frauds = labels.loc[labels["is_fraud"].astype(bool), ["transaction_id", "reported_at"]]
    frauds = frauds.merge(
        test[["transaction_id", "customer_id", "tx_datetime"]], on="transaction_id"
    )
    first = frauds[frauds["tx_datetime"] >= since].groupby("customer_id")["reported_at"].min()
    return test.assign(**{CARD_REPORTED_AT: test["customer_id"].map(first)})


def expected_loss_scores(frame: pd.DataFrame, policy: AlertPolicy) -> np.ndarray:
    """Each row's card's expected loss on the row's UTC day, the value ``expected_loss`` ranks
    cards by (:mod:`fraud.model.alert_policy`), so that a day's top cards by it are the policy's."""
    days = pd.to_datetime(frame["tx_datetime"], utc=True).dt.floor("D")
    values = np.zeros(len(frame))
    for day in days.unique():
        rows = (days == day).to_numpy()
        cards = card_frame(frame[rows])
        ranked = rank_cards(
            cards, AlertPolicy("expected_loss", len(cards), None, policy.horizon_days)
        )
        by_card = ranked.set_index("customer_id")["expected_loss"]
        values[rows] = frame.loc[rows, "customer_id"].map(by_card).to_numpy(dtype=np.float64)
    return values


def judged_in_money(
    test: pd.DataFrame, scores: dict[str, np.ndarray], settings: Settings
) -> dict[str, dict[str, float]]:
    """The headline metrics and the money within the review capacity of each model's ranking,
    and of the LightGBM model's cards ranked by expected loss (:data:`EXPECTED_LOSS_ROW`)."""
    delay = timedelta(hours=settings.review_delay_hours)
    capacity = settings.review_capacity
    results = {}
    for name, metrics in train.evaluate_scores(test, scores).items():
        money = capacity_metrics(test.assign(score=scores[name]), capacity, delay)
        results[name] = {metric: metrics[metric] for metric in REPORTED_METRICS} | {
            metric: money[metric] for metric in MONEY_METRICS
        }
    policy = AlertPolicy.of(settings)
    ranked = test.assign(score=scores["model"])
    ranked["expected_loss"] = expected_loss_scores(ranked, policy)
    money = capacity_metrics(ranked, capacity, delay, score_column="expected_loss")
    results[EXPECTED_LOSS_ROW] = {
        **results["model"],
        "card_precision_at_100": card_precision_at_k(ranked, 100, "expected_loss"),
        **{metric: money[metric] for metric in MONEY_METRICS},
    }
    return results
