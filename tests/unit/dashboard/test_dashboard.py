"""The monitoring page's pure parts: the champion, the drift grid, safe file paths, links, HTML."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fraud.config import Settings
from fraud.dashboard.data import (
    Alert,
    ArtifactNotFound,
    Dashboard,
    Decision,
    DriftGrid,
    Night,
    artifact_file,
    current_champion,
    drift_grid,
    mlflow_run_url,
    mlflow_version_url,
    with_reports,
)
from fraud.dashboard.html import render_page
from fraud.dashboard.live import LiveModel, QueuedCard, Trend, money_trends, window
from fraud.gates import PsiBands

START = datetime(2026, 3, 1, tzinfo=UTC)


def decision(day: int, kind: str, challenger: int, champion: int | None) -> Decision:
    """A decision on day ``day`` with the challenger's average precision 0.5 + version / 10."""
    after = champion if kind == "rejected" else challenger
    return Decision(
        decision_id=day,
        decided_at=START + timedelta(days=day),
        decision=kind,
        challenger_version=challenger,
        champion_version=champion,
        champion_version_after=after,  # type: ignore[arg-type]
        reason=f"{kind} on day {day}",
        trigger="scheduled",
        challenger_average_precision=0.5 + challenger / 10,
        champion_average_precision=None,
        challenger_auc_roc=0.9,
        challenger_card_precision_at_100=0.3,
        evaluation_start=None,
        evaluation_end=None,
        mlflow_run_id=f"run-{challenger}" if kind != "rolled_back" else None,
    )


BOOT = decision(0, "bootstrapped", 1, None)
PROMOTE = decision(7, "promoted", 2, 1)
REJECT = decision(14, "rejected", 3, 2)
ROLLBACK = decision(15, "rolled_back", 1, 2)


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ([], None),
        ([BOOT], (1, 0, "bootstrapped", "run-1")),
        ([BOOT, PROMOTE], (2, 7, "promoted", "run-2")),
        ([BOOT, PROMOTE, REJECT], (2, 7, "promoted", "run-2")),
        # A rollback makes version 1 champion again; its metrics are those it was promoted with.
        ([BOOT, PROMOTE, ROLLBACK], (1, 15, "rolled_back", "run-1")),
    ],
)
def test_current_champion(decisions: list[Decision], expected: tuple | None) -> None:
    champion = current_champion(decisions)
    if expected is None:
        assert champion is None
        return
    version, day, became, run_id = expected
    assert (champion.version, champion.since, champion.became) == (
        version,
        START + timedelta(days=day),
        became,
    )
    assert champion.measured_by.mlflow_run_id == run_id


def drift_rows(nights: int, psi: dict[str, float]) -> list[dict[str, object]]:
    """``nights`` nights ending 2026-03-20 with the same PSI per column every night."""
    last = date(2026, 3, 20)
    return [
        {
            "drift_date": last - timedelta(days=back),
            "model_version": 4,
            "feature": column,
            "psi": value,
            "report_path": f"/artifacts/drift/{last - timedelta(days=back)}.html",
        }
        for back in range(nights)
        for column, value in psi.items()
    ]


def test_drift_grid_keeps_the_latest_nights_oldest_first() -> None:
    grid = drift_grid(drift_rows(20, {"score": 0.01}), PsiBands(), nights=14)
    assert [night.drift_date for night in grid.nights] == [
        date(2026, 3, 7) + timedelta(days=day) for day in range(14)
    ]


def test_drift_grid_puts_the_score_first_then_the_most_drifted() -> None:
    psi = {"tx_amount": 0.05, "score": 0.01, "is_night": 0.3, "customer_tx_count_1d": 0.12}
    grid = drift_grid(drift_rows(3, psi), PsiBands())
    assert [row.feature for row in grid.rows] == [
        "score",
        "is_night",
        "customer_tx_count_1d",
        "tx_amount",
    ]


@pytest.mark.parametrize(
    ("bands", "psi", "band"),
    [
        (PsiBands(), 0.05, "stable"),
        (PsiBands(), 0.1, "warning"),
        (PsiBands(), 0.25, "alert"),
        (PsiBands(warning=0.2, alert=0.4), 0.25, "warning"),
        (PsiBands(warning=0.2, alert=0.4), 0.1, "stable"),
    ],
)
def test_drift_cells_take_the_configured_bands(bands: PsiBands, psi: float, band: str) -> None:
    (row,) = drift_grid(drift_rows(1, {"tx_amount": psi}), bands).rows
    assert row.cells[0].band == band


def test_a_column_missing_on_a_night_leaves_a_gap() -> None:
    rows = drift_rows(2, {"score": 0.01}) + drift_rows(1, {"tx_amount": 0.02})
    grid = drift_grid(rows, PsiBands())
    assert grid.rows[1].feature == "tx_amount"
    assert grid.rows[1].cells[0] is None and grid.rows[1].cells[1].psi == 0.02


def test_reports_are_linked_only_when_on_this_server(tmp_path: Path) -> None:
    (tmp_path / "drift").mkdir()
    (tmp_path / "drift" / "2026-03-20.html").write_text("<html></html>")
    grid = drift_grid(drift_rows(2, {"score": 0.01}), PsiBands())
    nights = with_reports(grid, tmp_path).nights
    assert [night.report_name for night in nights] == [None, "2026-03-20.html"]


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """A served folder with a report and a nested file, beside a file it must not serve."""
    served = tmp_path / "served"
    (served / "nested").mkdir(parents=True)
    (served / "report.html").write_text("report")
    (served / "nested" / "page.html").write_text("page")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", served / "escape.html")
    return served


@pytest.mark.parametrize(
    ("relative", "served"),
    [
        ("report.html", "report.html"),
        ("nested/page.html", "nested/page.html"),
        ("nested/../report.html", "report.html"),
        ("../secret.txt", None),
        ("nested/../../secret.txt", None),
        ("/etc/passwd", None),
        ("escape.html", None),
        ("nested", None),
        ("", None),
        ("missing.html", None),
        ("report.html\x00.png", None),
        # Names the file system refuses to look up (ENAMETOOLONG): once a 500, now not found.
        ("a" * 300 + ".html", None),
        ("/".join(["b" * 200] * 25), None),
        ("nested/\udcff\udcfe.html", None),
    ],
)
def test_artifact_file_stays_inside_its_folder(
    artifacts: Path, relative: str, served: str | None
) -> None:
    if served is None:
        with pytest.raises(ArtifactNotFound):
            artifact_file(artifacts, relative)
    else:
        assert artifact_file(artifacts, relative) == (artifacts / served).resolve()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (Settings(), "http://127.0.0.1:5000"),
        (Settings(mlflow_tracking_uri="https://mlflow.example.com/"), "https://mlflow.example.com"),
        # Credentials in the tracking URI stay out of the page.
        (
            Settings(mlflow_tracking_uri="https://user:secret@mlflow.example.com:8443"),
            "https://mlflow.example.com:8443",
        ),
        (Settings(mlflow_tracking_uri="postgresql://mlflow@db/mlflow"), None),
        (
            Settings(
                mlflow_tracking_uri="http://mlflow:5000", mlflow_ui_url="http://localhost:5000/"
            ),
            "http://localhost:5000",
        ),
    ],
)
def test_mlflow_browser_url(settings: Settings, expected: str | None) -> None:
    assert settings.mlflow_browser_url == expected


def test_mlflow_links() -> None:
    assert mlflow_run_url("http://m:5000/", "abc") == "http://m:5000/#/runs/abc"
    assert mlflow_version_url("http://m:5000", "fraud lightgbm", 3) == (
        "http://m:5000/#/models/fraud%20lightgbm/versions/3"
    )


def live(**overrides: object) -> LiveModel:
    """Three nights of the live model with nothing measured, no queue; overridable per test."""
    nights = window(START.date(), nights=3)
    nothing = (None, None, None)
    values = {
        "nights": nights,
        "average_precision": (Trend("7 days of labels", nothing),),
        "alert_precision": (Trend("7 days of labels", nothing),),
        "card_precision": (Trend("7 days of labels", nothing),),
        "alerts": Trend("alerts", nothing),
        "confirmed": Trend("confirmed fraud", nothing),
        "psi": (),
        "quarantined": Trend("quarantined rows", nothing),
    }
    return LiveModel(**{**values, **overrides})  # type: ignore[arg-type]


def dashboard(**overrides: object) -> Dashboard:
    """A page's data with a champion and no drift, overridable per test."""
    values = {
        "model_name": "fraud-lightgbm",
        "champion": current_champion([BOOT, PROMOTE]),
        "drift": DriftGrid(nights=(), rows=()),
        "decisions": (PROMOTE, BOOT),
        "alerts": (),
        "bands": PsiBands(),
        "data_docs": False,
        "live": live(),
    }
    return Dashboard(**{**values, **overrides})  # type: ignore[arg-type]


def test_page_links_the_champion_to_mlflow() -> None:
    page = render_page(dashboard(), "http://m:5000", START)
    assert 'data-version="2"' in page
    assert 'href="http://m:5000/#/models/fraud-lightgbm/versions/2"' in page
    assert 'href="http://m:5000/#/runs/run-2"' in page


def test_page_without_mlflow_ui_has_no_mlflow_links() -> None:
    page = render_page(dashboard(), None, START)
    assert "#/runs/" not in page and "MLflow UI unknown" in page


def test_page_escapes_what_it_shows() -> None:
    alert = Alert(START, "critical", "task_failure", "fraud_ingest", None, "<script>x()</script>")
    page = render_page(dashboard(alerts=(alert,)), None, START)
    assert "<script>" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page


def test_page_masks_secrets_in_alert_messages() -> None:
    hidden = "Zq8vLm2x" + "K7pTw4"
    message = f"fraud_score.score_partition failed: postgresql://fraud:{hidden}@db/fraud"
    alert = Alert(START, "critical", "task_failure", "fraud_score", None, message)
    page = render_page(dashboard(alerts=(alert,)), None, START)
    assert hidden not in page
    assert "postgresql://fraud:***@db/fraud" in page


def test_drift_header_links_only_available_reports() -> None:
    grid = DriftGrid(
        nights=(Night(date(2026, 3, 19), 2, None), Night(date(2026, 3, 20), 2, "2026-03-20.html")),
        rows=(),
    )
    page = render_page(dashboard(drift=grid), None, START)
    assert page.count('href="reports/') == 1 and 'href="reports/2026-03-20.html"' in page


def test_page_without_a_champion_says_what_to_run() -> None:
    page = render_page(dashboard(champion=None, decisions=()), None, START)
    assert "No champion yet: run the fraud_retrain DAG." in page


# The live model's charts: (aria-label prefix, what the chart holds when the nights have data).
CHARTS = (
    "Average precision",
    "Alert precision",
    "Handbook CP@100",
    "Money of the alerts",
    "Value detection rate",
    "Alerts per night",
    "PSI of the score",
    "Rows quarantined per night",
)


def charts(page: str) -> dict[str, str]:
    """Each chart of the page by its aria-label's first words."""
    found = {}
    for svg in page.split("<svg ")[1:]:
        label = svg.split('aria-label="', 1)[1].split('"', 1)[0]
        name = next(prefix for prefix in CHARTS if label.startswith(prefix))
        found[name] = svg.split("</svg>", 1)[0]
    return found


def test_the_live_model_has_its_eight_charts_empty_until_the_nights_have_data() -> None:
    drawn = charts(render_page(dashboard(), None, START))
    assert list(drawn) == list(CHARTS)
    assert all('class="empty"' in chart for chart in drawn.values())


def test_the_live_model_charts_draw_each_night() -> None:
    nights = (0.5, 0.6, None)
    data = live(
        average_precision=(Trend("7 days of labels", nights), Trend("30 days of labels", nights)),
        alert_precision=(Trend("7 days of labels", nights),),
        card_precision=(Trend("7 days of labels", (0.2, None, 0.3)),),
        money=(Trend("detected", (100.0, 250.5, None)), Trend("prevented", (40.0, 0.0, 10.0))),
        value_detection_rate=(Trend("30 days of labels", (0.25, None, 0.5)),),
        alerts=Trend("alerts", (100, 90, 95)),
        psi=(Trend("score", (0.01, 0.3, 0.2)), Trend("tx_amount", (0.1, 0.1, 0.1))),
        quarantined=Trend("quarantined rows", (4, None, 1)),
    )
    drawn = charts(render_page(dashboard(live=data), None, START))
    assert [chart.count("<circle") for chart in drawn.values()] == [4, 2, 2, 5, 2, 0, 6, 0]
    assert [chart.count("<rect") for chart in drawn.values()] == [0, 0, 0, 0, 0, 3, 0, 2]
    assert "250.50" in drawn["Money of the alerts"]
    assert drawn["PSI of the score"].count('class="guide"') == 2  # warning and alert bands


def card(customer: int, reasons: tuple[str, ...]) -> QueuedCard:
    return QueuedCard(
        customer_id=customer,
        transaction_id=customer * 10,
        tx_datetime=START,
        terminal_id=3,
        tx_amount=Decimal("1234.5"),
        score=0.9876,
        model_version=2,
        reasons=reasons,
        is_fraud_reported=customer == 2,
        card_alerts=2,
        card_amount=Decimal("1300"),
    )


def test_the_alert_queue_lists_the_cards_with_score_amount_and_reasons() -> None:
    queue = (card(1, ("terminal_fraud_risk_7d", "<b>tx_amount</b>")), card(2, ()))
    data = live(queue_night=date(2026, 2, 28), queue_cards=7, queue=queue)
    page = render_page(dashboard(live=data), None, START)
    section = page.split('<section id="alert-queue">', 1)[1].split("</section>", 1)[0]
    assert "Alert queue of 2026-02-28" in section and "top 2 of 7 cards" in section
    rows = section.split("<tbody>", 1)[1].split("</tr>")[:-1]
    assert len(rows) == 2
    assert "0.988" in rows[0] and "1,234.50" in rows[0] and "1,300.00" in rows[0]
    assert "terminal_fraud_risk_7d, &lt;b&gt;tx_amount&lt;/b&gt;" in rows[0]
    assert "<b>" not in section
    assert ">yes<" in rows[1] and ">not yet<" in rows[0]


def test_without_alerts_the_queue_says_so() -> None:
    page = render_page(dashboard(), None, START)
    assert "No alerts in the last 3 nights." in page


def test_money_trends_sum_versions_and_take_the_rate_of_sums() -> None:
    nights = (date(2026, 3, 1), date(2026, 3, 2))
    rows = [
        # Two versions measured on 1 March at 30 days: the amounts add up, the rate is
        # (10 + 30) / (40 + 60), not the mean of 0.25 and 0.5.
        {
            "measured_on": nights[0],
            "maturity_days": 30,
            "detected_amount": Decimal("10"),
            "prevented_amount": 1,
            "missed_amount": 30,
            "genuine_amount_alerted": 5,
            "fraud_amount": Decimal("40"),
        },
        {
            "measured_on": nights[0],
            "maturity_days": 30,
            "detected_amount": 30,
            "prevented_amount": 2,
            "missed_amount": 30,
            "genuine_amount_alerted": 5,
            "fraud_amount": 60,
        },
        # A younger maturity has a rate of its own and no amounts on the chart.
        {
            "measured_on": nights[1],
            "maturity_days": 7,
            "detected_amount": 5,
            "prevented_amount": 0,
            "missed_amount": 15,
            "genuine_amount_alerted": 1,
            "fraud_amount": 20,
        },
        # Measured before the money was: no figure.
        {
            "measured_on": nights[1],
            "maturity_days": 30,
            "detected_amount": None,
            "prevented_amount": None,
            "missed_amount": None,
            "genuine_amount_alerted": None,
            "fraud_amount": None,
        },
    ]
    amounts, rates = money_trends(rows, nights, (7, 30))
    assert [(trend.name, trend.values) for trend in amounts] == [
        ("detected", (40.0, None)),
        ("prevented", (3.0, None)),
        ("missed", (60.0, None)),
        ("genuine alerted", (10.0, None)),
    ]
    assert [(trend.name, trend.values) for trend in rates] == [
        ("7 days of labels", (None, 0.25)),
        ("30 days of labels", (0.4, None)),
    ]
