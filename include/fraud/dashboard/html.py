"""The monitoring page as one self-contained HTML page, from what ``fraud.dashboard.data`` read.

The page is rendered by the Jinja templates in ``templates/``, in an environment that escapes
every value and fails on any name a template uses but is not given. It is compiled once per
process. Links are relative to the page (reports, Data Docs, the Airflow UI) or absolute to the
MLflow UI, so the page works under any URL prefix.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from fraud.dashboard.charts import Chart, Guide, bar_chart, line_chart
from fraud.dashboard.data import ANALYST_ROLE, Dashboard, mlflow_run_url, mlflow_version_url
from fraud.masking import mask_passwords

DASH = "—"


def _dash(value: object) -> object:
    """A value as it is, or an em dash for a missing one."""
    return DASH if value is None else value


def _number(value: float | None) -> str:
    """A metric with three decimals, or an em dash."""
    return DASH if value is None else f"{value:.3f}"


def _moment(value: datetime | None) -> str:
    """A timestamp in UTC to the minute, or an em dash."""
    return DASH if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


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
        keep_trailing_newline=True,
        auto_reload=False,
    )
    templates.filters.update(
        dash=_dash,
        number=_number,
        moment=_moment,
        amount="{:,.2f}".format,
        px="{:.1f}".format,
        masked=mask_passwords,
    )
    templates.globals["zip"] = zip
    return templates


def _hash(text: str) -> str:
    """A CSP source allowing the inline element whose text is ``text``."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


# The page's Content-Security-Policy: its own <style> element (templates/page.css, as the page
# template includes it), allowed by its hash, and nothing else (no script, image, font, frame or
# form); only the Airflow UI's origin may frame it.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"style-src {_hash(environment().get_template('page.css').render())}",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    )
)


def render_chart(chart: Chart) -> str:
    """One chart as inline SVG, drawn by the macro the page template calls for each chart."""
    macros = environment().get_template("chart.svg.j2").module
    return str(macros.chart(chart))  # type: ignore[attr-defined]


def live_charts(dashboard: Dashboard) -> tuple[Chart, ...]:
    """The live model's charts over the last nights: performance (average, alert and card
    precision), the money of the alerts, alerts, drift, quarantine."""
    live, bands = dashboard.live, dashboard.bands
    labels = [f"{night:%m-%d}" for night in live.nights]
    maturing = "no night has measured a day with matured labels yet"
    verdicts = (dashboard.reviews.precision,) if dashboard.reviews else ()
    return (
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
            (*verdicts, *live.alert_precision),
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
        line_chart(
            "Money of the alerts at the oldest label maturity",
            labels,
            live.money,
            empty=f"No money measured yet: {maturing}.",
            value_text=lambda value: f"{value:,.2f}",
        ),
        line_chart(
            "Value detection rate (fraud amount on alerted cards) as labels mature",
            labels,
            live.value_detection_rate,
            top=1.0,
            empty=f"No value detection rate yet: {maturing}.",
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


def _run_url(mlflow_ui: str | None) -> Callable[[str | None], str | None]:
    """The link to an MLflow run, when both the UI and the run are known."""
    return lambda run_id: mlflow_run_url(mlflow_ui, run_id) if mlflow_ui and run_id else None


def render_page(dashboard: Dashboard, mlflow_ui: str | None, generated_at: datetime) -> str:
    """The whole page; links are relative to it, so it works under any URL prefix."""
    champion = dashboard.champion
    page = environment().get_template("page.html.j2")
    return page.render(
        dashboard=dashboard,
        mlflow_ui=mlflow_ui,
        generated_at=generated_at,
        analyst_role=ANALYST_ROLE,
        champion_url=(
            mlflow_version_url(mlflow_ui, dashboard.model_name, champion.version)
            if mlflow_ui and champion
            else None
        ),
        run_url=_run_url(mlflow_ui),
        charts=live_charts(dashboard),
    )
