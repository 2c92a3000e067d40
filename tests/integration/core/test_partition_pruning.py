"""Scores are partitioned by UTC day: one night's query reads that night's partition only.

The plans are read back with ``explain`` as ``fraud_analyst``, for the lookup of a payment by its
id and UTC day and for every example of the README and of docs/analysts.md that reads scores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import REPOSITORY_ROOT
from fraud.db import create_warehouse_engine
from fraud.partitions import ensure_partitions

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
FIRST_DAY = TODAY - timedelta(days=45)
DAYS = 46  # up to today
NIGHT = TODAY - timedelta(days=10)
GUIDES = (REPOSITORY_ROOT / "README.md", REPOSITORY_ROOT / "docs" / "analysts.md")
EXAMPLES = REPOSITORY_ROOT / "sql" / "examples"


@pytest.fixture(scope="module")
def engine(warehouse_url: str) -> Iterator[Engine]:
    engine = create_warehouse_engine(warehouse_url)
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    ensure_partitions(engine, start, start + timedelta(days=DAYS))
    yield engine
    engine.dispose()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def score_partitions(engine: Engine, query: str) -> list[str]:
    """The partitions of scoring.transaction_scores that the query's plan reads, as the analyst."""
    with engine.begin() as connection:
        connection.exec_driver_sql("set local role fraud_analyst")
        explained = connection.exec_driver_sql("explain (format json) " + query).scalar_one()
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    return sorted(
        node["Relation Name"]
        for node in _nodes(plan)
        if str(node.get("Relation Name", "")).startswith("transaction_scores_")
    )


def _partition(day: date) -> str:
    return f"transaction_scores_{day:%Y%m%d}"


def test_a_lookup_by_id_and_utc_day_reads_that_days_partition_only(engine: Engine) -> None:
    query = (
        "select alert_rule, alert_rank, reason_1_meaning, reason_1_value"
        f" from analytics.scored_transactions_on(date '{NIGHT.isoformat()}')"
        " where transaction_id = 4242"
    )
    assert score_partitions(engine, query) == [_partition(NIGHT)]


def test_a_filter_on_tx_date_reads_every_day(engine: Engine) -> None:
    """Why the examples filter on tx_datetime or use the function: tx_date is computed."""
    query = f"select * from analytics.scored_transactions where tx_date = date '{NIGHT}'"
    assert len(score_partitions(engine, query)) == DAYS


def _examples_reading_scores() -> list[tuple[str, str]]:
    found = []
    for guide in GUIDES:
        for block in re.findall(r"```sql\n(.*?)```", guide.read_text(), re.S):
            for statement in block.split(";"):
                if "scored_transactions" in statement and statement.strip():
                    found.append((guide.name, statement))
    for path in sorted(EXAMPLES.glob("*.sql")):
        text = path.read_text()
        if "scored_transactions" in text:
            found.append((path.name, text.rstrip().rstrip(";")))
    return found


@pytest.mark.parametrize(("source", "query"), _examples_reading_scores())
def test_every_example_that_reads_scores_prunes_the_day_partitions(
    engine: Engine, source: str, query: str
) -> None:
    read = score_partitions(engine, query)
    # One night, or the 30 days of the widest example and today, in progress.
    assert len(read) <= (1 if "scored_transactions_on" in query else 31), (source, read)


def test_every_example_guide_reads_at_least_one_night(engine: Engine) -> None:
    assert sum(1 for source, _ in _examples_reading_scores() if source == "README.md") >= 1
    assert sum(1 for source, _ in _examples_reading_scores() if source == "analysts.md") >= 2
    with engine.connect() as connection:
        assert (
            connection.execute(
                sa.text("select count(*) from analytics.feature_glossary")
            ).scalar_one()
            > 0
        )
