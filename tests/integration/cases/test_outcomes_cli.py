"""``fraud outcomes import`` and ``fraud simulate-investigators`` as an operator runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.cli import main
from tests.support.logins import member_login

pytestmark = pytest.mark.integration

FIRST_ID = 3_000_000_000_000
PAID_AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
HEADER = "transaction_id,outcome,decided_by,decided_at,note\n"


@pytest.fixture(scope="module")
def payments(engine: Engine) -> list[int]:
    ids = [FIRST_ID + offset for offset in range(3)]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into raw.transactions (transaction_id, tx_datetime, customer_id,"
                " terminal_id, tx_amount) values (:id, :at, 77, 7, 9.99)"
            ),
            [{"id": id_, "at": PAID_AT} for id_ in ids],
        )
    return ids


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        query = "select count(*) from cases.alert_outcomes where transaction_id >= :first"
        return int(connection.execute(sa.text(query), {"first": FIRST_ID}).scalar_one())


def test_a_bad_line_refuses_the_file_in_one_line_each(
    engine: Engine,
    payments: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    warehouse_url: str,
) -> None:
    export = tmp_path / "2026-05-02.csv"
    export.write_text(
        HEADER
        + f"{payments[0]},fraud_confirmed,ana,2026-05-02T08:00:00+00:00,\n"
        + f"{payments[1]},fraud,ana,2026-05-02T08:00:00+00:00,\n"
        + f"{payments[2]},genuine_confirmed,ana,2026-05-02,\n"
    )
    with member_login(warehouse_url, "fraud_investigator") as investigator:
        monkeypatch.setenv("FRAUD_INVESTIGATOR_DATABASE_URL", investigator)
        assert main(["outcomes", "import", str(export)]) == 1
    error = capsys.readouterr().err.splitlines()
    assert error[0].startswith(f"fraud: {export}: 2 of 3 lines refused, nothing imported")
    assert error[1:] == [
        f"{export}:3: outcome: 'fraud' is not one of fraud_confirmed, genuine_confirmed,"
        " unreachable",
        f"{export}:4: decided_at: '2026-05-02' has no UTC offset (e.g. +00:00)",
    ]
    assert _count(engine) == 0


def test_skip_bad_reports_read_as_imported_skipped_and_rejected(
    engine: Engine,
    payments: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    warehouse_url: str,
) -> None:
    export = tmp_path / "2026-05-03.csv"
    export.write_text(
        HEADER
        + f"{payments[0]},fraud_confirmed,ana,2026-05-02T08:00:00+00:00,\n"
        + f"{payments[1]},genuine_confirmed,ana,2026-05-02T08:00:00+00:00,\n"
        + f"{FIRST_ID - 1},genuine_confirmed,ana,2026-05-02T08:00:00+00:00,\n"
    )
    with member_login(warehouse_url, "fraud_investigator") as investigator:
        monkeypatch.setenv("FRAUD_INVESTIGATOR_DATABASE_URL", investigator)
        assert main(["outcomes", "import", str(export), "--skip-bad", "--json"]) == 0
        first = json.loads(capsys.readouterr().out)
        assert main(["outcomes", "import", str(export), "--skip-bad"]) == 0
        again = capsys.readouterr()
    counts = {key: first[key] for key in ("read", "imported", "skipped_identical", "rejected")}
    assert counts == {"read": 3, "imported": 2, "skipped_identical": 0, "rejected": 1}
    assert first["rejects_file"] == str(tmp_path / "2026-05-03.rejects.csv")
    assert again.out.strip() == (
        f"{export}: read 3 lines: imported 0, skipped 2 already stored, rejected 1"
        f" (written to {tmp_path / '2026-05-03.rejects.csv'})"
    )
    assert again.err.strip() == f"{export}:4: transaction_id: unknown transaction"
    assert _count(engine) == 2


def test_the_simulated_investigators_report_their_morning(
    engine: Engine, payments: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate-investigators", "--date", "2026-05-01", "--json"]) == 0
    morning = json.loads(capsys.readouterr().out)
    assert morning["night"] == "2026-05-01"
    assert morning["decided_at"] == "2026-05-02T10:00:00+00:00"
    # Nothing was scored that night: an empty queue, nothing recorded.
    assert (morning["cards_in_queue"], morning["verdicts_recorded"]) == (0, 0)
