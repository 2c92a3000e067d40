"""Every gate's thresholds, declared once as data: the quality gate, the PSI bands, the promotion
rules (metric rules and the ratio rule on money). :mod:`fraud.config` fills them from the environment; each decision logs the one it used."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PsiBands:
    """PSI below ``warning`` is stable, below ``alert`` a warning, at or above ``alert`` drift."""

    warning: float = 0.1
    alert: float = 0.25

    def band(self, psi: float) -> str:
        """Return the band name of one PSI value."""
        if psi >= self.alert:
            return "alert"
        if psi >= self.warning:
            return "warning"
        return "stable"


@dataclass(frozen=True)
class GateConfig:
    """The quality gate's thresholds, declared once as data and logged with every run.

    These defaults are the only ones: ``Settings.quality_gate`` is one of these, built from the
    environment (``FRAUD_AMOUNT_CEILING``, ``FRAUD_MAX_QUARANTINE_FRACTION``, ...).
    """

    amount_ceiling: float = 100_000.0
    max_quarantine_fraction: float = 0.05
    volume_band_low: float = 0.3
    volume_band_high: float = 3.0
    volume_history_days: int = 28
    min_volume_history_days: int = 7


@dataclass(frozen=True)
class MetricGate:
    """One promotion rule: the challenger's metric against the champion's on the same window.

    ``min_improvement`` > 0 means the challenger must beat the champion by that much;
    ``max_regression`` bounds how far below the champion it may fall.
    """

    metric: str
    min_improvement: float | None = None
    max_regression: float | None = None


# One card's prevented amount is about 1/n of a window's total over n fraudulent cards: below 50
# cards a single card moves the total by more than the 2 % the default ratio allows, so one card
# alone would decide the rule.
MIN_FRAUD_CARDS_TO_JUDGE_MONEY = 50


@dataclass(frozen=True)
class RatioGate:
    """A promotion rule on an amount: the challenger keeps at least ``min_ratio`` of the
    champion's, on the same window; skipped (its reason recorded) when the window holds fewer
    than ``min_fraud_cards`` fraudulent cards, too few for the amounts to be told apart."""

    metric: str = "prevented_amount_within_capacity"
    min_ratio: float = 0.98
    min_fraud_cards: int = MIN_FRAUD_CARDS_TO_JUDGE_MONEY
