"""The ``fraud`` command against the session's real warehouse."""

from __future__ import annotations

import json

import pytest

from fraud.cli import main
from tests.support.logins import member_login

pytestmark = pytest.mark.integration


def test_migrate_is_idempotent(warehouse_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "migrate"]) == 0
    assert "applied 0 migration(s)" in capsys.readouterr().out


def test_migrate_stores_the_settings_retention_minimum(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fraud.db import create_warehouse_engine
    from fraud.partitions import retention_minimum

    engine = create_warehouse_engine(warehouse_url, pool_size=1)
    try:
        for maturities, minimum in (("7,14,60", 61), ("7,14,30", 31)):
            monkeypatch.setenv("FRAUD_PERFORMANCE_MATURITY_DAYS", maturities)
            assert main(["db", "migrate"]) == 0
            with engine.connect() as connection:
                assert retention_minimum(connection) == minimum
    finally:
        engine.dispose()


def test_simulate_appends_after_existing_ids(
    warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["simulate", "--customers", "20", "--terminals", "40", "--days", "3"]
    assert main([*arguments, "--start-date", "2025-06-01"]) == 0
    assert main([*arguments, "--start-date", "2025-06-04", "--seed", "5"]) == 0
    output = capsys.readouterr().out
    assert output.count("wrote ") == 2
    assert "from 2025-06-04 for 3 days" in output


def test_simulate_shows_its_progress_on_stderr(
    warehouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["simulate", "--customers", "20", "--terminals", "40", "--days", "20"]
    assert main([*arguments, "--start-date", "2024-01-01"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("simulated ")] == [
        f"{day}/20" for day in range(2, 21, 2)
    ]
    assert [line.split(" in ")[0].split()[-1] for line in lines if line.startswith("copied ")] == [
        "raw.transactions",
        "raw.fraud_labels",
    ]
    assert all(line.endswith(" s") for line in lines)
    assert captured.out.startswith("wrote ") and captured.out.count("\n") == 1


def test_status_reports_rows(warehouse_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["rows"]["raw.transactions"] > 0
    assert set(status) >= {"champion", "rows"}


def test_status_says_which_role_each_part_connects_as(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        member_login(warehouse_url, "fraud_pipeline") as pipeline,
        member_login(warehouse_url, "fraud_analyst") as analyst,
    ):
        monkeypatch.setenv("FRAUD_DATABASE_URL", pipeline)
        monkeypatch.setenv("FRAUD_ANALYST_DATABASE_URL", analyst)
        monkeypatch.delenv("FRAUD_OWNER_DATABASE_URL", raising=False)
        assert main(["status", "--json"]) == 0
    roles = json.loads(capsys.readouterr().out)["connects_as"]
    assert roles["nightly tasks (FRAUD_DATABASE_URL)"].endswith("(member of fraud_pipeline)")
    assert roles["monitoring page (FRAUD_ANALYST_DATABASE_URL)"].endswith(
        "(member of fraud_analyst)"
    )
    assert roles["migrations (FRAUD_OWNER_DATABASE_URL)"] == "not in this environment"


def test_logins_need_their_passwords(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FRAUD_PIPELINE_DB_PASSWORD", raising=False)
    monkeypatch.setenv("FRAUD_ANALYST_DB_PASSWORD", "x")
    monkeypatch.setenv("FRAUD_INVESTIGATOR_DB_PASSWORD", "x")
    assert main(["db", "logins"]) == 2
    assert "FRAUD_PIPELINE_DB_PASSWORD not set" in capsys.readouterr().err


def test_a_pipeline_login_cannot_migrate(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with member_login(warehouse_url, "fraud_pipeline") as pipeline:
        monkeypatch.setenv("FRAUD_DATABASE_URL", pipeline)
        monkeypatch.delenv("FRAUD_OWNER_DATABASE_URL", raising=False)
        assert main(["db", "migrate"]) == 2
    error = capsys.readouterr().err
    assert "permission denied" in error and len(error.strip().splitlines()) == 1


def test_unreachable_database_is_one_masked_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRAUD_DATABASE_URL", "postgresql://fraud:hunter2@127.0.0.1:9/fraud")
    assert main(["db", "migrate"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "hunter2" not in error
    assert "127.0.0.1:9" in error
