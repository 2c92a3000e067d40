"""The page's Content-Security-Policy allows exactly what the rendered page uses."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from fraud.dashboard.data import Alert, Cell, Dashboard, DriftGrid, DriftRow, Night
from fraud.dashboard.html import CONTENT_SECURITY_POLICY, render_page
from fraud.dashboard.live import LiveModel, QueuedCard, Trend, window
from fraud.gates import PsiBands

NOW = datetime(2026, 3, 21, tzinfo=UTC)
NIGHTS = window(NOW.date(), nights=3)
LIVE = LiveModel(
    nights=NIGHTS,
    average_precision=(Trend("7 days of labels", (0.6, None, 0.7)),),
    alert_precision=(Trend("7 days of labels", (0.2, 0.3, 0.25)),),
    card_precision=(Trend("7 days of labels", (0.25, None, 0.3)),),
    alerts=Trend("alerts", (100, 104, 98)),
    confirmed=Trend("confirmed fraud", (20, 31, 24)),
    psi=(Trend("score", (0.01, 0.12, 0.3)), Trend("tx_amount", (0.02, 0.02, 0.05))),
    quarantined=Trend("quarantined rows", (0, 3, None)),
    queue_night=NIGHTS[-1],
    queue_cards=1,
    queue=(
        QueuedCard(
            7, 70, NOW, 9, Decimal("12.50"), 0.97, 2, ("tx_amount",), False, 1, Decimal("12.50")
        ),
    ),
)
FULL = Dashboard(
    model_name="fraud-lightgbm",
    champion=None,
    drift=DriftGrid(
        nights=(Night(date(2026, 3, 19), 2, None), Night(date(2026, 3, 20), 2, "2026-03-20.html")),
        rows=(DriftRow("score", (Cell(0.3, "alert"), None)),),
    ),
    decisions=(),
    alerts=(Alert(NOW, "critical", "task_failure", "fraud_score", None, "failed"),),
    bands=PsiBands(),
    data_docs=True,
    live=LIVE,
)


class Resources(HTMLParser):
    """What a page asks the browser to load or run."""

    def __init__(self) -> None:
        super().__init__()
        self.styles: list[str] = []
        self.loads: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        names = {name for name, _ in attrs}
        if tag in {"script", "link", "img", "iframe", "object", "embed", "form", "base"}:
            self.loads.append(tag)
        self.loads.extend(
            f"{tag}[{name}]" for name in names if name in {"style", "src"} or name.startswith("on")
        )

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def directives() -> dict[str, str]:
    """The policy as directive name → sources."""
    return dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))


def test_the_style_source_is_the_hash_of_the_page_style() -> None:
    found = Resources()
    found.feed(render_page(FULL, "http://m:5000", NOW))
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'"
        for style in found.styles
    ]
    assert len(hashes) == 1
    assert directives()["style-src"] == hashes[0]
    assert found.loads == []


@pytest.mark.parametrize(
    ("directive", "sources"),
    [
        ("default-src", "'none'"),
        ("base-uri", "'none'"),
        ("form-action", "'none'"),
        ("frame-ancestors", "'self'"),
    ],
)
def test_the_page_loads_nothing_else_and_is_framed_only_by_airflow(
    directive: str, sources: str
) -> None:
    assert directives()[directive] == sources


def test_an_unexpected_error_is_a_bare_500_with_the_edge_headers() -> None:
    import asyncio

    from fraud_monitoring import EDGE_HEADERS, app
    from starlette.requests import Request

    handler = app.exception_handlers[Exception]
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""}
    error = OSError(36, "File name too long: /opt/airflow/artifacts/drift/aaaa")
    response = asyncio.run(handler(Request(scope), error))
    assert response.status_code == 500
    assert response.body == b"Internal Server Error"
    assert {name: response.headers[name] for name in EDGE_HEADERS} == EDGE_HEADERS
