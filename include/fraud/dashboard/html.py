"""The monitoring page as one self-contained HTML page, from what ``fraud.dashboard.data`` read.

Every value shown is escaped; the charts are drawn by the Jinja templates in ``templates/``, in an
environment that escapes every value and fails on any name a template uses but is not given. Links are relative to the page (reports, Data Docs, the Airflow UI)
or absolute to the MLflow UI, so the page works under any URL prefix.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from functools import cache
from html import escape
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from fraud.dashboard.charts import Chart, Guide, bar_chart, line_chart
from fraud.dashboard.data import (
    ANALYST_ROLE,
    Dashboard,
    Decision,
    mlflow_run_url,
    mlflow_version_url,
)
from fraud.masking import mask_passwords

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a202c; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; }
nav a, .links a { margin-right: 1rem; } .muted { color: #718096; font-size: .85rem; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border: 1px solid #e2e8f0; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f7fafc; }
td.psi, td.number { text-align: right; font-variant-numeric: tabular-nums; }
.band-stable { background: #c6f6d5; } .band-warning { background: #feebc8; }
.band-alert { background: #fed7d7; } .band-none { background: #fff; color: #a0aec0; }
.severity-critical { color: #c53030; font-weight: 600; } .severity-warning { color: #c05621; }
.card { display: inline-block; border: 1px solid #e2e8f0; border-radius: 6px; padding: .8rem 1rem; }
.card .version { font-size: 1.6rem; font-weight: 600; }
.legend span { display: inline-block; padding: .1rem .5rem; margin-right: .4rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem 1.5rem; }
.chart { border: 1px solid #e2e8f0; border-radius: 6px; background: #fff; }
"""
# The page's Content-Security-Policy: its own <style> element, allowed by its hash, and nothing
# else (no script, image, font, frame or form); only the Airflow UI's origin may frame it.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src 'sha256-{base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()}'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    )
)


@cache
def environment() -> Environment:
    """The page's templates, loaded from this package and compiled once per process.

    Every value a template writes is escaped for HTML (the templates are HTML and inline SVG
    only); a name a template uses but is not given fails the render instead of printing nothing.
    """
    templates = Environment(
        loader=PackageLoader("fraud.dashboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    templates.filters["px"] = "{:.1f}".format
    return templates


def render_chart(chart: Chart) -> str:
    """One chart as inline SVG, drawn by the chart template's macro."""
    macros = environment().get_template("chart.svg.j2").module
    return str(macros.chart(chart))  # type: ignore[attr-defined]


def _text(value: object) -> str:
    """Escape a value for HTML; an em dash for a missing one."""
    return "—" if value is None else escape(str(value))


def _number(value: float | None) -> str:
    """A metric with three decimals, or an em dash."""
    return "—" if value is None else f"{value:.3f}"


def _moment(value: datetime | None) -> str:
    """A timestamp in UTC to the minute."""
    return "—" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _link(href: str | None, label: str) -> str:
    """An anchor, or the bare label when there is nowhere to go."""
    if not href:
        return escape(label)
    return f'<a href="{escape(href)}" target="_blank" rel="noopener">{escape(label)}</a>'


def render_champion(dashboard: Dashboard, mlflow_ui: str | None) -> str:
    """The champion card: version, since when, its metrics on its evaluation window."""
    champion = dashboard.champion
    if champion is None:
        return '<section id="champion"><p>No champion yet: run the fraud_retrain DAG.</p></section>'
    version_href = (
        mlflow_version_url(mlflow_ui, dashboard.model_name, champion.version) if mlflow_ui else None
    )
    measured = champion.measured_by
    metrics = ""
    if measured is not None:
        metrics = (
            "<table><tr><th>average precision</th><th>AUC ROC</th><th>card precision@100</th>"
            "<th>evaluation window</th><th>training run</th></tr>"
            f"<tr><td class=number>{_number(measured.challenger_average_precision)}</td>"
            f"<td class=number>{_number(measured.challenger_auc_roc)}</td>"
            f"<td class=number>{_number(measured.challenger_card_precision_at_100)}</td>"
            f"<td>{_moment(measured.evaluation_start)} to {_moment(measured.evaluation_end)}</td>"
            f"<td>{_run_link(mlflow_ui, measured.mlflow_run_id, measured.mlflow_run_id or '')}"
            "</td></tr></table>"
        )
    return (
        '<section id="champion"><h2>Champion</h2><div class="card">'
        f'<div class="version" data-version="{champion.version}">'
        f"{_link(version_href, f'{dashboard.model_name} version {champion.version}')}</div>"
        f'<div class="muted">champion since {_moment(champion.since)}'
        f" ({escape(champion.became.replace('_', ' '))})</div>"
        f"{metrics}</div></section>"
    )


def render_live(dashboard: Dashboard) -> str:
    """The live model's charts over the last nights: performance (average, alert and card
    precision), alerts, drift, quarantine."""
    live, bands = dashboard.live, dashboard.bands
    labels = [f"{night:%m-%d}" for night in live.nights]
    nights = len(labels)
    maturing = "no night has measured a day with matured labels yet"
    charts = (
        line_chart(
            "Average precision as labels mature",
            labels,
            live.average_precision,
            top=1.0,
            empty=f"No average precision yet: {maturing}.",
        ),
        line_chart(
            "Alert precision (alerts confirmed as fraud) as labels mature",
            labels,
            live.alert_precision,
            top=1.0,
            empty=f"No alert precision yet: {maturing}.",
        ),
        line_chart(
            "Handbook CP@100: card precision of the daily top 100, known cards left out",
            labels,
            live.card_precision,
            top=1.0,
            empty=f"No card precision yet: {maturing}.",
        ),
        bar_chart(
            "Alerts per night",
            labels,
            live.alerts.values,
            empty="No alerts in these nights: no night was scored.",
        ),
        line_chart(
            f"PSI of the score and the {max(len(live.psi) - 1, 0)} most drifted features",
            labels,
            live.psi,
            guides=(Guide("warning", bands.warning), Guide("alert", bands.alert)),
            empty="No drift computed in these nights.",
        ),
        bar_chart(
            "Rows quarantined per night",
            labels,
            live.quarantined.values,
            empty="No night validated in these nights.",
        ),
    )
    return (
        f'<section id="live-model"><h2>The live model: the last {nights} nights</h2>'
        '<p class="muted">Each night measures the days whose labels are 7, 14 and 30 days old;'
        " a point stands on the night that measured it. Hover a point or a bar for its value."
        " CP@100 is the share of each day's 100 highest-scored cards with a fraud, leaving out"
        " the cards with a fraud reported before the day began (blocked already).</p>"
        f'<div class="charts">{"".join(render_chart(chart) for chart in charts)}</div></section>'
    )


def render_queue(dashboard: Dashboard) -> str:
    """The latest night's alert queue: the cards with the highest-scored alerts."""
    live = dashboard.live
    if live.queue_night is None:
        return (
            '<section id="alert-queue"><h2>Alert queue</h2>'
            f"<p>No alerts in the last {len(live.nights)} nights.</p></section>"
        )
    rows = "".join(
        f"<tr><td class=number>{rank}</td><td>{card.customer_id}</td>"
        f"<td class=number>{card.score:.3f}</td><td class=number>{card.tx_amount:,.2f}</td>"
        f"<td>{escape(', '.join(card.reasons)) or '—'}</td>"
        f"<td>{_moment(card.tx_datetime)}</td><td>{card.terminal_id}</td>"
        f"<td class=number>{card.card_alerts}</td><td class=number>{card.card_amount:,.2f}</td>"
        f"<td>{'yes' if card.is_fraud_reported else 'not yet'}</td></tr>"
        for rank, card in enumerate(live.queue, start=1)
    )
    return (
        f'<section id="alert-queue"><h2>Alert queue of {live.queue_night}</h2>'
        f'<p class="muted">The top {len(live.queue)} of {live.queue_cards} cards alerted that'
        " night, each by its highest-scored alert.</p>"
        '<table id="alert-queue-table"><thead><tr><th>#</th><th>card</th><th>score</th>'
        "<th>amount</th><th>reason codes</th><th>when</th><th>terminal</th>"
        "<th>alerts of the card</th><th>amount alerted</th><th>fraud reported</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def render_drift(dashboard: Dashboard) -> str:
    """The drift table: PSI per column and night, each cell coloured by its band."""
    grid, bands = dashboard.drift, dashboard.bands
    legend = (
        '<p class="legend">'
        f'<span class="band-stable">stable below {bands.warning:g}</span>'
        f'<span class="band-warning">warning from {bands.warning:g}</span>'
        f'<span class="band-alert">alert from {bands.alert:g}</span></p>'
    )
    if not grid.nights:
        return '<section id="drift"><h2>Drift</h2><p>No drift computed yet.</p></section>'
    header = "".join(
        f'<th title="{night.drift_date} compared with version {night.model_version}">'
        f"{night.drift_date:%m-%d}<br><span class=muted>v{night.model_version}</span><br>"
        + (
            f'<a href="reports/{quote(night.report_name)}" target="_blank" rel="noopener">report</a>'
            if night.report_name
            else '<span class="muted" title="no report on this server">—</span>'
        )
        + "</th>"
        for night in grid.nights
    )
    body = "".join(
        f'<tr data-feature="{escape(row.feature)}"><th>{escape(row.feature)}</th>'
        + "".join(
            '<td class="psi band-none">—</td>'
            if cell is None
            else f'<td class="psi band-{cell.band}" data-band="{cell.band}"'
            f' title="{escape(row.feature)} {night.drift_date}: {cell.band}">{cell.psi:.3f}</td>'
            for cell, night in zip(row.cells, grid.nights, strict=True)
        )
        + "</tr>"
        for row in grid.rows
    )
    return (
        f'<section id="drift"><h2>Drift: PSI of the last {len(grid.nights)} nights</h2>{legend}'
        f'<table id="drift-table"><thead><tr><th>column</th>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table></section>"
    )


def _run_link(mlflow_ui: str | None, run_id: str | None, label: str) -> str:
    """A link to an MLflow run when both the UI and the run are known."""
    if not run_id:
        return "—"
    return _link(mlflow_run_url(mlflow_ui, run_id) if mlflow_ui else None, label)


def _decision_row(item: Decision, mlflow_ui: str | None) -> str:
    """One row of the decisions table."""
    return (
        f"<tr><td>{_moment(item.decided_at)}</td><td>{escape(item.decision)}</td>"
        f"<td>{item.challenger_version}</td><td>{_text(item.champion_version)}</td>"
        f"<td>{item.champion_version_after}</td>"
        f"<td class=number>{_number(item.challenger_average_precision)}</td>"
        f"<td class=number>{_number(item.champion_average_precision)}</td>"
        f"<td>{_text(item.trigger)}</td><td>{_text(item.reason)}</td>"
        f"<td>{_run_link(mlflow_ui, item.mlflow_run_id, 'run')}</td></tr>"
    )


def render_decisions(dashboard: Dashboard, mlflow_ui: str | None) -> str:
    """The latest promotion decisions, newest first."""
    if not dashboard.decisions:
        return '<section id="decisions"><h2>Promotion decisions</h2><p>None yet.</p></section>'
    rows = "".join(_decision_row(item, mlflow_ui) for item in dashboard.decisions)
    return (
        '<section id="decisions"><h2>Promotion decisions</h2><table><tr><th>decided</th>'
        "<th>decision</th><th>challenger</th><th>champion before</th><th>champion after</th>"
        "<th>challenger AP</th><th>champion AP</th><th>trigger</th><th>reason</th>"
        f"<th>MLflow</th></tr>{rows}</table></section>"
    )


def render_alerts(dashboard: Dashboard) -> str:
    """The latest pipeline alerts, newest first, masked: rows written before masking existed too."""
    if not dashboard.alerts:
        return '<section id="alerts"><h2>Alerts</h2><p>No alerts.</p></section>'
    rows = "".join(
        f"<tr><td>{_moment(alert.raised_at)}</td>"
        f'<td class="severity-{escape(alert.severity)}">{escape(alert.severity)}</td>'
        f"<td>{escape(alert.kind)}</td>"
        f"<td>{_text('.'.join(part for part in (alert.dag_id, alert.task_id) if part) or None)}</td>"
        f"<td>{escape(mask_passwords(alert.message))}</td></tr>"
        for alert in dashboard.alerts
    )
    return (
        '<section id="alerts"><h2>Latest alerts</h2><table><tr><th>raised</th><th>severity</th>'
        f"<th>kind</th><th>where</th><th>message</th></tr>{rows}</table></section>"
    )


def render_page(dashboard: Dashboard, mlflow_ui: str | None, generated_at: datetime) -> str:
    """The whole page; links are relative to it, so it works under any URL prefix."""
    links = [
        '<a href="../">Airflow</a>',
        _link(mlflow_ui, "MLflow") if mlflow_ui else '<span class="muted">MLflow UI unknown</span>',
        _link("data-docs/index.html", "Data Docs (data quality)")
        if dashboard.data_docs
        else '<span class="muted">no Data Docs yet</span>',
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Fraud monitoring: {escape(dashboard.model_name)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Fraud monitoring: {escape(dashboard.model_name)}</h1>"
        f'<nav class="links">{"".join(links)}</nav>'
        f'<p class="muted">Read through the analytics views as {ANALYST_ROLE}'
        f" at {_moment(generated_at)}.</p>"
        f"{render_champion(dashboard, mlflow_ui)}{render_live(dashboard)}"
        f"{render_queue(dashboard)}{render_drift(dashboard)}"
        f"{render_decisions(dashboard, mlflow_ui)}{render_alerts(dashboard)}"
        "</body></html>"
    )
