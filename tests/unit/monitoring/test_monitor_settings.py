"""The monitoring settings: label maturities, the performance floor, the Slack webhook."""

from __future__ import annotations

import pytest

from fraud.config import ENVIRONMENT_VARIABLES, ConfigError, load_settings


@pytest.mark.parametrize(
    ("environ", "attribute", "expected"),
    [
        ({}, "performance_maturity_days", (7, 14, 30)),
        ({"FRAUD_PERFORMANCE_MATURITY_DAYS": "7,14"}, "performance_maturity_days", (7, 14)),
        ({"FRAUD_PERFORMANCE_MATURITY_DAYS": " 30 , 7 "}, "performance_maturity_days", (30, 7)),
        ({"FRAUD_PERFORMANCE_MATURITY_DAYS": "21"}, "performance_maturity_days", (21,)),
        ({}, "performance_floor_average_precision", 0.3),
        ({"FRAUD_PERFORMANCE_FLOOR_AP": "0.45"}, "performance_floor_average_precision", 0.45),
        ({}, "slack_webhook_url", None),
        (
            {"FRAUD_SLACK_WEBHOOK_URL": "https://hooks.example"},
            "slack_webhook_url",
            "https://hooks.example",
        ),
    ],
)
def test_values_are_typed(environ: dict[str, str], attribute: str, expected: object) -> None:
    value = getattr(load_settings(environ), attribute)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FRAUD_PERFORMANCE_MATURITY_DAYS": "7,two"}, "comma-separated list of ints"),
        ({"FRAUD_PERFORMANCE_MATURITY_DAYS": "0,7"}, "at least 1"),
        ({"FRAUD_PERFORMANCE_MATURITY_DAYS": ","}, "at least 1"),
        ({"FRAUD_PERFORMANCE_FLOOR_AP": "high"}, "FRAUD_PERFORMANCE_FLOOR_AP='high'"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


@pytest.mark.parametrize(
    "variable",
    ["FRAUD_PERFORMANCE_MATURITY_DAYS", "FRAUD_PERFORMANCE_FLOOR_AP", "FRAUD_SLACK_WEBHOOK_URL"],
)
def test_deployments_may_set_the_monitoring_variables(variable: str) -> None:
    assert variable in ENVIRONMENT_VARIABLES


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (10.0, 0.98, 50)),
        (
            {
                "FRAUD_REVIEW_DELAY_HOURS": "8.5",
                "FRAUD_GATE_MIN_PREVENTED_RATIO": "0.9",
                "FRAUD_GATE_MIN_FRAUD_CARDS": "20",
            },
            (8.5, 0.9, 20),
        ),
    ],
)
def test_money_settings(environ: dict[str, str], expected: tuple[float, float, int]) -> None:
    settings = load_settings(environ)
    rule = settings.promotion_money_gate
    assert (settings.review_delay_hours, rule.min_ratio, rule.min_fraud_cards) == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FRAUD_REVIEW_DELAY_HOURS", "-1"),
        ("FRAUD_GATE_MIN_PREVENTED_RATIO", "-0.1"),
        ("FRAUD_GATE_MIN_FRAUD_CARDS", "-3"),
        ("FRAUD_GATE_MIN_FRAUD_CARDS", "many"),
    ],
)
def test_money_settings_out_of_range_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})
