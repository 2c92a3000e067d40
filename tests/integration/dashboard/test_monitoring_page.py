"""The fraud-monitoring page: its data read as ``fraud_analyst``, then the real page in a browser.

The warehouse gets a champion history, fourteen nights of drift across the three bands, a real
Evidently report, real Data Docs (one day through the quality gate) and alerts recorded the way
the notifier records them. The real Airflow api-server then runs with the plugin on a free port:
every route is asked, without a browser, who gets in (no login, a forged or expired token, a user
without UI access, a viewer) and which headers it answers with; the browser test logs in through
the Airflow login page in headless Chromium (Debian's ``/usr/bin/chromium``, no browser download)
and reads the page; the screenshot goes to ``test-output/``.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path

import jwt
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fraud_monitoring import DATA_DOCS_POLICY, REPORT_POLICY

from fraud.config import load_settings
from fraud.dashboard.charts import LEFT, WIDTH
from fraud.dashboard.data import analyst_engine, load_dashboard
from fraud.dashboard.html import CONTENT_SECURITY_POLICY
from fraud.dates import day_interval
from fraud.db import create_warehouse_engine
from fraud.gates import PsiBands
from fraud.local.demo import last_night
from fraud.monitoring.alerts import record_alert
from fraud.monitoring.report import write_evidently_report
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams
from fraud.simulation.warehouse import next_transaction_id, write_simulation
from fraud.tasks import validate_batch
from tests.support.api_server import Server, running_api_server
from tests.support.logins import member_login

pytestmark = pytest.mark.integration

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = REPOSITORY_ROOT / "test-output" / "monitoring-page.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MLFLOW_UI = "http://127.0.0.1:5000"
RUN_ID = "3f1c0ffee0d2470f9c3b6e1f2a4b5c6d"
# The colour of each band (the CSS of fraud.dashboard.html), as the browser computes it.
BAND_COLOURS = {
    "stable": "rgb(198, 246, 213)",
    "warning": "rgb(254, 235, 200)",
    "alert": "rgb(254, 215, 215)",
}
# Rising PSI per column over the fourteen nights: each column crosses bands at its own pace.
DRIFT_SLOPES = {
    "score": 0.024,
    "terminal_fraud_risk_7d": 0.02,
    "tx_amount": 0.008,
    "customer_tx_count_1d": 0.002,
}
NIGHTS = 14
# The seeded card precision at 100 of every measured day.
CARD_PRECISION = 0.2
# The live model's charts, by the first words of their labels, in the page's order.
LIVE_CHARTS = [
    "Average precision as labels mature",
    "Alert precision (alerts confirmed as fraud) as labels mature",
    "Handbook CP@100: card precision of the daily top 100, known cards left out",
    "Money of the alerts at the oldest label maturity",
    "Value detection rate (fraud amount on alerted cards) as labels mature",
    "Alerts per night",
    "PSI of the score and the 3 most drifted features",
    "Rows quarantined per night",
]
# The api-server's users: an admin, a viewer, and a user listed without a role, whom the simple
# auth manager lets log in but never lets into the UI.
USERS = {"admin": "admin", "viewer": "viewer", "outsider": ""}
# The session cookie of the Airflow UI (airflow.api_fastapi.auth.managers.base_auth_manager).
SESSION_COOKIE = "_token"


@dataclass(frozen=True)
class Seeded:
    """What the warehouse was given."""

    url: str
    model_name: str
    last_night: date
    artifact_dir: Path


def _simulate(engine: sa.Engine, first_day: date, days: int) -> None:
    """A small simulated history, as the payments system would have written it."""
    with engine.begin() as connection:
        params = SimulationParams(
            seed=5,
            n_customers=150,
            n_terminals=300,
            start_date=first_day,
            n_days=days,
            first_transaction_id=next_transaction_id(connection),
        )
        write_simulation(connection, simulate(params))


def _decisions(engine: sa.Engine, model_name: str, today: datetime) -> None:
    """Version 1 bootstrapped, version 2 promoted over it 10 days ago, version 3 rejected."""
    rows = [
        (1, None, "bootstrapped", {"average_precision": 0.61}, {}, None, 30),
        (
            2,
            1,
            "promoted",
            {"average_precision": 0.72, "auc_roc": 0.91, "card_precision_at_100": 0.28},
            {"average_precision": 0.61, "auc_roc": 0.88, "card_precision_at_100": 0.25},
            RUN_ID,
            10,
        ),
        (3, 2, "rejected", {"average_precision": 0.69}, {"average_precision": 0.73}, None, 2),
    ]
    with engine.begin() as connection:
        for challenger, champion, decision, mine, theirs, run_id, days_ago in rows:
            decided_at = today - timedelta(days=days_ago)
            connection.execute(
                sa.text(
                    "insert into monitoring.model_decisions (model_name, challenger_version,"
                    " champion_version, decision, reason, challenger_metrics, champion_metrics,"
                    " evaluation_start, evaluation_end, mlflow_run_id, trigger, decided_at)"
                    " values (:name, :challenger, :champion, :decision, :reason,"
                    " cast(:mine as jsonb), cast(:theirs as jsonb), :start, :end, :run_id,"
                    " 'scheduled', :decided_at)"
                ),
                {
                    "name": model_name,
                    "challenger": challenger,
                    "champion": champion,
                    "decision": decision,
                    "reason": f"{decision} by the promotion gate",
                    "mine": json.dumps(mine),
                    "theirs": json.dumps(theirs),
                    "start": decided_at - timedelta(days=8),
                    "end": decided_at - timedelta(days=1),
                    "run_id": run_id,
                    "decided_at": decided_at,
                },
            )


def expected_psi(column: str, night: int) -> float:
    """The seeded PSI of a column on the n-th night (0 = oldest)."""
    return round(0.01 + DRIFT_SLOPES[column] * night, 4)


def _drift(engine: sa.Engine, model_name: str, last_night: date, artifact_dir: Path) -> None:
    """Fourteen nights of PSI, written as fraud_drift writes them (band from PsiBands)."""
    bands = PsiBands()
    rows = [
        {
            "drift_date": last_night - timedelta(days=NIGHTS - 1 - night),
            # Version 2 took over 10 days ago, the fifth of the fourteen nights.
            "model_version": 1 if night < 4 else 2,
            "feature": column,
            "psi": expected_psi(column, night),
            "band": bands.band(expected_psi(column, night)),
            "report_path": str(
                artifact_dir / "drift" / f"{last_night - timedelta(days=NIGHTS - 1 - night)}.html"
            ),
        }
        for night in range(NIGHTS)
        for column in DRIFT_SLOPES
    ]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into monitoring.feature_drift (drift_date, model_name, model_version,"
                " feature, psi, band, rows_compared, reference_rows, report_path, run_id)"
                " values (:drift_date, :model_name, :model_version, :feature, :psi, :band,"
                " 400, 5000, :report_path, 'monitoring_page_test')"
            ),
            [{**row, "model_name": model_name} for row in rows],
        )


def _evidently_report(path: Path) -> None:
    """A real Evidently report for the last night, from a shifted sample."""
    generator = np.random.default_rng(3)
    reference = pd.DataFrame({"tx_amount": generator.gamma(2.0, 30.0, 500)})
    current = pd.DataFrame({"tx_amount": generator.gamma(2.0, 45.0, 500)})
    write_evidently_report(reference, current, ["tx_amount"], path)


def _alerts(engine: sa.Engine) -> None:
    """A drift warning and a task failure, recorded as the notifier records them."""
    record_alert(
        engine,
        kind="drift",
        severity="warning",
        message="score, terminal_fraud_risk_7d in the PSI alert band",
        dag_id="fraud_drift",
        task_id="request_retraining",
        run_id="scheduled__monitoring_page_test",
        details={"alert_columns": ["score", "terminal_fraud_risk_7d"]},
    )
    record_alert(
        engine,
        kind="task_failure",
        severity="critical",
        message="fraud_ingest.validate_batch failed: volume outside the band",
        dag_id="fraud_ingest",
        task_id="validate_batch",
        run_id="scheduled__monitoring_page_test",
    )


# The live model: nights scored before the last one (the last is validated only), their alerts
# on a few cards, and a third of the alerts reported as fraud.
SCORED_NIGHTS = 5
ALERTS_PER_NIGHT = 6
ALERTED_CARDS = 4


def _scores(engine: sa.Engine, model_name: str, last_night: date) -> None:
    """Twenty scores a night, the first six alerts with reason codes, written as scoring does."""
    rows = []
    for back in range(1, SCORED_NIGHTS + 1):
        night = last_night - timedelta(days=back)
        for number in range(20):
            alert = number < ALERTS_PER_NIGHT
            rows.append(
                {
                    # Negative ids: no clash with the simulated payments' labels.
                    "transaction_id": -(back * 100 + number),
                    "tx_datetime": datetime.combine(night, datetime.min.time(), tzinfo=UTC)
                    + timedelta(hours=number),
                    "customer_id": number % ALERTED_CARDS if alert else 100 + number,
                    "amount": 10 + number,
                    "score": 0.9 - number / 100 if alert else 0.01 * number,
                    "model_name": model_name,
                    "is_alert": alert,
                    "reason": "terminal_fraud_risk_7d" if alert else None,
                    "reason_2": "tx_amount" if alert and number % 2 else None,
                }
            )
    with engine.begin() as connection:
        for back in range(1, SCORED_NIGHTS + 1):
            connection.execute(
                sa.text("select staging.ensure_day_partitions(:day)"),
                {"day": last_night - timedelta(days=back)},
            )
        connection.execute(
            sa.text(
                "insert into scoring.transaction_scores (transaction_id, tx_datetime, customer_id,"
                " terminal_id, tx_amount, score, model_name, model_version, is_alert, reason_1,"
                " reason_1_contribution, reason_2, reason_2_contribution, run_id) values"
                " (:transaction_id, :tx_datetime, :customer_id, 7, :amount, :score, :model_name,"
                " 2, :is_alert, :reason, 1.5, :reason_2, 0.5, 'monitoring_page_test')"
            ),
            rows,
        )
        connection.execute(
            sa.text(
                "insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)"
                " select transaction_id, true, tx_datetime + interval '1 hour'"
                " from scoring.transaction_scores"
                " where run_id = 'monitoring_page_test' and is_alert and transaction_id % 3 = 0"
            )
        )


def expected_average_precision(maturity: int, back: int) -> float:
    """The seeded average precision measured ``back`` nights before the last, at a maturity."""
    return round(0.4 + maturity / 100 + back / 1000, 4)


def expected_detected_amount(maturity: int, back: int) -> float:
    """The seeded detected amount measured ``back`` nights before the last; 300 is missed."""
    return 100.0 + maturity + back


def _performance(engine: sa.Engine, model_name: str, last_night: date) -> None:
    """The nightly measures of the last ten nights at 7, 14 and 30 days of labels."""
    rows = [
        {
            "day": last_night - timedelta(days=back + maturity),
            "model_name": model_name,
            "maturity": maturity,
            "ap": expected_average_precision(maturity, back),
            "precision": 0.3,
            "detected": expected_detected_amount(maturity, back),
        }
        for back in range(10)
        for maturity in (7, 14, 30)
    ]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into monitoring.model_performance (date, model_name, model_version,"
                " maturity_days, transactions, frauds_known, average_precision,"
                " card_precision_at_100, recall_top_decile, alert_precision, alerted_cards,"
                " alerted_cards_fraud, detected_amount, prevented_amount, missed_amount,"
                " genuine_amount_alerted, value_detection_rate) values (:day,"
                " :model_name, 2, :maturity, 400, 3, :ap, :cards, 0.5, :precision, 10, 3,"
                " :detected, 50, 300, 700, :detected / (:detected + 300))"
            ),
            [{**row, "cards": CARD_PRECISION} for row in rows],
        )


@pytest.fixture(scope="module")
def seeded(warehouse_url: str) -> Iterator[Seeded]:
    """The module's warehouse with decisions, drift, a report, Data Docs and alerts."""
    settings = load_settings()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last_night = today.date() - timedelta(days=1)
    engine = create_warehouse_engine(warehouse_url)
    _simulate(engine, last_night - timedelta(days=9), 10)
    start, end = day_interval(last_night.isoformat())
    validate_batch(start, end, "monitoring_page_test")
    _decisions(engine, settings.model_name, today)
    _drift(engine, settings.model_name, last_night, settings.artifact_dir)
    _evidently_report(settings.artifact_dir / "drift" / f"{last_night}.html")
    _alerts(engine)
    _scores(engine, settings.model_name, last_night)
    _performance(engine, settings.model_name, last_night)
    engine.dispose()
    yield Seeded(
        url=warehouse_url,
        model_name=settings.model_name,
        last_night=last_night,
        artifact_dir=settings.artifact_dir,
    )


# --- the page's data, read as fraud_analyst ----------------------------------------------------


def test_dashboard_reads_the_champion_drift_decisions_and_alerts(seeded: Seeded) -> None:
    engine = analyst_engine(seeded.url)
    dashboard = load_dashboard(engine, load_settings())
    engine.dispose()
    assert dashboard.champion is not None
    assert (dashboard.champion.version, dashboard.champion.became) == (2, "promoted")
    assert dashboard.champion.measured_by.challenger_average_precision == pytest.approx(0.72)
    assert [night.drift_date for night in dashboard.drift.nights] == [
        seeded.last_night - timedelta(days=NIGHTS - 1 - night) for night in range(NIGHTS)
    ]
    assert dashboard.drift.rows[0].feature == "score"
    for row in dashboard.drift.rows:
        assert [cell.psi for cell in row.cells] == pytest.approx(
            [expected_psi(row.feature, night) for night in range(NIGHTS)]
        )
    assert dashboard.drift.nights[-1].report_name == f"{seeded.last_night}.html"
    assert [item.decision for item in dashboard.decisions] == [
        "rejected",
        "promoted",
        "bootstrapped",
    ]
    assert [alert.kind for alert in dashboard.alerts] == ["task_failure", "drift"]
    assert dashboard.data_docs


def test_dashboard_reads_the_live_model_as_fraud_analyst(seeded: Seeded) -> None:
    engine = analyst_engine(seeded.url)
    live = load_dashboard(engine, load_settings()).live
    with engine.connect() as connection:
        quarantined = connection.execute(
            sa.text("select quarantined_count from analytics.quality_daily where tx_date = :day"),
            {"day": seeded.last_night},
        ).scalar_one()
    engine.dispose()
    assert live.nights[-1] == seeded.last_night and len(live.nights) == 30
    scored = [None] * (30 - 1 - SCORED_NIGHTS) + [ALERTS_PER_NIGHT] * SCORED_NIGHTS + [None]
    assert list(live.alerts.values) == scored
    assert list(live.confirmed.values) == [
        None if value is None else 2 for value in scored
    ]  # transaction ids -100 .. -505: two of each night's six alerts are multiples of three
    for trend, maturity in zip(live.average_precision, (7, 14, 30), strict=True):
        assert trend.name == f"{maturity} days of labels"
        assert list(trend.values) == pytest.approx(
            [None] * 20 + [expected_average_precision(maturity, back) for back in range(9, -1, -1)]
        )
    for trend, maturity in zip(live.card_precision, (7, 14, 30), strict=True):
        assert trend.name == f"{maturity} days of labels"
        assert list(trend.values) == pytest.approx([None] * 20 + [CARD_PRECISION] * 10)
    detected, prevented, missed, genuine = live.money
    assert list(detected.values) == pytest.approx(
        [None] * 20 + [expected_detected_amount(30, back) for back in range(9, -1, -1)]
    )
    assert list(prevented.values) == [None] * 20 + [50.0] * 10
    assert (missed.values[-1], genuine.values[-1]) == (300.0, 700.0)
    for trend, maturity in zip(live.value_detection_rate, (7, 14, 30), strict=True):
        rates = [
            expected_detected_amount(maturity, back)
            / (expected_detected_amount(maturity, back) + 300)
            for back in range(9, -1, -1)
        ]
        assert list(trend.values) == pytest.approx([None] * 20 + rates)
    assert [trend.name for trend in live.psi] == list(DRIFT_SLOPES)
    assert live.psi[0].values[-NIGHTS:] == pytest.approx(
        [expected_psi("score", night) for night in range(NIGHTS)]
    )
    assert live.quarantined.values[-1] == quarantined
    # The alert queue: the latest scored night, one row per card, highest score first.
    assert live.queue_night == seeded.last_night - timedelta(days=1)
    assert live.queue_cards == ALERTED_CARDS
    assert [card.customer_id for card in live.queue] == list(range(ALERTED_CARDS))
    assert [card.card_alerts for card in live.queue] == [2, 2, 1, 1]
    assert [card.score for card in live.queue] == pytest.approx([0.9, 0.89, 0.88, 0.87])
    assert live.queue[1].reasons == ("terminal_fraud_risk_7d", "tx_amount")
    assert live.queue[0].reasons == ("terminal_fraud_risk_7d",)


@pytest.mark.parametrize(
    "statement",
    [
        "select count(*) from monitoring.alerts",
        "select count(*) from monitoring.feature_drift",
        "select count(*) from raw.transactions",
    ],
)
def test_the_page_cannot_read_behind_the_views(seeded: Seeded, statement: str) -> None:
    engine = analyst_engine(seeded.url)
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        with engine.connect() as connection:
            connection.execute(sa.text(statement))
    engine.dispose()


def test_the_page_cannot_write(seeded: Seeded) -> None:
    engine = analyst_engine(seeded.url)
    with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
        with engine.begin() as connection:
            connection.execute(sa.text("create temporary table scratch (a int)"))
    engine.dispose()


def test_make_up_summary_counts_the_last_validated_night(seeded: Seeded) -> None:
    engine = create_warehouse_engine(seeded.url)
    night = last_night(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("set local role fraud_analyst")
        day = connection.execute(
            sa.text("select * from analytics.quality_daily where tx_date = :day"),
            {"day": seeded.last_night},
        ).one()
    engine.dispose()
    assert (night.day, night.extracted, night.validated, night.quarantined) == (
        seeded.last_night,
        day.extracted_count,
        day.validated_count,
        day.quarantined_count,
    )
    assert (night.scored, night.alerts) == (0, 0)  # the night was validated, not scored


# --- the real page on the real api-server ------------------------------------------------------


@pytest.fixture(scope="module")
def analyst_url(seeded: Seeded) -> Generator[str, None, None]:
    """A login that is a member of fraud_analyst only, as the page has in a deployment."""
    with member_login(seeded.url, "fraud_analyst") as url:
        yield url


@pytest.fixture(scope="module")
def api_server(
    airflow_db: None,
    seeded: Seeded,
    analyst_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Generator[Server, None, None]:
    """The real Airflow api-server with the repository's plugins, simple auth, a free port."""
    # As deployed: the page logs in as a member of fraud_analyst and has no other warehouse URL.
    environ = {name: value for name, value in os.environ.items() if name != "FRAUD_DATABASE_URL"}
    env = {
        **environ,
        "FRAUD_ANALYST_DATABASE_URL": analyst_url,
        "FRAUD_ARTIFACT_DIR": str(seeded.artifact_dir),
        "FRAUD_MLFLOW_UI_URL": MLFLOW_UI,
    }
    with running_api_server(tmp_path_factory.mktemp("api-server"), USERS, env) as server:
        yield server


def _answer(url: str, headers: dict[str, str]) -> tuple[int, Message]:
    """GET without following redirects; return the status and the headers."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def _status(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """GET without following redirects; return the status and the Location header."""
    status, answered = _answer(url, headers)
    return status, answered.get("Location", "")


def _token(server: Server, user: str = "admin") -> str:
    """An API token for a user, from Airflow's own token endpoint."""
    request = urllib.request.Request(
        f"{server.base_url}/auth/token",
        data=json.dumps({"username": user, "password": server.passwords[user]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["access_token"]


def _signed(secret: str, role: str = "ADMIN", lifetime: timedelta = timedelta(hours=1)) -> str:
    """An admin token as Airflow signs them (HS512, its audience), made here with any key and life."""
    now = datetime.now(UTC)
    claims = {
        "sub": "admin",
        "role": role,
        "teams": None,
        "aud": "apache-airflow",
        "jti": uuid.uuid4().hex,
        "iat": now - timedelta(hours=2),
        "nbf": now - timedelta(hours=2),
        "exp": now + lifetime,
    }
    return jwt.encode(claims, secret, algorithm="HS512")


def _credentials(server: Server, credential: str) -> dict[str, str]:
    """The request headers of an API client (or a browser's cookie) presenting a credential."""
    forged = _signed(secrets.token_urlsafe(64))
    expired = _signed(server.jwt_secret, lifetime=-timedelta(hours=1))
    tokens = {
        "none": None,
        "forged token": forged,
        "expired token": expired,
        "outsider's token": _token(server, "outsider"),
        "viewer's token": _token(server, "viewer"),
        "admin token signed with the server's key": _signed(server.jwt_secret),
    }
    cookies = {"forged cookie": forged, "expired cookie": expired}
    headers = {"Accept": "application/json"}
    if credential in cookies:
        return headers | {"Cookie": f"{SESSION_COOKIE}={cookies[credential]}"}
    token = tokens[credential]
    return headers if token is None else headers | {"Authorization": f"Bearer {token}"}


# Every route: the page, a night's report, a Data Docs page and one of its static files.
ROUTES = [
    "",
    "reports/{night}.html",
    "data-docs/index.html",
    "data-docs/static/styles/data_docs_default_styles.css",
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("credential", "status"),
    [
        ("none", 401),
        ("forged token", 403),
        ("forged cookie", 403),
        ("expired token", 401),
        ("expired cookie", 401),
        ("outsider's token", 403),
        # The controls: the same hand-made token with the server's key, and the lowest role.
        ("admin token signed with the server's key", 200),
        ("viewer's token", 200),
    ],
)
def test_who_gets_each_route(
    api_server: Server, seeded: Seeded, route: str, credential: str, status: int
) -> None:
    url = f"{api_server.base_url}/fraud-monitoring/{route.format(night=seeded.last_night)}"
    assert _status(url, _credentials(api_server, credential))[0] == status


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("credential", ["none", "expired cookie"])
def test_a_browser_without_a_valid_session_is_sent_to_the_login(
    api_server: Server, seeded: Seeded, route: str, credential: str
) -> None:
    url = f"{api_server.base_url}/fraud-monitoring/{route.format(night=seeded.last_night)}"
    headers = _credentials(api_server, credential) | {"Accept": "text/html"}
    status, location = _status(url, headers)
    assert (status, location) == (307, "/auth/login?" + urllib.parse.urlencode({"next": url}))


@pytest.mark.parametrize(
    ("route", "credential", "status", "policy"),
    [
        ("", "admin token signed with the server's key", 200, CONTENT_SECURITY_POLICY),
        ("reports/{night}.html", "viewer's token", 200, REPORT_POLICY),
        ("data-docs/index.html", "viewer's token", 200, DATA_DOCS_POLICY),
        (
            "data-docs/static/styles/data_docs_default_styles.css",
            "viewer's token",
            200,
            DATA_DOCS_POLICY,
        ),
        ("reports/no-such-night.html", "viewer's token", 404, CONTENT_SECURITY_POLICY),
        ("", "none", 401, CONTENT_SECURITY_POLICY),
        ("data-docs/index.html", "outsider's token", 403, CONTENT_SECURITY_POLICY),
    ],
)
def test_every_answer_carries_the_edge_headers(
    api_server: Server,
    seeded: Seeded,
    route: str,
    credential: str,
    status: int,
    policy: str,
) -> None:
    url = f"{api_server.base_url}/fraud-monitoring/{route.format(night=seeded.last_night)}"
    answered, headers = _answer(url, _credentials(api_server, credential))
    assert answered == status
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Security-Policy"] == policy
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"].split("; ")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("reports/{night}.html", 200),
        ("data-docs/index.html", 200),
        # Files that exist, outside the folder each route serves: %2F keeps the client from
        # resolving the dots, the server decodes them.
        ("data-docs/..%2F..%2F..%2F..%2Fdrift%2F{night}.html", 404),
        ("reports/..%2Fgx%2Fgreat_expectations.yml", 404),
        ("reports/%2Fetc%2Fpasswd", 404),
        ("reports/no-such-night.html", 404),
        ("reports/", 404),
    ],
)
def test_artifacts_are_served_only_from_their_folders(
    api_server: Server, seeded: Seeded, path: str, status: int
) -> None:
    headers = {"Authorization": f"Bearer {_token(api_server)}"}
    url = f"{api_server.base_url}/fraud-monitoring/{path.format(night=seeded.last_night)}"
    assert _status(url, headers)[0] == status


# Paths no file answers to, as a scanner or a mangled link sends them: each gets a 404 with the
# edge headers, never a 500 (a name over 255 bytes once made the file system raise).
BAD_PATHS = {
    "a file name over 255 bytes": "reports/" + "a" * 300 + ".html",
    "a path over the system's limit": "data-docs/" + "/".join(["b" * 200] * 25),
    "a long route of its own": "c" * 5000,
    "a NUL byte": "reports/%00.html",
    "bytes that are not UTF-8": "reports/%FF%FE%C0%AF.html",
    "a control character": "data-docs/%1B%5B31m.html",
    "encoded slashes": "reports/..%2F..%2F..%2Fetc%2Fpasswd",
    "encoded dots and slashes": "data-docs/%2E%2E%2F%2E%2E%2Fdrift%2F{night}.html",
    "backslashes": "reports/..%5C..%5Cgx%5Cgreat_expectations.yml",
    "dots": "reports/../../gx/great_expectations.yml",
    "a double slash": "reports//etc/passwd",
    "a folder": "data-docs/static",
    "a trailing dot segment": "reports/{night}.html/..",
    "spaces": "reports/no%20such%20night.html",
    "an unknown route": "admin/../../../etc/passwd",
}


@pytest.mark.parametrize("path", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_every_bad_path_is_a_404_with_the_edge_headers(
    api_server: Server, seeded: Seeded, path: str
) -> None:
    url = f"{api_server.base_url}/fraud-monitoring/{path.format(night=seeded.last_night)}"
    status, headers = _answer(url, _credentials(api_server, "viewer's token"))
    assert status == 404
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing: apt-get install chromium"
)
def test_monitoring_page_in_a_browser(api_server: Server, seeded: Seeded) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOT.parent.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            # What the pages' Content-Security-Policies refuse, as Chromium reports it.
            refused: list[str] = []
            page.context.on(
                "console",
                lambda message: (
                    refused.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            page.goto(f"{api_server.base_url}/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", api_server.password)
            page.click("button[type=submit]")
            page.get_by_role("button", name="Browse").click()
            with page.context.expect_page() as opened:
                page.get_by_role("menuitem", name="Fraud monitoring").click()
            page = opened.value
            page.wait_for_load_state()
            assert page.url == f"{api_server.base_url}/fraud-monitoring/"

            champion = page.locator("#champion [data-version]")
            assert champion.get_attribute("data-version") == "2"
            assert f"{seeded.model_name} version 2" in champion.inner_text()
            assert page.locator("#champion a", has_text=RUN_ID).get_attribute("href") == (
                f"{MLFLOW_UI}/#/runs/{RUN_ID}"
            )

            rows = page.locator("#drift-table tbody tr")
            assert rows.first.get_attribute("data-feature") == "score"
            assert rows.count() == len(DRIFT_SLOPES)
            bands = PsiBands()
            seen = set()
            for row in rows.all():
                feature = row.get_attribute("data-feature")
                cells = row.locator("td").all()
                assert len(cells) == NIGHTS
                for night, cell in enumerate(cells):
                    band = bands.band(expected_psi(feature, night))
                    assert cell.get_attribute("data-band") == band
                    colour = cell.evaluate("node => getComputedStyle(node).backgroundColor")
                    assert colour == BAND_COLOURS[band], (feature, night)
                    seen.add(band)
            assert seen == set(BAND_COLOURS)

            assert "volume outside the band" in page.locator("#alerts").inner_text()
            assert page.locator("#decisions tr").count() == 1 + 3

            # The live model's charts, drawn on the server: each an image with its label.
            charts = page.locator('#live-model svg[role="img"]')
            labels = [chart.get_attribute("aria-label") or "" for chart in charts.all()]
            assert labels == LIVE_CHARTS
            for chart in charts.all():
                assert chart.bounding_box()["height"] > 100  # drawn, not an empty frame
                title = chart.locator("text.chart-title")
                assert title.evaluate("node => node.getComputedTextLength()") < WIDTH - LEFT
            precision = charts.nth(0)
            assert precision.locator("g.series").count() == 3  # 7, 14 and 30 days of labels
            assert precision.locator("circle").count() == 3 * 10
            cards = charts.nth(2)
            assert cards.locator("g.series").count() == 3
            assert cards.locator("circle").count() == 3 * 10
            money = charts.nth(3)
            assert money.locator("g.series").count() == 4  # detected, prevented, missed, genuine
            assert money.locator("circle").count() == 4 * 10
            assert charts.nth(4).locator("g.series").count() == 3  # value detection rate
            assert charts.nth(5).locator("rect").count() == SCORED_NIGHTS
            assert charts.nth(6).locator("g.series").count() == len(DRIFT_SLOPES)
            assert charts.nth(6).locator("g.guide").count() == 2
            queue = page.locator("#alert-queue-table tbody tr")
            assert queue.count() == ALERTED_CARDS
            assert "terminal_fraud_risk_7d, tx_amount" in queue.nth(1).inner_text()

            docs = page.locator('a[href="data-docs/index.html"]').evaluate("node => node.href")
            assert page.request.get(docs).status == 200
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            print(f"screenshot: {SCREENSHOT}")

            report_link = page.locator(f'#drift-table a[href="reports/{seeded.last_night}.html"]')
            with page.context.expect_page() as opened:
                report_link.click()
            report = opened.value
            report.get_by_text("Dataset Drift").first.wait_for()
            # Served with a sandbox CSP: the report's scripts cannot read the Airflow session.
            reading = "() => { try { return document.cookie } catch (error) { return error.name } }"
            assert report.evaluate(reading) == "SecurityError"

            assert refused == []  # the page and the report load everything they need

            # Data Docs: their inline scripts and styles run; the CDNs they also use may be out of
            # reach here, which is a network error, not a refusal. The one refusal is the logo
            # Great Expectations loads from its own servers with the project's id in the URL.
            with page.context.expect_page() as opened:
                page.locator('a[href="data-docs/index.html"]').click()
            site = opened.value
            site.get_by_text("Validation Results").first.wait_for()
            assert site.evaluate(reading) == "SecurityError"
            assert [text.split("'")[1].split("?")[0] for text in refused] == [
                "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png"
            ]
        finally:
            browser.close()
