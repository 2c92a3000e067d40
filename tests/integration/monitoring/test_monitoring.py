"""The monitoring loop night by night, through the task entry points the DAGs call.

One small simulated bank, one champion trained on the weeks before ``CUTOFF``, two warehouses of
their own on the session's server: in one the world stays the same for 30 nights, in the other
the simulator injects drift from ``DRIFT_START``. Each night runs ``validate_batch``,
``build_features``, ``score_day``, ``compute_drift``, ``compute_performance`` and
``request_retraining`` against real PostgreSQL and the session's MLflow store (Airflow itself is
covered by the end-to-end test). Only the email and Slack transports are replaced.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.dates import day_interval
from fraud.db import create_warehouse_engine, database_name
from fraud.db import warehouse_engine as _engine
from fraud.migrations import migrate
from fraud.monitoring.alerts import html_message, slack_text
from fraud.scratch import scratch_database
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams
from fraud.simulation.warehouse import write_simulation
from fraud.tasks import (
    build_features,
    compute_drift,
    compute_performance,
    decide_promotion,
    request_retraining,
    score_day,
    train_challenger,
    validate_batch,
    write_drift_report,
)

pytestmark = pytest.mark.integration

MODEL_NAME = "fraud-monitoring-test"
SIMULATION_START = date(2026, 1, 1)
CUTOFF = date(2026, 3, 15)
DRIFT_START = CUTOFF + timedelta(days=5)
DRIFT_NIGHTS = tuple(DRIFT_START + timedelta(days=offset) for offset in range(-5, 6))
STATIONARY_NIGHTS = tuple(CUTOFF + timedelta(days=offset) for offset in range(30))
SLACK_PATH = "/services/monitoring-test"
ALERT_EMAIL = "fraud-oncall@example.org"


def _params(drift_start: date | None, last_night: date) -> SimulationParams:
    return SimulationParams(
        seed=5,
        n_customers=400,
        n_terminals=800,
        start_date=SIMULATION_START,
        n_days=(last_night - SIMULATION_START).days + 1,
        drift_start=drift_start,
        drift_strength=1.0,
    )


@contextmanager
def scratch_warehouse(label: str) -> Generator[str, None, None]:
    """A migrated warehouse database beside the session's, dropped on exit; yields its URL."""
    session = os.environ["FRAUD_DATABASE_URL"]
    name = f"{database_name(session)}_{label}_{uuid.uuid4().hex[:6]}"
    with scratch_database(session, name) as scratch:
        engine = create_warehouse_engine(scratch)
        migrate(engine)
        engine.dispose()
        try:
            yield scratch
        finally:
            _engine.cache_clear()


@dataclass
class Transports:
    """What the email and Slack channels were asked to send."""

    emails: list[dict[str, str]]
    slack: list[dict[str, object]]


@pytest.fixture(scope="module")
def transports() -> Generator[Transports, None, None]:
    """Replace SMTP delivery and serve the Slack webhook locally; record what they were given."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from tests.support.slack import slack_webhook

    def smtp_notify(self, context) -> None:
        sent.emails.append({"to": self.to, "subject": self.subject, "body": self.html_content})

    with slack_webhook(SLACK_PATH) as webhook, pytest.MonkeyPatch.context() as patch:
        sent = Transports(emails=[], slack=webhook.requests)
        patch.setattr(SmtpNotifier, "notify", smtp_notify)
        patch.setenv("AIRFLOW_CONN_FRAUD_SLACK", webhook.connection())
        yield sent


@pytest.fixture(scope="module")
def environment(warehouse_url: str, tmp_path_factory) -> Generator[pytest.MonkeyPatch, None, None]:
    """Settings of this module: its own model name, artifacts, alert channels."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_MODEL_NAME", MODEL_NAME)
        patch.setenv("FRAUD_ARTIFACT_DIR", str(tmp_path_factory.mktemp("monitoring-artifacts")))
        patch.setenv("FRAUD_ALERT_EMAIL", ALERT_EMAIL)
        yield patch


@pytest.fixture(scope="module")
def stationary_url(environment) -> Generator[str, None, None]:
    with scratch_warehouse("stationary") as url:
        engine = create_warehouse_engine(url)
        with engine.begin() as connection:
            write_simulation(connection, simulate(_params(None, STATIONARY_NIGHTS[-1])))
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def drifted_url(environment) -> Generator[str, None, None]:
    with scratch_warehouse("drifted") as url:
        engine = create_warehouse_engine(url)
        with engine.begin() as connection:
            write_simulation(connection, simulate(_params(DRIFT_START, DRIFT_NIGHTS[-1])))
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def champion(environment, stationary_url: str) -> int:
    """Train and promote a champion on the stationary weeks before the cut-off.

    The drifted bank is the same bank before ``DRIFT_START`` (the simulator draws each day from
    its own seed), so one champion serves both warehouses.
    """
    from fraud.config import load_settings
    from fraud.model.registry import champion_version

    environment.setenv("FRAUD_DATABASE_URL", stationary_url)
    cutoff, _ = day_interval(CUTOFF.isoformat())
    challenger = train_challenger(cutoff, "test")
    decision = decide_promotion(challenger, "monitoring-test-bootstrap")
    assert decision["decision"] == "bootstrapped"
    version = champion_version(load_settings())
    assert version == challenger["version"]
    return version


@dataclass
class Night:
    """What the monitoring of one night produced."""

    night: date
    drift: dict
    performance: dict
    request: dict | None
    alert: str | None


def run_night(night: date) -> Night:
    """One night through the same entry points the DAG tasks call, in the DAGs' order."""
    from fraud_airflow import notifier

    start, end = day_interval(night.isoformat())
    run_id = f"monitoring-test-{night.isoformat()}"
    validate_batch(start, end, run_id)
    build_features(start, end, run_id)
    score_day(start, end, run_id)
    drift = compute_drift(start, end, run_id)
    write_drift_report(start, end)
    alert = notifier.notify_drift(drift, {})
    performance = compute_performance(start, end, run_id)
    request = request_retraining(drift, performance)
    return Night(night, drift, performance, request, alert)


def replay_requests(nights: list[Night]) -> list[dict | None]:
    """Ask for retraining again night by night, after clearing the requests.

    ``request_retraining`` reads only the drift rows stored up to its own night, so replaying
    the stored outcomes in order is what a run under the current settings would have opened.
    """
    engine = _engine(os.environ["FRAUD_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(sa.text("delete from monitoring.retraining_requests"))
    return [request_retraining(night.drift, night.performance) for night in nights]


def monitored_in_alert(engine: Engine, night: date, drift: dict) -> list[str]:
    """The monitored columns stored in the alert band for one night."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "select feature from monitoring.feature_drift where drift_date = :night"
                    " and band = 'alert' and feature = any(:monitored) order by feature"
                ),
                {"night": night, "monitored": list(drift["monitored_columns"])},
            ).scalars()
        )


def requests(engine: Engine) -> list[sa.Row]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "select drift_date, reason, status from monitoring.retraining_requests"
                " order by request_id"
            )
        ).all()


@dataclass
class Scenario:
    """The nights of one warehouse and the engine to inspect it."""

    nights: list[Night]
    url: str
    engine: Engine
    requests_after_nights: list[sa.Row]


@pytest.fixture(scope="module")
def drifted(environment, transports, champion, drifted_url) -> Generator[Scenario, None, None]:
    environment.setenv("FRAUD_DATABASE_URL", drifted_url)
    environment.setenv("FRAUD_DRIFT_CONSECUTIVE_NIGHTS", "1")
    transports.emails.clear()
    transports.slack.clear()
    nights = [run_night(night) for night in DRIFT_NIGHTS]
    engine = create_warehouse_engine(drifted_url)
    yield Scenario(nights, drifted_url, engine, requests(engine))
    engine.dispose()


@pytest.fixture(scope="module")
def stationary(
    environment, transports, champion, stationary_url
) -> Generator[Scenario, None, None]:
    environment.setenv("FRAUD_DATABASE_URL", stationary_url)
    environment.setenv("FRAUD_DRIFT_CONSECUTIVE_NIGHTS", "1")
    nights = [run_night(night) for night in STATIONARY_NIGHTS]
    engine = create_warehouse_engine(stationary_url)
    yield Scenario(nights, stationary_url, engine, requests(engine))
    engine.dispose()


# --- injected drift ------------------------------------------------------------------------------


def test_drift_is_flagged_from_the_drift_start_and_never_before(drifted: Scenario) -> None:
    flagged = {
        night.night: monitored_in_alert(drifted.engine, night.night, night.drift)
        for night in drifted.nights
    }
    assert all(not columns for day, columns in flagged.items() if day < DRIFT_START)
    assert all(columns for day, columns in flagged.items() if day >= DRIFT_START)


def test_drift_outcome_names_the_alerting_monitored_columns(drifted: Scenario) -> None:
    for night in drifted.nights:
        expected = monitored_in_alert(drifted.engine, night.night, night.drift)
        alerting = set(night.drift["alert_columns"]) & set(night.drift["monitored_columns"])
        assert sorted(alerting) == expected


@pytest.mark.parametrize(("consecutive_nights", "opening_night"), [(1, 0), (2, 1), (3, 2)])
def test_one_request_opens_on_the_first_night_that_meets_k(
    environment, drifted: Scenario, consecutive_nights: int, opening_night: int
) -> None:
    environment.setenv("FRAUD_DATABASE_URL", drifted.url)
    environment.setenv("FRAUD_DRIFT_CONSECUTIVE_NIGHTS", str(consecutive_nights))
    opened = replay_requests(drifted.nights)
    expected_night = DRIFT_START + timedelta(days=opening_night)
    assert [(extra or {}).get("drift_date") for extra in opened] == [
        expected_night.isoformat() if night.night == expected_night else None
        for night in drifted.nights
    ]
    (row,) = requests(drifted.engine)
    assert (row.drift_date, row.status) == (expected_night, "pending")
    assert row.reason.startswith(f"drift: PSI in the alert band (>= 0.25) for {consecutive_nights}")


def test_the_live_run_opened_one_request_at_the_drift_start(drifted: Scenario) -> None:
    opened = [night.night for night in drifted.nights if night.request is not None]
    assert opened == [DRIFT_START]
    assert [(row.drift_date, row.status) for row in drifted.requests_after_nights] == [
        (DRIFT_START, "pending")
    ]
    request = drifted.nights[DRIFT_NIGHTS.index(DRIFT_START)].request
    assert request is not None and request["reason"].startswith("drift:")


def test_drift_nights_raise_one_warning_each_on_every_channel(
    drifted: Scenario, transports: Transports
) -> None:
    with drifted.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select severity, message, details from monitoring.alerts where kind = 'drift'"
                " order by alert_id"
            )
        ).all()
    drift_nights = [night for night in drifted.nights if night.night >= DRIFT_START]
    assert [night.alert is not None for night in drifted.nights] == [
        night.night >= DRIFT_START for night in drifted.nights
    ]
    assert [row.message for row in rows] == [night.alert for night in drift_nights]
    assert {row.severity for row in rows} == {"warning"}
    for row, night in zip(rows, drift_nights, strict=True):
        columns = monitored_in_alert(drifted.engine, night.night, night.drift)
        assert sorted(row.details["alert_columns"]) == columns
        assert night.night.isoformat() in row.message
        assert all(column in row.message for column in columns)
    # The email is the alert's text with its http links made clickable.
    assert [email["body"] for email in transports.emails] == [
        html_message(str(night.alert)) for night in drift_nights
    ]
    assert all('<a href="http://' in email["body"] for email in transports.emails)
    assert all(email["to"] == ALERT_EMAIL for email in transports.emails)
    assert all(
        email["subject"].startswith("[fraud] drift: Drift on") for email in transports.emails
    )
    assert [message["path"] for message in transports.slack] == [SLACK_PATH] * len(drift_nights)
    assert {message["content_type"] for message in transports.slack} == {
        "application/json;charset=utf-8"
    }
    # Slack's control characters are escaped, so "PSI >= 0.25" arrives as Slack shows it.
    assert [message["payload"]["text"] for message in transports.slack] == [
        f":warning: *[fraud] warning drift*: {slack_text(str(night.alert))}"
        for night in drift_nights
    ]


def test_drift_reports_are_written_each_night(drifted: Scenario) -> None:
    for night in drifted.nights:
        report = Path(night.drift["report_path"])
        assert report.name == f"{night.night.isoformat()}.html"
        assert "<html" in report.read_text()[:2000].lower()


# --- stationary world ----------------------------------------------------------------------------


def test_stationary_nights_open_no_retraining_request(stationary: Scenario) -> None:
    assert [night.night for night in stationary.nights if night.request is not None] == []
    assert stationary.requests_after_nights == []


def test_stationary_nights_never_reach_the_alert_band_on_monitored_columns(
    stationary: Scenario,
) -> None:
    flagged = {
        night.night: columns
        for night in stationary.nights
        if (columns := monitored_in_alert(stationary.engine, night.night, night.drift))
    }
    assert flagged == {}
    assert all(night.alert is None for night in stationary.nights)


# --- performance once labels mature --------------------------------------------------------------


def performance_rows(engine: Engine) -> list[sa.Row]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "select date, model_version, maturity_days, transactions, frauds_known,"
                " average_precision, card_precision_at_100, recall_top_decile, alert_precision"
                " from monitoring.model_performance order by date, maturity_days"
            )
        ).all()


def test_each_maturity_measures_the_day_that_old(stationary: Scenario, champion: int) -> None:
    rows = performance_rows(stationary.engine)
    scored = set(STATIONARY_NIGHTS)
    expected = {
        (night.night - timedelta(days=maturity), maturity)
        for night in stationary.nights
        for maturity in (7, 14, 30)
        if night.night - timedelta(days=maturity) in scored
    }
    assert {(row.date, row.maturity_days) for row in rows} == expected
    assert {row.model_version for row in rows} == {champion}
    for night in stationary.nights:
        ages = {
            (night.night - date.fromisoformat(day)).days
            for day in night.performance["measured_dates"]
        }
        assert ages == {age for age in (7, 14, 30) if night.night - timedelta(days=age) in scored}


def test_performance_counts_match_scores_and_labels_known_by_then(stationary: Scenario) -> None:
    query = sa.text(
        "select count(*), count(*) filter (where l.is_fraud and l.reported_at < :cutoff)"
        " from scoring.transaction_scores as s"
        " left join raw.fraud_labels as l using (transaction_id)"
        " where s.tx_datetime >= :start and s.tx_datetime < :start + interval '1 day'"
    )
    rows = performance_rows(stationary.engine)
    assert rows
    with stationary.engine.connect() as connection:
        for row in rows:
            cutoff = row.date + timedelta(days=row.maturity_days + 1)
            counts = connection.execute(query, {"start": row.date, "cutoff": cutoff}).one()
            assert (row.transactions, row.frauds_known) == tuple(counts)
    for metric in ("average_precision", "card_precision_at_100", "recall_top_decile"):
        assert all(0.0 <= getattr(row, metric) <= 1.0 for row in rows if row.frauds_known)


def test_labels_only_accumulate_as_a_day_matures(stationary: Scenario) -> None:
    known: dict[date, list[int]] = {}
    for row in performance_rows(stationary.engine):
        known.setdefault(row.date, []).append(row.frauds_known)
    assert any(len(counts) > 1 for counts in known.values())
    assert all(counts == sorted(counts) for counts in known.values())


def test_rerunning_performance_replaces_the_nights_rows(environment, stationary: Scenario) -> None:
    environment.setenv("FRAUD_DATABASE_URL", stationary.url)
    last = stationary.nights[-1].night
    before = performance_rows(stationary.engine)
    start, end = day_interval(last.isoformat())
    again = compute_performance(start, end, "monitoring-test-rerun")
    assert again == stationary.nights[-1].performance
    assert performance_rows(stationary.engine) == before


def test_average_precision_below_the_floor_opens_a_performance_request(
    environment, stationary: Scenario
) -> None:
    environment.setenv("FRAUD_DATABASE_URL", stationary.url)
    # The newest night's oldest measured day becomes the largest maturity; the floor sits above
    # that day's average precision, so the scoring version breaches it.
    last = stationary.nights[-1]
    maturity = (last.night - min(STATIONARY_NIGHTS)).days
    day = last.night - timedelta(days=maturity)
    environment.setenv("FRAUD_PERFORMANCE_MATURITY_DAYS", f"7,{maturity}")
    environment.setenv("FRAUD_PERFORMANCE_FLOOR_AP", "0")
    start, end = day_interval(last.night.isoformat())
    measured = compute_performance(start, end, "monitoring-test-floor")
    (row,) = [
        row
        for row in performance_rows(stationary.engine)
        if (row.date, row.maturity_days) == (day, maturity)
    ]
    assert not measured["floor_breaches"]
    assert row.average_precision is not None
    environment.setenv("FRAUD_PERFORMANCE_FLOOR_AP", str(row.average_precision + 0.01))
    measured = compute_performance(start, end, "monitoring-test-floor")
    (breach,) = measured["floor_breaches"]
    assert (breach["date"], breach["maturity_days"]) == (day.isoformat(), maturity)
    opened = request_retraining(last.drift, measured)
    assert opened is not None
    assert opened["drift_date"] == last.night.isoformat()
    assert opened["reason"].startswith("performance: average precision")
    assert f"on {day.isoformat()} ({maturity} days of labels)" in opened["reason"]
    (request,) = requests(stationary.engine)
    assert request.reason == opened["reason"]
    assert request_retraining(last.drift, measured) is None
