"""The page's templates: every text the page shows is escaped, and a missing name fails loudly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from jinja2 import UndefinedError

from fraud.dashboard.data import (
    Alert,
    Cell,
    Dashboard,
    Decision,
    DriftGrid,
    DriftRow,
    Night,
    current_champion,
)
from fraud.dashboard.html import environment, render_page
from fraud.dashboard.live import LiveModel, QueuedCard, Trend, window
from fraud.gates import PsiBands

NOW = datetime(2026, 3, 21, tzinfo=UTC)
NIGHTS = window(NOW.date(), nights=3)
MLFLOW_UI = "http://m:5000"
HOSTILE = "<script>alert(1)</script>\"onmouseover=alert(1) x='"
# The same characters as the page must write them in text and attribute values: never markup.
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;onmouseover=alert(1) x=&#39;"
# The same characters in a link's path, where they are URL-encoded.
ENCODED = "%3Cscript%3Ealert%281%29"

DECISION = Decision(
    decision_id=1,
    decided_at=NOW,
    decision="promoted",
    challenger_version=2,
    champion_version=1,
    champion_version_after=2,
    reason="better",
    trigger="scheduled",
    challenger_average_precision=0.7,
    champion_average_precision=0.6,
    challenger_auc_roc=0.9,
    challenger_card_precision_at_100=0.3,
    evaluation_start=NOW,
    evaluation_end=NOW,
    mlflow_run_id="run-2",
)
ALERT = Alert(NOW, "critical", "task_failure", "fraud_score", "score_partition", "failed")
CARD = QueuedCard(7, 70, NOW, 9, Decimal("12.50"), 0.97, 2, ("tx_amount",), False, 1, Decimal("1"))
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
    queue=(CARD,),
)
NIGHT = Night(date(2026, 3, 20), 2, "2026-03-20.html")
FULL = Dashboard(
    model_name="fraud-lightgbm",
    champion=current_champion([DECISION]),
    drift=DriftGrid(nights=(NIGHT,), rows=(DriftRow("score", (Cell(0.3, "alert"),)),)),
    decisions=(DECISION,),
    alerts=(ALERT,),
    bands=PsiBands(),
    data_docs=True,
    live=LIVE,
)


def _champion(**fields: object) -> Dashboard:
    champion = current_champion([replace(DECISION, **fields)])  # type: ignore[arg-type]
    return replace(FULL, champion=champion)


# Each text field of the page: the page's data with ``text`` in that field, and whether the
# page shows the text itself (else only in a link, URL-encoded).
FIELDS: dict[str, tuple[Callable[[str], Dashboard], bool]] = {
    "model name": (lambda text: replace(FULL, model_name=text), True),
    "how the champion became one": (lambda text: _champion(decision=text), True),
    "champion's training run": (lambda text: _champion(mlflow_run_id=text), True),
    "decision": (lambda text: replace(FULL, decisions=(replace(DECISION, decision=text),)), True),
    "decision's trigger": (
        lambda text: replace(FULL, decisions=(replace(DECISION, trigger=text),)),
        True,
    ),
    "decision's reason": (
        lambda text: replace(FULL, decisions=(replace(DECISION, reason=text),)),
        True,
    ),
    "decision's run": (
        lambda text: replace(FULL, decisions=(replace(DECISION, mlflow_run_id=text),)),
        False,
    ),
    "alert severity": (lambda text: replace(FULL, alerts=(replace(ALERT, severity=text),)), True),
    "alert kind": (lambda text: replace(FULL, alerts=(replace(ALERT, kind=text),)), True),
    "alert DAG": (lambda text: replace(FULL, alerts=(replace(ALERT, dag_id=text),)), True),
    "alert task": (lambda text: replace(FULL, alerts=(replace(ALERT, task_id=text),)), True),
    "alert message": (lambda text: replace(FULL, alerts=(replace(ALERT, message=text),)), True),
    "drifted feature": (
        lambda text: replace(
            FULL, drift=replace(FULL.drift, rows=(DriftRow(text, (Cell(0.3, "alert"),)),))
        ),
        True,
    ),
    "drift report": (
        lambda text: replace(
            FULL, drift=replace(FULL.drift, nights=(replace(NIGHT, report_name=text),))
        ),
        False,
    ),
    "chart series": (
        lambda text: replace(FULL, live=replace(LIVE, psi=(Trend(text, (0.1, 0.2, 0.3)),))),
        True,
    ),
    "reason code": (
        lambda text: replace(FULL, live=replace(LIVE, queue=(replace(CARD, reasons=(text,)),))),
        True,
    ),
}


class Structure(HTMLParser):
    """The elements of a page in order, each with the names of its attributes."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, tuple[str, ...]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, tuple(name for name, _ in attrs)))


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_hostile_text_in_any_field_comes_out_escaped(field: str) -> None:
    build, shown = FIELDS[field]
    page = render_page(build(HOSTILE), MLFLOW_UI, NOW)
    plain = render_page(build("plain"), MLFLOW_UI, NOW)
    assert "<script" not in page and '"onmouseover' not in page
    # The text adds no element and no attribute: the page has the shape it has with a plain word.
    assert Structure(page).elements == Structure(plain).elements
    assert (ESCAPED if shown else ENCODED) in page


def test_a_hostile_mlflow_address_comes_out_escaped() -> None:
    page = render_page(FULL, f"http://m/{HOSTILE}", NOW)
    assert "<script" not in page and '"onmouseover' not in page
    assert Structure(page).elements == Structure(render_page(FULL, MLFLOW_UI, NOW)).elements
    assert f'href="http://m/{ESCAPED}"' in page


def test_a_template_using_a_name_it_is_not_given_fails() -> None:
    page = environment().get_template("page.html.j2")
    given = {
        "dashboard": FULL,
        "mlflow_ui": None,
        "generated_at": NOW,
        "analyst_role": "fraud_analyst",
        "champion_url": None,
        "run_url": lambda run_id: None,
    }
    with pytest.raises(UndefinedError, match="'charts' is undefined"):
        page.render(given)
    with pytest.raises(UndefinedError, match="no attribute 'no_such_field'"):
        environment().from_string("<p>{{ dashboard.no_such_field }}</p>").render(dashboard=FULL)


@pytest.mark.parametrize("name", environment().list_templates())
def test_every_template_is_shipped_compiles_and_escapes(name: str) -> None:
    assert environment().get_template(name).environment.autoescape is True
