"""The quality gate against a real warehouse: every bad input that can exist in ``raw.*``.

Cases that cannot reach ``raw.*`` are kept in the frame-level catalog of
``tests/unit/test_validate.py``: a null amount or time, an infinite amount and text in a numeric
column are refused by the column types; a duplicate id within a batch by the primary key; a
missing, unexpected or retyped column by the extract, which names and types its columns itself.
Timestamps outside the interval cannot be in the interval's batch: they are left to their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import copy_frame
from fraud.cli import main
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.nightly import build_share_features
from fraud.gates import GateConfig
from fraud.model.alert_policy import AlertPolicy
from fraud.model.registry import RegisteredModel
from fraud.quality.checks import QUARANTINE_SHARE, check_frame
from fraud.quality.extract import TRANSACTION_COLUMNS
from fraud.quality.quarantine import quarantine_records, write_quarantine
from fraud.quality.validate import BatchValidationError, ValidationOutcome, validate_interval
from fraud.scoring.score import score_day, score_share
from fraud.shares import WHOLE

pytestmark = pytest.mark.integration

DAY = datetime(2031, 3, 10, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)
ROWS = 40
HISTORY_DAYS = 8
GATE = GateConfig()
RUN = "scheduled__2031-03-10T00:00:00+00:00"
INJECTION = "'); drop table raw.transactions; -- é/端末"

AMOUNT_NOT_NULL = "transactions.expect_column_values_to_not_be_null(tx_amount)"
AMOUNT_RANGE = "transactions.expect_column_values_to_be_between(tx_amount)"
ID_NOT_KNOWN = "transactions.expect_column_values_to_not_be_in_set(transaction_id)"
ID_POSITIVE = "transactions.expect_column_values_to_be_between(transaction_id)"
CUSTOMER_POSITIVE = "transactions.expect_column_values_to_be_between(customer_id)"
TERMINAL_POSITIVE = "transactions.expect_column_values_to_be_between(terminal_id)"
VOLUME = "transactions_volume.expect_table_row_count_to_be_between"
CHANNEL_DOMAIN = "transactions.expect_column_values_to_be_in_set(channel)"
CATEGORY_FORMAT = "transactions.expect_column_values_to_match_regex(merchant_category)"
COUNTRY_CODE = "transactions.expect_column_values_to_be_in_set(merchant_country)"
CURRENCY_CODE = "transactions.expect_column_values_to_be_in_set(currency)"
ORIGINAL_AMOUNT_RANGE = "transactions.expect_column_values_to_be_between(original_amount)"
BANK_COLUMNS_NULL = (
    "update raw.transactions set channel = null, merchant_category = null,"
    " merchant_country = null, currency = null, original_amount = null"
)
LABEL_UNKNOWN = "fraud_labels.expect_column_values_to_not_be_null(transaction_tx_datetime)"
LABEL_BEFORE = (
    "fraud_labels.expect_column_pair_values_a_to_be_greater_than_b"
    "(reported_at,transaction_tx_datetime)"
)

EMPTY_DAY = "delete from raw.transactions where tx_datetime >= :day"
SPIKE = (
    "insert into raw.transactions (transaction_id, tx_datetime, customer_id, terminal_id,"
    " tx_amount) select 10000 + n, :day + n * interval '3 minutes', 1, 1, 10"
    " from generate_series(1, 360) as n"
)


def set_value(column: str, value: str, transaction_id: int = 4) -> str:
    """SQL changing one column of one raw row."""
    return (
        f"update raw.transactions set {column} = '{value}' where transaction_id = {transaction_id}"
    )


@dataclass(frozen=True)
class RawCase:
    """A change to the seeded raw rows and what the gate must do about it."""

    change: str  # SQL run after seeding, with :day bound; empty for none
    expectation: str | None = None  # None: a clean pass
    quarantined_ids: tuple[int, ...] = ()  # empty with an expectation: a stopped run
    observed: str | None = None  # text the batch failure must quote
    history_days: int = HISTORY_DAYS

    @property
    def batch(self) -> bool:
        """True when the case must stop the run."""
        return self.expectation is not None and not self.quarantined_ids


CATALOG: dict[str, RawCase] = {
    "clean batch": RawCase(""),
    "interval start is inside": RawCase(set_value("tx_datetime", DAY.isoformat())),
    "negative amount": RawCase(set_value("tx_amount", "-5.00"), AMOUNT_RANGE, (4,)),
    "zero amount": RawCase(set_value("tx_amount", "0.00"), AMOUNT_RANGE, (4,)),
    "absurd amount": RawCase(set_value("tx_amount", "9999999999.99"), AMOUNT_RANGE, (4,)),
    "amount at the ceiling": RawCase(set_value("tx_amount", "100000.00"), AMOUNT_RANGE, (4,)),
    "NaN amount": RawCase(set_value("tx_amount", "NaN"), AMOUNT_NOT_NULL, (4,)),
    "zero transaction id": RawCase(set_value("transaction_id", "0"), ID_POSITIVE, (0,)),
    "negative transaction id": RawCase(set_value("transaction_id", "-4"), ID_POSITIVE, (-4,)),
    "negative customer id": RawCase(set_value("customer_id", "-1"), CUSTOMER_POSITIVE, (4,)),
    "zero terminal id": RawCase(set_value("terminal_id", "0"), TERMINAL_POSITIVE, (4,)),
    "empty day": RawCase(EMPTY_DAY, VOLUME, observed="0"),
    "tenfold volume spike": RawCase(SPIKE, VOLUME, observed="400"),
    "collapsed volume": RawCase(f"{EMPTY_DAY} and transaction_id > 10", VOLUME, observed="10"),
    "empty day without enough history": RawCase(EMPTY_DAY, history_days=6),
    "spike without enough history": RawCase(SPIKE, history_days=6),
    "a bank without the bank columns": RawCase(BANK_COLUMNS_NULL),
    "unknown channel": RawCase(set_value("channel", "mail_order"), CHANNEL_DOMAIN, (4,)),
    "empty channel": RawCase(set_value("channel", ""), CHANNEL_DOMAIN, (4,)),
    "category without its leading zero": RawCase(
        set_value("merchant_category", "742"), CATEGORY_FORMAT, (4,)
    ),
    "category with a newline": RawCase(
        "update raw.transactions set merchant_category = E'5411\\n' where transaction_id = 4",
        CATEGORY_FORMAT,
        (4,),
    ),
    "country in lower case": RawCase(set_value("merchant_country", "fr"), COUNTRY_CODE, (4,)),
    "country as alpha-3": RawCase(set_value("merchant_country", "FRA"), COUNTRY_CODE, (4,)),
    "testing currency": RawCase(set_value("currency", "XTS"), CURRENCY_CODE, (4,)),
    "negative original amount": RawCase(
        set_value("original_amount", "-12.50"), ORIGINAL_AMOUNT_RANGE, (4,)
    ),
    "NaN original amount": RawCase(
        set_value("original_amount", "NaN"), ORIGINAL_AMOUNT_RANGE, (4,)
    ),
    "too many rows failing": RawCase(
        "update raw.transactions set tx_amount = -1 where transaction_id in (2, 3, 4)",
        QUARANTINE_SHARE,
        observed="3 of 40 rows",
    ),
}


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Great Expectations project for the module: opening one is the slow part."""
    return tmp_path_factory.mktemp("validation-artifacts")


@pytest.fixture(autouse=True)
def empty_tables(engine: Engine) -> None:
    """Every test starts from empty tables; the module owns its warehouse."""
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "truncate raw.transactions, raw.fraud_labels, staging.transactions,"
            " staging.transaction_features, scoring.transaction_scores, scoring.scored_day,"
            " quality.quarantine, quality.validation_run restart identity"
        )


def day_frame(day: datetime, first_id: int, rows: int = ROWS) -> pd.DataFrame:
    """Clean raw rows spread over one day, amounts as exact decimal text."""
    return pd.DataFrame(
        {
            "transaction_id": range(first_id, first_id + rows),
            "tx_datetime": [
                (day + timedelta(seconds=30 + i * 2_150)).isoformat() for i in range(rows)
            ],
            "customer_id": [100 + i % 7 for i in range(rows)],
            "terminal_id": [500 + i % 11 for i in range(rows)],
            "tx_amount": [f"{10 + i}.25" for i in range(rows)],
            # The bank columns, null on every fifth row as a feed without them would leave them.
            "channel": _sometimes_null(["contactless", "ecommerce", "card_present", "atm"], rows),
            "merchant_category": _sometimes_null(["5411", "0742", "6011"], rows),
            "merchant_country": _sometimes_null(["BE", "GB", "BE"], rows),
            "currency": _sometimes_null(["EUR", "GBP", "EUR"], rows),
            "original_amount": _sometimes_null([f"{10 + i}.25" for i in range(rows)], rows),
        }
    )


def _sometimes_null(values: list[str], rows: int) -> list[str | None]:
    """The values in turn, null on every fifth row."""
    return [None if i % 5 == 2 else values[i % len(values)] for i in range(rows)]


def seed(engine: Engine, change: str = "", history_days: int = HISTORY_DAYS) -> None:
    """Write the day (ids 1 to 40) and its history days (ids from 101), then apply a change."""
    with engine.begin() as connection:
        for days_before in range(1, history_days + 1):
            history_day = DAY - timedelta(days=days_before)
            copy_frame(
                connection, day_frame(history_day, days_before * 100 + 1), "raw.transactions"
            )
        copy_frame(connection, day_frame(DAY, 1), "raw.transactions")
        if change:
            connection.execute(sa.text(change), {"day": DAY})


def execute(engine: Engine, statement: str, **params: Any) -> None:
    """Run one statement in its own transaction."""
    with engine.begin() as connection:
        connection.execute(sa.text(statement), params)


def validate(
    engine: Engine,
    artifact_dir: Path,
    run_id: str = RUN,
    day: datetime = DAY,
    gate: GateConfig = GATE,
) -> ValidationOutcome:
    """Validate one day, as the DAG task does."""
    return validate_interval(
        engine,
        interval_start=day,
        interval_end=day + timedelta(days=1),
        run_id=run_id,
        gate=gate,
        artifact_dir=artifact_dir,
    )


def rows(engine: Engine, query: str, **params: Any) -> list[Any]:
    """All rows of a query."""
    with engine.connect() as connection:
        return list(connection.execute(sa.text(query), params))


def raw_count(engine: Engine, day: datetime = DAY) -> int:
    """Raw transactions in the day."""
    query = "select count(*) from raw.transactions where tx_datetime >= :day and tx_datetime < :end"
    return rows(engine, query, day=day, end=day + timedelta(days=1))[0][0]


def staged_ids(engine: Engine, day: datetime = DAY) -> list[int]:
    """Ids in staging for the day."""
    query = (
        "select transaction_id from staging.transactions"
        " where tx_datetime >= :day and tx_datetime < :end order by transaction_id"
    )
    return [row[0] for row in rows(engine, query, day=day, end=day + timedelta(days=1))]


def open_quarantine(engine: Engine, day: datetime = DAY) -> list[Any]:
    """The open quarantine rows of the day's interval, in the order they were written."""
    query = (
        "select transaction_id, tx_datetime, source_row, failed_expectations, run_id"
        " from quality.quarantine where data_interval_start = :day and resolved_at is null"
        " order by quarantine_id"
    )
    return rows(engine, query, day=day)


def ledger(engine: Engine, run_id: str = RUN) -> Any:
    """The run's row in quality.validation_run."""
    query = (
        "select status, extracted_count, validated_count, quarantined_count, failures,"
        " data_docs_path from quality.validation_run where run_id = :run_id"
    )
    (row,) = rows(engine, query, run_id=run_id)
    return row


def raw_row(engine: Engine, transaction_id: int) -> dict[str, Any]:
    """A raw transaction as the quarantine must keep it: exact amount text, UTC ISO time."""
    query = (
        f"select {', '.join(TRANSACTION_COLUMNS)} from raw.transactions where transaction_id = :id"
    )
    (row,) = rows(engine, query, id=transaction_id)
    original = row.original_amount
    return {
        **row._asdict(),
        "tx_datetime": row.tx_datetime.astimezone(UTC).isoformat(),
        "tx_amount": str(row.tx_amount),
        "original_amount": None if original is None else str(original),
    }


def assert_accounted(engine: Engine, outcome: ValidationOutcome, run_id: str = RUN) -> None:
    """The ledger row matches the outcome, the raw rows and extracted = validated + quarantined."""
    row = ledger(engine, run_id)
    counts = (row.extracted_count, row.validated_count, row.quarantined_count)
    assert row.status == outcome.status == "passed"
    assert counts == (outcome.extracted_count, outcome.validated_count, outcome.quarantined_count)
    assert row.extracted_count == raw_count(engine) == row.validated_count + row.quarantined_count


@pytest.mark.parametrize("case", CATALOG.values(), ids=CATALOG.keys())
def test_bad_input_catalog(case: RawCase, engine: Engine, artifact_dir: Path) -> None:
    seed(engine, case.change, case.history_days)
    extracted = raw_count(engine)

    if case.batch:
        with pytest.raises(BatchValidationError) as raised:
            validate(engine, artifact_dir)
        failure = next(item for item in raised.value.outcome.failures if item.level == "batch")
        assert (failure.expectation, case.observed in failure.observed) == (case.expectation, True)
        assert case.expectation in str(raised.value) and case.observed in str(raised.value)
        # Nothing goes downstream for a failed batch; every extracted row is held in
        # quarantine, verbatim, under the batch expectation that stopped it.
        assert staged_ids(engine) == []
        held = open_quarantine(engine)
        assert len(held) == extracted
        for item in held:
            assert case.expectation in item.failed_expectations
            assert item.source_row == raw_row(engine, item.transaction_id)
        row = ledger(engine)
        assert (row.status, row.extracted_count) == ("failed", extracted)
        assert (row.validated_count, row.quarantined_count) == (0, extracted)
        assert row.extracted_count == row.validated_count + row.quarantined_count
        assert {"expectation": case.expectation, "observed": failure.observed}.items() <= next(
            item for item in row.failures if item["level"] == "batch"
        ).items()
        return

    outcome = validate(engine, artifact_dir)

    quarantined = open_quarantine(engine)
    assert [row.transaction_id for row in quarantined] == list(case.quarantined_ids)
    for row in quarantined:
        assert case.expectation in row.failed_expectations and row.run_id == RUN
        assert row.source_row == raw_row(engine, row.transaction_id)
    day_ids = {
        row[0]
        for row in rows(
            engine, "select transaction_id from raw.transactions where tx_datetime >= :day", day=DAY
        )
    }
    assert staged_ids(engine) == sorted(day_ids - set(case.quarantined_ids))
    assert_accounted(engine, outcome)


LABEL_CASES = {
    "label for an unknown transaction": (
        "insert into raw.fraud_labels values (999999, true, :day + interval '2 hours')",
        999999,
        None,
        LABEL_UNKNOWN,
    ),
    "label reported before its transaction": (
        "insert into raw.transactions values (5000, :day + interval '36 hours', 1, 1, 20.00);"
        " insert into raw.fraud_labels values (5000, true, :day + interval '2 hours')",
        5000,
        NEXT_DAY + timedelta(hours=12),
        LABEL_BEFORE,
    ),
    "label reported after its transaction": (
        "insert into raw.fraud_labels values (1, true, :day + interval '3 hours')",
        None,
        None,
        None,
    ),
}


@pytest.mark.parametrize(
    ("change", "transaction_id", "tx_datetime", "expectation"),
    LABEL_CASES.values(),
    ids=LABEL_CASES.keys(),
)
def test_label_catalog(
    change: str,
    transaction_id: int | None,
    tx_datetime: datetime | None,
    expectation: str | None,
    engine: Engine,
    artifact_dir: Path,
) -> None:
    seed(engine, change)

    outcome = validate(engine, artifact_dir)

    quarantined = open_quarantine(engine)
    if expectation is None:
        assert quarantined == []
    else:
        (row,) = quarantined
        assert (row.transaction_id, row.tx_datetime, row.failed_expectations) == (
            transaction_id,
            tx_datetime,
            [expectation],
        )
        (label,) = rows(engine, "select * from raw.fraud_labels")
        assert row.source_row == {
            "transaction_id": label.transaction_id,
            "is_fraud": label.is_fraud,
            "reported_at": label.reported_at.astimezone(UTC).isoformat(),
        }
    assert [failure.expectation for failure in outcome.failures] == (
        [expectation] if expectation else []
    )
    assert staged_ids(engine) == list(range(1, ROWS + 1))
    assert_accounted(engine, outcome)


def test_a_row_validated_on_an_earlier_day_is_quarantined(
    engine: Engine, artifact_dir: Path
) -> None:
    seed(engine)
    validate(engine, artifact_dir, run_id="earlier", day=DAY - timedelta(days=1))
    moved = DAY + timedelta(hours=5)
    execute(
        engine,
        "update raw.transactions set tx_datetime = :moved where transaction_id = 101",
        moved=moved,
    )

    outcome = validate(engine, artifact_dir)

    (row,) = open_quarantine(engine)
    assert (row.transaction_id, row.failed_expectations) == (101, [ID_NOT_KNOWN])
    assert (
        row.source_row == raw_row(engine, 101)
        and row.source_row["tx_datetime"] == moved.isoformat()
    )
    assert 101 in staged_ids(engine, DAY - timedelta(days=1)) and 101 not in staged_ids(engine)
    assert_accounted(engine, outcome)


def test_timestamps_outside_the_interval_are_left_to_their_own(
    engine: Engine, artifact_dir: Path
) -> None:
    seed(engine)
    outside = {
        9001: DAY - timedelta(microseconds=1),
        9002: NEXT_DAY,
        9003: datetime(2099, 1, 1, tzinfo=UTC),
    }
    for transaction_id, moment in outside.items():
        execute(
            engine,
            "insert into raw.transactions values (:id, :moment, 1, 1, 10.00)",
            id=transaction_id,
            moment=moment,
        )

    outcome = validate(engine, artifact_dir)
    following = validate(
        engine,
        artifact_dir,
        run_id="following",
        day=NEXT_DAY,
        gate=GateConfig(min_volume_history_days=99),
    )

    assert outcome.extracted_count == ROWS and staged_ids(engine) == list(range(1, ROWS + 1))
    assert open_quarantine(engine) == []
    assert (following.extracted_count, staged_ids(engine, NEXT_DAY)) == (1, [9002])
    assert_accounted(engine, outcome)


def test_replay_after_correcting_a_raw_row(engine: Engine, artifact_dir: Path) -> None:
    seed(engine, set_value("tx_amount", "-5.00"))
    validate(engine, artifact_dir, run_id="first")
    execute(engine, "update raw.transactions set tx_amount = 12.00 where transaction_id = 4")

    outcome = validate(engine, artifact_dir, run_id="replay")

    assert open_quarantine(engine) == []
    (closed,) = rows(
        engine,
        "select transaction_id, run_id, resolved_at is not null as resolved, resolved_by_run_id,"
        " source_row ->> 'tx_amount' as amount from quality.quarantine",
    )
    assert tuple(closed) == (4, "first", True, "replay", "-5.00")
    (staged,) = rows(
        engine, "select tx_amount, run_id from staging.transactions where transaction_id = 4"
    )
    assert (str(staged.tx_amount), staged.run_id) == ("12.00", "replay")
    assert staged_ids(engine) == list(range(1, ROWS + 1))
    assert (outcome.validated_count, outcome.quarantined_count) == (ROWS, 0)
    assert_accounted(engine, outcome, "replay")


def derived_ids(engine: Engine, table: str) -> list[int]:
    """Ids of the day's rows in a derived table, a score once per generation."""
    query = (
        f"select transaction_id from {table}"
        " where tx_datetime >= :day and tx_datetime < :end order by transaction_id"
    )
    return [row[0] for row in rows(engine, query, day=DAY, end=NEXT_DAY)]


def score_the_day(engine: Engine) -> None:
    """Features and published scores of the staged day, then a replay's unpublished share."""
    window = {"interval_start": DAY, "interval_end": NEXT_DAY}
    build_share_features(
        engine, **window, run_id="features", label_delay_days=3, share=WHOLE, chunk_rows=1_000
    )
    names = list(FEATURE_COLUMNS)
    training = pd.DataFrame(
        [[(row + column) % 5 for column in range(len(names))] for row in range(ROWS)], columns=names
    )
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "min_data_in_leaf": 1, "num_threads": 1},
        lgb.Dataset(training, [row % 2 for row in range(ROWS)]),
        5,
    )
    model = RegisteredModel("quarantine-test", 1, "run", booster)
    score_day(engine, model, **window, run_id="scores", policy=AlertPolicy(capacity=3))
    score_share(engine, model, **window, run_id="unpublished")


def test_a_replay_that_quarantines_a_scored_row_removes_its_features_and_scores(
    engine: Engine, artifact_dir: Path
) -> None:
    seed(engine)
    validate(engine, artifact_dir, run_id="first")
    score_the_day(engine)
    assert derived_ids(engine, "scoring.transaction_scores") == sorted(2 * list(range(1, ROWS + 1)))
    execute(engine, set_value("tx_amount", "-5.00"))

    outcome = validate(engine, artifact_dir, run_id="replay")

    kept = [transaction_id for transaction_id in range(1, ROWS + 1) if transaction_id != 4]
    assert [row.transaction_id for row in open_quarantine(engine)] == [4]
    assert derived_ids(engine, "staging.transaction_features") == kept
    assert derived_ids(engine, "scoring.transaction_scores") == sorted(2 * kept)
    shown = rows(
        engine,
        "select transaction_id from analytics.scored_transactions where tx_date = :day"
        " order by transaction_id",
        day=DAY.date(),
    )
    assert [row.transaction_id for row in shown] == kept
    assert_accounted(engine, outcome, "replay")


def test_rerunning_a_date_is_idempotent(engine: Engine, artifact_dir: Path) -> None:
    seed(engine, set_value("tx_amount", "-5.00"))
    staged_query = (
        "select transaction_id, tx_datetime, customer_id, terminal_id, tx_amount"
        " from staging.transactions order by transaction_id"
    )
    validate(engine, artifact_dir, run_id="first")
    first_staged, first_open = rows(engine, staged_query), open_quarantine(engine)

    outcome = validate(engine, artifact_dir, run_id="again")

    assert rows(engine, staged_query) == first_staged and len(first_staged) == ROWS - 1
    again_open = open_quarantine(engine)
    assert [row[:4] for row in again_open] == [row[:4] for row in first_open]
    assert {row.run_id for row in again_open} == {"again"}
    resolved = rows(
        engine,
        "select run_id, resolved_by_run_id from quality.quarantine where resolved_at is not null",
    )
    assert [tuple(row) for row in resolved] == [("first", "again")]
    assert_accounted(engine, outcome, "again")


def test_text_is_stored_verbatim_and_never_executed(engine: Engine, artifact_dir: Path) -> None:
    seed(engine, set_value("tx_amount", "-5.00"))

    outcome = validate(engine, artifact_dir, run_id=INJECTION)
    frame = day_frame(NEXT_DAY, 1, rows=3).astype({"tx_amount": "object"})
    frame["tx_datetime"] = pd.to_datetime(frame["tx_datetime"]).astype("datetime64[ns, UTC]")
    frame.loc[1, "tx_amount"] = f"12.50{INJECTION}"
    check = check_frame(
        frame,
        interval_start=NEXT_DAY,
        interval_end=NEXT_DAY + timedelta(days=1),
        known_ids=frozenset(),
        volume_history=(),
        gate=GateConfig(max_quarantine_fraction=1.0),
        context_dir=artifact_dir / "gx",
        build_docs=False,
    )
    records = quarantine_records(frame, check.row_failures, TRANSACTION_COLUMNS, "tx_datetime")
    with engine.begin() as connection:
        write_quarantine(
            connection,
            records,
            run_id=INJECTION,
            interval_start=NEXT_DAY,
            interval_end=NEXT_DAY + timedelta(days=1),
        )

    assert rows(engine, "select to_regclass('raw.transactions') is not null")[0][0]
    assert raw_count(engine) == ROWS
    assert {row[0] for row in rows(engine, "select distinct run_id from staging.transactions")} == {
        INJECTION
    }
    (text_row,) = open_quarantine(engine, NEXT_DAY)
    assert text_row.source_row["tx_amount"] == f"12.50{INJECTION}"
    assert text_row.failed_expectations == [AMOUNT_NOT_NULL] and text_row.run_id == INJECTION
    (amount_row,) = open_quarantine(engine)
    assert amount_row.source_row == raw_row(engine, 4) and amount_row.run_id == INJECTION
    assert_accounted(engine, outcome, INJECTION)


def test_data_docs_path_is_an_existing_absolute_index(engine: Engine, artifact_dir: Path) -> None:
    seed(engine, set_value("tx_amount", "-5.00"))

    outcome = validate(engine, artifact_dir)
    execute(engine, EMPTY_DAY, day=DAY)
    with pytest.raises(BatchValidationError) as raised:
        validate(engine, artifact_dir, run_id="failed")

    for path, run_id in (
        (outcome.data_docs_path, RUN),
        (raised.value.outcome.data_docs_path, "failed"),
    ):
        assert path is not None and Path(path).is_absolute() and Path(path).name == "index.html"
        assert Path(path).is_file() and ledger(engine, run_id).data_docs_path == path


CLI_DATE = DAY.date().isoformat()


def test_cli_validate_passes_a_batch_with_quarantined_rows(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine, set_value("tx_amount", "-5.00"))

    status = main(["validate", "--date", CLI_DATE])

    out = capsys.readouterr().out
    assert status == 0
    for line in ("status: passed", "extracted: 40", "validated: 39", "quarantined: 1"):
        assert line in out.splitlines()
    assert f"failed (row): {AMOUNT_RANGE}: 1 of 40 rows failed" in out.splitlines()


def test_cli_validate_fails_a_stopped_batch(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine, EMPTY_DAY)

    status = main(["validate", "--date", CLI_DATE])

    captured = capsys.readouterr()
    assert status != 0
    assert "status: failed" in captured.out.splitlines() and "extracted: 0" in captured.out
    assert f"failed (batch): {VOLUME} failed: observed 0" in captured.out
    assert "batch failed" in captured.err and VOLUME in captured.err


@pytest.mark.parametrize(
    ("change", "exit_status", "status", "expectation"),
    [
        (set_value("tx_amount", "-5.00"), 0, "passed", AMOUNT_RANGE),
        (EMPTY_DAY, 1, "failed", VOLUME),
    ],
    ids=["passed", "failed"],
)
def test_cli_validate_json(
    change: str,
    exit_status: int,
    status: str,
    expectation: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(engine, change)

    code = main(["validate", "--date", CLI_DATE, "--json"])

    summary = json.loads(capsys.readouterr().out)
    assert (code, summary["status"], summary["run_id"]) == (exit_status, status, f"cli__{CLI_DATE}")
    assert summary["extracted_count"] == summary["validated_count"] + summary["quarantined_count"]
    assert [failure["expectation"] for failure in summary["failures"]] == [expectation]
    assert Path(summary["data_docs_path"]).is_file()


def test_bank_columns_reach_staging_as_they_were(engine: Engine, artifact_dir: Path) -> None:
    seed(engine)
    execute(
        engine,
        "update raw.transactions set channel = :text where transaction_id = 4",
        text=INJECTION,
    )

    validate(engine, artifact_dir)

    columns = ", ".join(TRANSACTION_COLUMNS)
    day = {"day": DAY, "end": NEXT_DAY}
    where = "where tx_datetime >= :day and tx_datetime < :end and transaction_id <> 4"
    raw = rows(engine, f"select {columns} from raw.transactions {where} order by 1", **day)
    staged = rows(engine, f"select {columns} from staging.transactions {where} order by 1", **day)
    assert staged == raw and len(staged) == ROWS - 1
    assert {row.channel for row in staged} == {
        "contactless",
        "ecommerce",
        "card_present",
        "atm",
        None,
    }
    assert {row.merchant_category for row in staged} == {"5411", "0742", "6011", None}
    (held,) = open_quarantine(engine)
    assert held.failed_expectations == [CHANNEL_DOMAIN]
    assert held.source_row["channel"] == INJECTION and held.source_row == raw_row(engine, 4)
