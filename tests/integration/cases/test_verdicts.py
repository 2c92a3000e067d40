"""Investigators' verdicts as data: append only, checked by the database, labels as of a moment.

Plain SQL runs as a real login that is a member of ``fraud_investigator`` only; the checks and the
grants hold there, not just in the import command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.cases.outcomes import VerdictImportError, import_verdicts, rejects_path
from fraud.db import create_warehouse_engine
from tests.support.logins import member_login

pytestmark = pytest.mark.integration

# Ids in a range no ordinary number reaches, so a search for them finds only them.
FIRST_ID = 1_000_000_000_000
PAID_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _at(days: float) -> datetime:
    return PAID_AT + days * DAY


@pytest.fixture(scope="module")
def payments(engine: Engine) -> list[int]:
    ids = [FIRST_ID + offset for offset in range(8)]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into raw.transactions (transaction_id, tx_datetime, customer_id,"
                " terminal_id, tx_amount) values (:id, :at, :customer, 7, 12.50)"
            ),
            [{"id": id_, "at": PAID_AT, "customer": FIRST_ID + 100} for id_ in ids],
        )
    return ids


@pytest.fixture(scope="module")
def investigator(warehouse_url: str, payments: list[int]) -> Iterator[Engine]:
    with member_login(warehouse_url, "fraud_investigator") as url:
        engine = create_warehouse_engine(url, pool_size=1)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def analyst(warehouse_url: str) -> Iterator[Engine]:
    with member_login(warehouse_url, "fraud_analyst") as url:
        engine = create_warehouse_engine(url, pool_size=1)
        yield engine
        engine.dispose()


INSERT = (
    "insert into cases.alert_outcomes (transaction_id, outcome, decided_by, decided_at, note,"
    " recorded_at) values (:id, :outcome, 'ana', :decided_at, :note, :recorded_at)"
)


def _record(
    engine: Engine,
    transaction_id: int,
    outcome: str,
    decided_at: datetime,
    recorded_at: datetime | None = None,
    note: str | None = None,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(INSERT),
            {
                "id": transaction_id,
                "outcome": outcome,
                "decided_at": decided_at,
                "note": note,
                "recorded_at": recorded_at or decided_at,
            },
        )


def _labels(engine: Engine, as_of: datetime) -> dict[int, tuple[bool | None, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select transaction_id, is_fraud, source, outcome"
                " from cases.labels_as_of(:as_of) where transaction_id >= :first"
            ),
            {"as_of": as_of, "first": FIRST_ID},
        )
        return {int(row[0]): (row[1], row[2], row[3]) for row in rows}


def test_an_investigator_inserts_a_verdict_stamped_by_the_database(
    investigator: Engine, engine: Engine, payments: list[int]
) -> None:
    _record(investigator, payments[0], "genuine_confirmed", _at(0.5), recorded_at=_at(0.5))
    with engine.connect() as connection:
        recorded_at, recorded_by, now = connection.execute(
            sa.text(
                "select recorded_at, recorded_by, now() from cases.alert_outcomes"
                " where transaction_id = :id"
            ),
            {"id": payments[0]},
        ).one()
    # Plain SQL cannot backdate a verdict: the database stamps the login and the moment.
    assert recorded_by.startswith("fraud_test_investigator_")
    assert now - timedelta(minutes=5) < recorded_at <= now


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("update cases.alert_outcomes set outcome = 'fraud_confirmed'", "permission denied"),
        ("delete from cases.alert_outcomes", "permission denied"),
        ("truncate cases.alert_outcomes", "permission denied"),
        ("select count(*) from raw.transactions", "permission denied"),
        ("select count(*) from raw.fraud_labels", "permission denied"),
        ("select count(*) from analytics.scored_transactions", "permission denied"),
        ("select count(*) from scoring.transaction_scores", "permission denied"),
        ("select * from cases.labels_as_of(now())", "permission denied"),
    ],
)
def test_an_investigator_may_do_nothing_else(
    investigator: Engine, statement: str, error: str
) -> None:
    with pytest.raises(sa.exc.DBAPIError, match=error), investigator.begin() as connection:
        connection.execute(sa.text(statement))


def test_an_investigator_reads_the_queue(investigator: Engine) -> None:
    with investigator.connect() as connection:
        assert connection.execute(sa.text("select count(*) from cases.alert_queue")).scalar() == 0


@pytest.mark.parametrize(
    ("transaction_id", "outcome", "decided_at", "error"),
    [
        (FIRST_ID - 1, "fraud_confirmed", _at(0.5), "unknown transaction"),
        (FIRST_ID + 1, "probably_fraud", _at(0.5), "alert_outcomes_outcome_check"),
        (FIRST_ID + 1, "fraud_confirmed", _at(-0.1), "is before the payment"),
        (FIRST_ID + 1, "fraud_confirmed", datetime.now(UTC) + DAY, "is in the future"),
    ],
)
def test_plain_sql_cannot_bypass_the_checks(
    investigator: Engine, transaction_id: int, outcome: str, decided_at: datetime, error: str
) -> None:
    with pytest.raises(sa.exc.DBAPIError, match=error):
        _record(investigator, transaction_id, outcome, decided_at)


def test_even_the_owner_cannot_change_a_stored_verdict(engine: Engine, payments: list[int]) -> None:
    _record(engine, payments[1], "fraud_confirmed", _at(0.4))
    for statement in (
        "update cases.alert_outcomes set outcome = 'genuine_confirmed' where transaction_id = :id",
        "delete from cases.alert_outcomes where transaction_id = :id",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append only"), engine.begin() as connection:
            connection.execute(sa.text(statement), {"id": payments[1]})


def test_labels_as_of_a_moment(engine: Engine, payments: list[int]) -> None:
    reported, corrected, late, unreachable = payments[2:6]
    # A verdict, then a chargeback that says otherwise: the report wins from when it is known.
    _record(engine, reported, "fraud_confirmed", _at(0.5), recorded_at=_at(0.6))
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into raw.fraud_labels (transaction_id, is_fraud, reported_at)"
                " values (:id, false, :at)"
            ),
            {"id": reported, "at": _at(8)},
        )
    # A correction is a new row; the latest known by the moment counts.
    _record(engine, corrected, "genuine_confirmed", _at(0.5))
    _record(engine, corrected, "fraud_confirmed", _at(2))
    # Decided early, recorded days later: unknown until recorded.
    _record(engine, late, "fraud_confirmed", _at(0.5), recorded_at=_at(5))
    _record(engine, unreachable, "unreachable", _at(0.5))

    assert _labels(engine, _at(0.55)) == {
        corrected: (False, "investigator", "genuine_confirmed"),
        unreachable: (None, "investigator", "unreachable"),
        payments[1]: (True, "investigator", "fraud_confirmed"),
    }
    at_three = _labels(engine, _at(3))
    assert at_three[reported] == (True, "investigator", "fraud_confirmed")
    assert at_three[corrected] == (True, "investigator", "fraud_confirmed")
    assert late not in at_three
    at_ten = _labels(engine, _at(10))
    assert at_ten[reported] == (False, "reported", "genuine_reported")
    assert at_ten[late] == (True, "investigator", "fraud_confirmed")


def test_analysts_read_the_labels_known_now(analyst: Engine, engine: Engine) -> None:
    with analyst.connect() as connection:
        seen = {
            int(row[0]): row[1]
            for row in connection.execute(
                sa.text("select transaction_id, source from analytics.labels")
            )
        }
    now = _labels(engine, datetime.now(UTC))
    assert seen == {transaction_id: label[1] for transaction_id, label in now.items()}


def _export(path: Path, *lines: str) -> Path:
    path.write_text("transaction_id,outcome,decided_by,decided_at,note\n" + "".join(lines))
    return path


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(sa.text("select count(*) from cases.alert_outcomes")).scalar()
        )


def test_a_file_with_a_bad_line_imports_nothing(
    engine: Engine, payments: list[int], tmp_path: Path
) -> None:
    path = _export(
        tmp_path / "day.csv",
        f"{payments[6]},fraud_confirmed,bo,2026-03-02T08:00:00+00:00,called\n",
        f"{FIRST_ID - 5},fraud_confirmed,bo,2026-03-02T08:00:00+00:00,\n",
    )
    before = _count(engine)
    with pytest.raises(VerdictImportError) as refused, engine.begin() as connection:
        import_verdicts(connection, path)
    assert f"{path}:3: transaction_id: unknown transaction" in str(refused.value)
    assert "1 of 2 lines refused, nothing imported" in str(refused.value)
    assert _count(engine) == before
    assert not rejects_path(path).exists()


def test_skip_bad_imports_the_rest_and_writes_the_rejects_beside_it(
    engine: Engine, payments: list[int], tmp_path: Path
) -> None:
    path = _export(
        tmp_path / "day.csv",
        f"{payments[7]},genuine_confirmed,bo,2026-03-02T08:00:00+01:00,\n",
        f"{payments[7]},genuine_confirmed,bo,2026-03-02T08:00:00+01:00,\n",
        f"{payments[7]},fraud_confirmed,bo,2026-02-01T08:00:00+00:00,\n",
    )
    before = _count(engine)
    with engine.begin() as connection:
        outcome = import_verdicts(connection, path, skip_bad=True)
    assert (outcome.read, outcome.imported, outcome.skipped_identical, outcome.rejected) == (
        3,
        1,
        0,
        2,
    )
    assert _count(engine) == before + 1
    rejects = rejects_path(path).read_text().splitlines()
    assert rejects[0] == "line,column,reason,transaction_id,outcome,decided_by,decided_at,note"
    assert [line.split(",")[:3] for line in rejects[1:]] == [
        ["3", "line", "repeats line 2"],
        ["4", "decided_at", "before the payment (2026-03-01T12:00:00+00:00)"],
    ]
    # The same export again: its good line is already stored, skipped and counted, not doubled.
    with engine.begin() as connection:
        again = import_verdicts(connection, path, skip_bad=True)
    assert (again.read, again.imported, again.skipped_identical, again.rejected) == (3, 0, 1, 2)
    assert _count(engine) == before + 1


GUIDE = Path(__file__).resolve().parents[3] / "docs" / "analysts.md"


def _guide_blocks() -> list[str]:
    text = GUIDE.read_text()
    start = text.index("## Recording verdicts")
    section = text[start : text.index("\n## ", start)]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def alerted_card(engine: Engine) -> list[int]:
    """Card 4711 alerted on 2026-03-01 (the guide's example): three payments, one alert."""
    ids = [FIRST_ID + 500 + offset for offset in range(3)]
    times = [_at(-2 / 24), _at(-1 / 24), _at(0.5 / 24)]
    with engine.begin() as connection:
        connection.execute(
            sa.text("select staging.ensure_day_partitions(:day)"), {"day": PAID_AT.date()}
        )
        for id_, at, alert in zip(ids, times, (False, True, False), strict=True):
            values = {"id": id_, "at": at, "alert": alert}
            connection.execute(
                sa.text(
                    "insert into raw.transactions (transaction_id, tx_datetime, customer_id,"
                    " terminal_id, tx_amount) values (:id, :at, 4711, 9, 40.00)"
                ),
                values,
            )
            connection.execute(
                sa.text(
                    "insert into scoring.transaction_scores (transaction_id, tx_datetime,"
                    " customer_id, terminal_id, tx_amount, score, model_name, model_version,"
                    " is_alert, run_id) values (:id, :at, 4711, 9, 40.00, 0.9, 'm', 1, :alert,"
                    " 'guide')"
                ),
                values,
            )
    return ids


def test_the_guides_sql_runs_as_an_investigator(
    investigator: Engine, alerted_card: list[int]
) -> None:
    blocks = _guide_blocks()
    assert len(blocks) == 5
    latest: list[dict[int, str | None]] = []
    for block in blocks:
        with investigator.begin() as connection:
            connection.execute(sa.text(block))
            latest.append(
                {
                    int(row[0]): row[1]
                    for row in connection.execute(
                        sa.text(
                            "select transaction_id, outcome from cases.alert_queue"
                            " where customer_id = 4711"
                        )
                    )
                }
            )
    first, second, third = alerted_card
    assert latest[1] == {first: None, second: None, third: None}
    assert latest[2] == {
        first: "genuine_confirmed",
        second: "fraud_confirmed",
        third: "fraud_confirmed",
    }
    assert latest[3] == dict.fromkeys(alerted_card, "genuine_confirmed")
