"""Nights replayed one by one with the investigators in the loop, for the offline protocol.

The nightly pipeline scores a night after it ended; the next morning the investigators review
its highest-ranked cards up to their capacity and record verdicts, which the next night's
features and known-card rule read (:mod:`fraud.labels`). :func:`replay_nights` plays that loop
in memory over a range of nights, as the nights would run it:

1. the night's features are built by :func:`fraud.features.build.build_features` from the labels
   known before the night's end: the reports, and (``use_verdicts``) the verdicts, with the
   warehouse's rule (a report known by then wins; otherwise the latest verdict counts;
   ``unreachable`` is no label);
2. the night's payments are scored, and the cards ranked by their highest score, leaving out the
   cards known as fraud (a known fraud on a payment of the last 30 days), the cards blocked by a
   fraud verdict, and the cards cooled down by a recent review unless a payment of the night
   scores above every reviewed one (as :mod:`fraud.scoring.alerts` does);
3. the morning after, the simulated investigators
   (:func:`fraud.simulation.investigators.card_verdicts`, the same draws as ``fraud
   simulate-investigators``) retry the cards unreachable the morning before, then review the
   night's top cards up to the capacity, and record a verdict on each of their payments of the
   night, known from the review moment on.

Without ``use_verdicts`` the investigators still review, block the cards they confirm and keep
the cool-down (a bank's team does, whatever its model learns from), but their verdicts are no
label: features, the known-card rule and training read the reports alone. The difference between
the two replays is then what learning from the verdicts changes, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from fraud.dates import day_interval
from fraud.features.build import build_features
from fraud.features.columns import LONGEST_WINDOW_DAYS, history_start
from fraud.simulation.investigators import (
    InvestigatorParams,
    card_verdicts,
    choose_cards,
    review_moment,
)

FRAUD = "fraud_confirmed"
GENUINE = "genuine_confirmed"
UNREACHABLE = "unreachable"
_JUST_BEFORE = pd.Timedelta(microseconds=1)
# A night's scores from its feature frame.
Scorer = Callable[[pd.DataFrame], np.ndarray]


def empty_verdicts() -> pd.DataFrame:
    """No verdict yet: the columns :func:`replay_nights` appends to."""
    return pd.DataFrame(
        {
            "transaction_id": pd.Series(dtype="int64"),
            "customer_id": pd.Series(dtype="int64"),
            "outcome": pd.Series(dtype="object"),
            "known_at": pd.Series(dtype="datetime64[ns, UTC]"),
            "score": pd.Series(dtype="float64"),
        }
    )


def known_frauds(reported: pd.DataFrame, verdicts: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """The payments known as fraud as of ``as_of``, each since when: the labels frame of
    :func:`~fraud.features.build.build_features` (``transaction_id``, ``is_fraud``,
    ``reported_at``).

    ``reported`` holds the reports (``transaction_id``, ``is_fraud``, ``reported_at``), fraud or
    genuine; ``verdicts`` the verdicts (``transaction_id``, ``outcome``, ``known_at``). As in
    ``cases.frauds_known``: a report known by ``as_of`` wins, and a fraud report is known from
    the fraud verdict that preceded it, if any; otherwise the latest verdict known by ``as_of``
    counts (an unreachable one is no label, but it breaks a run of fraud verdicts).
    """
    moment = pd.Timestamp(as_of)
    reports = reported[reported["reported_at"] <= moment]
    known = verdicts[verdicts["known_at"] <= moment].sort_values("known_at", kind="stable")
    latest = known.groupby("transaction_id").tail(1)
    fraud_verdicts = latest.loc[latest["outcome"] == FRAUD, ["transaction_id", "known_at"]]
    frauds = reports.loc[reports["is_fraud"].astype(bool), ["transaction_id", "reported_at"]]
    merged = frauds.merge(fraud_verdicts, on="transaction_id", how="left")
    merged["reported_at"] = merged[["reported_at", "known_at"]].min(axis=1)
    by_verdict = fraud_verdicts[~fraud_verdicts["transaction_id"].isin(reports["transaction_id"])]
    known_since = pd.concat(
        [
            merged[["transaction_id", "reported_at"]],
            by_verdict.rename(columns={"known_at": "reported_at"}),
        ],
        ignore_index=True,
    )
    return pd.DataFrame(
        {
            "transaction_id": known_since["transaction_id"].to_numpy(np.int64),
            "is_fraud": np.ones(len(known_since), dtype=bool),
            "reported_at": pd.to_datetime(known_since["reported_at"], utc=True),
        }
    )


@dataclass(frozen=True)
class ReplayRules:
    """The investigators, their cool-down and the features' label delay."""

    investigators: InvestigatorParams
    cooldown_days: int
    label_delay_days: int


@dataclass
class Replay:
    """What a replay produced: every night's scored features, the verdicts, the alerts."""

    features: list[pd.DataFrame] = field(default_factory=list)
    verdicts: pd.DataFrame = field(default_factory=empty_verdicts)
    # One row per card a morning reviewed fresh (not a retry): night, customer_id, rank.
    alerts: list[tuple[date, int, int]] = field(default_factory=list)
    # The last night played, whose unreachable cards the next morning retries.
    last_night: pd.DataFrame | None = None

    def copy(self) -> Replay:
        """A replay that can go on from here without changing this one."""
        return Replay(list(self.features), self.verdicts.copy(), list(self.alerts), self.last_night)

    def scored(self) -> pd.DataFrame:
        """Every night's features and scores, in one frame."""
        return pd.concat(self.features, ignore_index=True)


def _recent_cards(frame: pd.DataFrame, since: pd.Timestamp) -> set[int]:
    return set(frame.loc[frame["tx_datetime"] >= since, "customer_id"].astype(int))


def _excluded_cards(
    night_frame: pd.DataFrame,
    transactions: pd.DataFrame,
    labels: pd.DataFrame,
    verdicts: pd.DataFrame,
    night_start: pd.Timestamp,
    night_end: pd.Timestamp,
    cooldown_days: int,
) -> set[int]:
    """The night's cards left out of the queue: known, blocked, or cooled down."""
    frauds = transactions.loc[
        transactions["transaction_id"].isin(labels["transaction_id"]),
        ["customer_id", "tx_datetime"],
    ]
    known = _recent_cards(frauds, night_start - pd.Timedelta(days=LONGEST_WINDOW_DAYS))
    seen = verdicts[verdicts["known_at"] < night_end]
    blocked = set(seen.loc[seen["outcome"] == FRAUD, "customer_id"].astype(int))
    recent = seen[seen["known_at"] >= night_end - pd.Timedelta(days=cooldown_days)]
    by_card = recent.groupby("customer_id")
    unreachable_days = (
        recent[recent["outcome"] == UNREACHABLE].groupby("customer_id")["known_at"].nunique()
    ).to_dict()
    cooled_cards = [
        card
        for card, outcomes in by_card["outcome"]
        if (outcomes == GENUINE).any() or unreachable_days.get(card, 0) > 1
    ]
    reviewed_score = by_card["score"].max().to_dict()
    night_score = night_frame.groupby("customer_id")["score"].max().to_dict()
    # New evidence: a payment of the night scoring above every reviewed payment of the card.
    cooled = {
        int(card)
        for card in cooled_cards
        if not night_score.get(card, -np.inf) > reviewed_score[card]
    }
    return known | blocked | cooled


def _retries(verdicts: pd.DataFrame, night_frame_before: pd.DataFrame | None) -> pd.DataFrame:
    """The previous night's payments of the cards whose only review found nobody."""
    if night_frame_before is None or verdicts.empty:
        return pd.DataFrame(columns=["transaction_id", "customer_id", "card_score", "is_fraud"])
    on_night = verdicts[verdicts["transaction_id"].isin(night_frame_before["transaction_id"])]
    by_card = on_night.groupby("customer_id")
    unreached = [
        card
        for card, rows in by_card
        if (rows["outcome"] == UNREACHABLE).all() and rows["known_at"].nunique() == 1
    ]
    payments = night_frame_before[night_frame_before["customer_id"].isin(unreached)]
    return payments.assign(card_score=0.0)[
        ["transaction_id", "customer_id", "card_score", "is_fraud"]
    ]


def replay_nights(
    transactions: pd.DataFrame,
    reported: pd.DataFrame,
    truth: pd.Series,
    nights: list[date],
    scorer: Scorer,
    rules: ReplayRules,
    *,
    use_verdicts: bool,
    replay: Replay | None = None,
) -> Replay:
    """Play ``nights`` in order, appending to ``replay`` (a previous range's), and return it.

    ``transactions`` holds every payment from the first night's feature history on, sorted by
    time; ``reported`` the reports; ``truth`` the payments' true status by transaction id (what
    the cardholder tells the investigator, whenever its chargeback will come).
    """
    replay = Replay() if replay is None else replay
    for night in nights:
        start, end = (pd.Timestamp(moment) for moment in day_interval(night))
        verdicts = replay.verdicts if use_verdicts else empty_verdicts()
        labels = known_frauds(reported, verdicts, (end - _JUST_BEFORE).to_pydatetime())
        span = transactions["tx_datetime"].between(
            pd.Timestamp(history_start(start.to_pydatetime(), rules.label_delay_days)),
            end,
            inclusive="left",
        )
        history = transactions[span]
        targets = history.loc[history["tx_datetime"] >= start, "transaction_id"].to_numpy()
        frame = build_features(history, labels, targets, rules.label_delay_days)
        frame["score"] = scorer(frame)
        frame["is_fraud"] = frame["transaction_id"].isin(truth.index)
        replay.features.append(frame)
        excluded = _excluded_cards(
            frame, history, labels, replay.verdicts, start, end, rules.cooldown_days
        )
        queue = frame.loc[~frame["customer_id"].isin(excluded)].assign(card_score=frame["score"])
        retries = _retries(replay.verdicts, replay.last_night)
        retry_cards, fresh = choose_cards(queue, retries, rules.investigators.capacity)
        replay.alerts.extend((night, card, rank) for rank, card in enumerate(fresh, start=1))
        reviewed = pd.concat(
            [
                retries[retries["customer_id"].isin(retry_cards)],
                frame[frame["customer_id"].isin([*retry_cards, *fresh])],
            ],
            ignore_index=True,
        )
        replay.verdicts = pd.concat(
            [replay.verdicts, _verdicts_of(reviewed, frame, night, rules.investigators)],
            ignore_index=True,
        )
        replay.last_night = frame
    return replay


def _verdicts_of(
    reviewed: pd.DataFrame, night_frame: pd.DataFrame, night: date, params: InvestigatorParams
) -> pd.DataFrame:
    """The morning's verdicts on the reviewed payments, with their card and the card's score."""
    if reviewed.empty:
        return empty_verdicts()
    outcomes = card_verdicts(reviewed[["transaction_id", "customer_id", "is_fraud"]], night, params)
    cards = reviewed[["transaction_id", "customer_id"]].drop_duplicates("transaction_id")
    scores = night_frame.set_index("transaction_id")["score"]
    verdicts = outcomes.merge(cards, on="transaction_id")
    verdicts["known_at"] = pd.Timestamp(review_moment(night, params))
    verdicts["score"] = verdicts["transaction_id"].map(scores).fillna(0.0)
    return verdicts[list(empty_verdicts().columns)]


def nights_between(first: datetime, end: datetime) -> list[date]:
    """The calendar nights of [first, end), both UTC midnights."""
    return [(first + timedelta(days=offset)).date() for offset in range((end - first).days)]


def stopped_fraud(
    transactions: pd.DataFrame,
    truth: pd.Series,
    verdicts: pd.DataFrame,
    start: datetime,
    end: datetime,
) -> tuple[float, int]:
    """The fraud amount in [start, end) on cards after their first fraud verdict (the card is
    blocked from then on), and how many such cards had one."""
    confirmed = verdicts[verdicts["outcome"] == FRAUD].groupby("customer_id")["known_at"].min()
    window = transactions[
        transactions["tx_datetime"].between(pd.Timestamp(start), pd.Timestamp(end), "left")
    ]
    frauds = window[window["transaction_id"].isin(truth.index)]
    blocked_at = frauds["customer_id"].map(confirmed)
    after = frauds[blocked_at.notna() & (frauds["tx_datetime"] > blocked_at)]
    return float(after["tx_amount"].sum()), int(after["customer_id"].nunique())
