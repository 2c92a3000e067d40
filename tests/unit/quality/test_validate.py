"""The quality gate on tiny frames: which bad inputs are quarantined and which stop the run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from fraud import payments
from fraud.quality.checks import (
    QUARANTINE_SHARE,
    CheckResult,
    GateConfig,
    check_frame,
    check_labels,
    volume_band,
)
from fraud.quality.quarantine import source_rows
from fraud.quality.suites import ExpectationFailure, load_suites
from fraud.quality.validate import BatchValidationError, ValidationOutcome

START = datetime(2026, 3, 2, tzinfo=UTC)
END = START + timedelta(days=1)
ROWS = 40
HISTORY = [ROWS] * 28
GATE = GateConfig()

AMOUNT_NOT_NULL = "transactions.expect_column_values_to_not_be_null(tx_amount)"
AMOUNT_RANGE = "transactions.expect_column_values_to_be_between(tx_amount)"
TIME_NOT_NULL = "transactions.expect_column_values_to_not_be_null(tx_datetime)"
TIME_RANGE = "transactions.expect_column_values_to_be_between(tx_datetime)"
ID_UNIQUE = "transactions.expect_column_values_to_be_unique(transaction_id)"
ID_NOT_KNOWN = "transactions.expect_column_values_to_not_be_in_set(transaction_id)"
ID_POSITIVE = "transactions.expect_column_values_to_be_between(transaction_id)"
CUSTOMER_POSITIVE = "transactions.expect_column_values_to_be_between(customer_id)"
TERMINAL_POSITIVE = "transactions.expect_column_values_to_be_between(terminal_id)"
VOLUME = "transactions_volume.expect_table_row_count_to_be_between"
COLUMNS = "transactions_schema.expect_table_columns_to_match_set"
CHANNEL_DOMAIN = "transactions.expect_column_values_to_be_in_set(channel)"
CATEGORY_FORMAT = "transactions.expect_column_values_to_match_regex(merchant_category)"
COUNTRY_CODE = "transactions.expect_column_values_to_be_in_set(merchant_country)"
CURRENCY_CODE = "transactions.expect_column_values_to_be_in_set(currency)"
ORIGINAL_AMOUNT_RANGE = "transactions.expect_column_values_to_be_between(original_amount)"
# A bank column is null on every fourth row: nulls pass every check.
CHANNELS = ("card_present", "contactless", "ecommerce", "atm")
CATEGORIES = ("5411", "0742", "6011")
COUNTRIES = ("BE", "FR", "GB")
CURRENCIES = ("EUR", "EUR", "GBP")


def type_of(column: str) -> str:
    """Name of the schema suite's dtype expectation for a column."""
    return f"transactions_schema.expect_column_type_to_be({column})"


def clean_frame(rows: int = ROWS) -> pd.DataFrame:
    """A valid interval: positive ids, times spread over the day, exact decimal amounts."""
    return pd.DataFrame(
        {
            "transaction_id": pd.Series(range(1, rows + 1), dtype="int64"),
            "tx_datetime": pd.Series(
                [START + timedelta(seconds=i * 86_399 // max(rows, 1)) for i in range(rows)],
                dtype="datetime64[ns, UTC]",
            ),
            "customer_id": pd.Series([100 + i % 7 for i in range(rows)], dtype="int64"),
            "terminal_id": pd.Series([500 + i % 11 for i in range(rows)], dtype="int64"),
            "tx_amount": pd.Series([Decimal(f"{10 + i}.25") for i in range(rows)], dtype="object"),
            "channel": _sometimes_null(CHANNELS, rows),
            "merchant_category": _sometimes_null(CATEGORIES, rows),
            "merchant_country": _sometimes_null(COUNTRIES, rows),
            "currency": _sometimes_null(CURRENCIES, rows),
            "original_amount": _sometimes_null(
                tuple(Decimal(f"{10 + i}.25") for i in range(rows)), rows
            ),
        }
    )


def _sometimes_null(values: tuple[object, ...], rows: int) -> pd.Series:
    """Values in turn, null on every fourth row, as an object column (how the extract reads it)."""
    cells = [None if i % 4 == 1 else values[i % len(values)] for i in range(rows)]
    return pd.Series(cells, dtype="object")


def bank_columns_null(frame: pd.DataFrame) -> pd.DataFrame:
    """A bank whose feed has none of the optional columns: all null."""
    for column in ("channel", "merchant_category", "merchant_country", "currency"):
        frame[column] = pd.Series([None] * len(frame), dtype="object")
    frame["original_amount"] = pd.Series([None] * len(frame), dtype="object")
    return frame


def with_value(column: str, value: object, row: int = 3) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Set one cell, widening the column to object first when the value does not fit its dtype."""

    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        if isinstance(value, str) and frame[column].dtype != object:
            frame[column] = frame[column].astype("object")
        frame.loc[row, column] = value
        return frame

    return mutate


def duplicate_row(frame: pd.DataFrame) -> pd.DataFrame:
    """Give row 4 the id of row 3."""
    frame.loc[4, "transaction_id"] = frame.loc[3, "transaction_id"]
    return frame


@dataclass(frozen=True)
class Case:
    """One bad input and what the gate must do with it."""

    frame: Callable[[], pd.DataFrame]
    expectation: str | None  # None: clean pass
    quarantined_rows: tuple[int, ...] = ()  # empty with an expectation: a batch failure
    known_ids: frozenset[int] = frozenset()
    history: tuple[int, ...] = tuple(HISTORY)
    observed: str | None = None  # text the batch failure must quote

    @property
    def batch(self) -> bool:
        """True when the case must stop the run."""
        return self.expectation is not None and not self.quarantined_rows


def changed(*mutations: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[], pd.DataFrame]:
    """A clean frame with mutations applied in order."""

    def build() -> pd.DataFrame:
        frame = clean_frame()
        for mutation in mutations:
            frame = mutation(frame)
        return frame

    return build


CATALOG: dict[str, Case] = {
    "clean batch": Case(changed(), None),
    "interval start is inside": Case(changed(with_value("tx_datetime", START)), None),
    "null amount": Case(changed(with_value("tx_amount", None)), AMOUNT_NOT_NULL, (3,)),
    "negative amount": Case(changed(with_value("tx_amount", Decimal("-5.00"))), AMOUNT_RANGE, (3,)),
    "zero amount": Case(changed(with_value("tx_amount", Decimal("0.00"))), AMOUNT_RANGE, (3,)),
    "absurd amount": Case(
        changed(with_value("tx_amount", Decimal("9999999999.99"))), AMOUNT_RANGE, (3,)
    ),
    "amount at the ceiling": Case(
        changed(with_value("tx_amount", Decimal("100000.00"))), AMOUNT_RANGE, (3,)
    ),
    "decimal NaN amount": Case(
        changed(with_value("tx_amount", Decimal("NaN"))), AMOUNT_NOT_NULL, (3,)
    ),
    "float NaN amount": Case(changed(with_value("tx_amount", float("nan"))), AMOUNT_NOT_NULL, (3,)),
    "infinite amount": Case(
        changed(with_value("tx_amount", Decimal("Infinity"))), AMOUNT_RANGE, (3,)
    ),
    "negative infinite amount": Case(
        changed(with_value("tx_amount", float("-inf"))), AMOUNT_RANGE, (3,)
    ),
    "amount text with a semicolon": Case(
        changed(with_value("tx_amount", "12.50; drop table x")), AMOUNT_NOT_NULL, (3,)
    ),
    "amount as decimal text": Case(changed(with_value("tx_amount", "12.50")), None),
    "NaN amount as text": Case(changed(with_value("tx_amount", "NaN")), AMOUNT_NOT_NULL, (3,)),
    "future timestamp": Case(
        changed(with_value("tx_datetime", pd.Timestamp("2099-01-01", tz="UTC"))),
        TIME_RANGE,
        (3,),
    ),
    "timestamp before the interval": Case(
        changed(with_value("tx_datetime", pd.Timestamp(START) - pd.Timedelta(seconds=1))),
        TIME_RANGE,
        (3,),
    ),
    "timestamp at the interval end": Case(
        changed(with_value("tx_datetime", pd.Timestamp(END))), TIME_RANGE, (3,)
    ),
    "missing timestamp": Case(changed(with_value("tx_datetime", pd.NaT)), TIME_NOT_NULL, (3,)),
    "duplicate id in the batch": Case(changed(duplicate_row), ID_UNIQUE, (3, 4)),
    "id validated on an earlier day": Case(
        changed(), ID_NOT_KNOWN, (6,), known_ids=frozenset({7, 999})
    ),
    "zero transaction id": Case(changed(with_value("transaction_id", 0)), ID_POSITIVE, (3,)),
    "negative customer id": Case(changed(with_value("customer_id", -1)), CUSTOMER_POSITIVE, (3,)),
    "zero terminal id": Case(changed(with_value("terminal_id", 0)), TERMINAL_POSITIVE, (3,)),
    "empty day": Case(lambda: clean_frame(0), VOLUME, observed="0"),
    "tenfold volume spike": Case(lambda: clean_frame(ROWS * 10), VOLUME, observed="400"),
    "collapsed volume": Case(lambda: clean_frame(ROWS // 4), VOLUME, observed="10"),
    "empty day without enough history": Case(
        lambda: clean_frame(0), None, history=(0,) * 22 + (40,) * 6
    ),
    "spike without enough history": Case(lambda: clean_frame(ROWS * 10), None, history=(40,) * 6),
    "missing column": Case(
        changed(lambda frame: frame.drop(columns="terminal_id")), COLUMNS, observed="terminal_id"
    ),
    "unexpected column": Case(
        changed(lambda frame: frame.assign(is_fraud=False)), COLUMNS, observed="is_fraud"
    ),
    "customer id text with quotes and a semicolon": Case(
        changed(with_value("customer_id", "1'; drop table x; --")),
        type_of("customer_id"),
        observed="object",
    ),
    "terminal id with non-ASCII text": Case(
        changed(with_value("terminal_id", "térm\u00ednal-\u7aef\u672b")),
        type_of("terminal_id"),
        observed="object",
    ),
    "nullable transaction id": Case(
        changed(lambda frame: frame.astype({"transaction_id": "Int64"})),
        type_of("transaction_id"),
        observed="Int64",
    ),
    "naive timestamps": Case(
        changed(lambda frame: frame.assign(tx_datetime=frame["tx_datetime"].dt.tz_localize(None))),
        type_of("tx_datetime"),
        observed="datetime64[ns]",
    ),
    "integer amounts": Case(
        changed(lambda frame: frame.assign(tx_amount=range(1, ROWS + 1))),
        type_of("tx_amount"),
        observed="int64",
    ),
    "every bank column null": Case(changed(bank_columns_null), None),
    "unknown channel": Case(changed(with_value("channel", "mail_order")), CHANNEL_DOMAIN, (3,)),
    "channel in capitals": Case(changed(with_value("channel", "ECOMMERCE")), CHANNEL_DOMAIN, (3,)),
    "empty channel": Case(changed(with_value("channel", "")), CHANNEL_DOMAIN, (3,)),
    "category without its leading zero": Case(
        changed(with_value("merchant_category", "742")), CATEGORY_FORMAT, (3,)
    ),
    "category as words": Case(
        changed(with_value("merchant_category", "grocery")), CATEGORY_FORMAT, (3,)
    ),
    "category with a trailing space": Case(
        changed(with_value("merchant_category", "5411 ")), CATEGORY_FORMAT, (3,)
    ),
    "country in lower case": Case(
        changed(with_value("merchant_country", "be")), COUNTRY_CODE, (3,)
    ),
    "country as alpha-3": Case(changed(with_value("merchant_country", "BEL")), COUNTRY_CODE, (3,)),
    "user-assigned country": Case(
        changed(with_value("merchant_country", "XX")), COUNTRY_CODE, (3,)
    ),
    "currency as a word": Case(changed(with_value("currency", "EURO")), CURRENCY_CODE, (3,)),
    "testing currency": Case(changed(with_value("currency", "XTS")), CURRENCY_CODE, (3,)),
    "negative original amount": Case(
        changed(with_value("original_amount", Decimal("-4.10"))), ORIGINAL_AMOUNT_RANGE, (3,)
    ),
    "NaN original amount": Case(
        changed(with_value("original_amount", "NaN")), ORIGINAL_AMOUNT_RANGE, (3,)
    ),
    "infinite original amount": Case(
        changed(with_value("original_amount", Decimal("Infinity"))), ORIGINAL_AMOUNT_RANGE, (3,)
    ),
    "original amount in yen": Case(
        changed(with_value("original_amount", Decimal("1840000"))), None
    ),
    "missing bank column": Case(
        changed(lambda frame: frame.drop(columns="currency")), COLUMNS, observed="currency"
    ),
    "merchant categories as integers": Case(
        changed(lambda frame: frame.assign(merchant_category=5411)),
        type_of("merchant_category"),
        observed="int64",
    ),
    "too many rows failing": Case(
        changed(*(with_value("tx_amount", Decimal("-1"), row=row) for row in (1, 2, 3))),
        QUARANTINE_SHARE,
        observed="3 of 40 rows",
    ),
}


@pytest.fixture(scope="module")
def context_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One GX project for the module: creating a context is the slow part."""
    return tmp_path_factory.mktemp("artifacts") / "gx"


def run_case(case: Case, context_dir: Path) -> CheckResult:
    """Check the case's frame against a one-day interval."""
    return check_frame(
        case.frame(),
        interval_start=START,
        interval_end=END,
        known_ids=case.known_ids,
        volume_history=case.history,
        gate=GATE,
        context_dir=context_dir,
        build_docs=False,
    )


@pytest.mark.parametrize("case", CATALOG.values(), ids=CATALOG.keys())
def test_bad_input_catalog(case: Case, context_dir: Path) -> None:
    result = run_case(case, context_dir)

    if case.batch:
        assert not result.passed
        first = result.batch_failures[0]
        assert first.expectation == case.expectation
        assert case.expectation in first.message and "\n" not in first.message
        assert case.observed is None or case.observed in first.observed
        assert (result.validated_count, result.quarantined_count) == (0, 0)
    else:
        assert result.passed, result.batch_failures
        assert tuple(result.row_failures) == case.quarantined_rows
        assert all(case.expectation in names for names in result.row_failures.values())
        assert result.extracted_count == result.validated_count + result.quarantined_count
        assert result.quarantined_count == len(case.quarantined_rows)


def test_clean_batch_reports_no_failure_at_all(context_dir: Path) -> None:
    result = run_case(CATALOG["clean batch"], context_dir)

    assert (result.failures, result.validated_count) == ((), ROWS)


def test_another_process_opening_the_project_leaves_ours_usable(context_dir: Path) -> None:
    """Workers, the CLI and the api-server open the same GX project, each in its own process."""
    run_case(CATALOG["clean batch"], context_dir)  # this process's context is open
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from fraud.quality.suites import open_context;"
            " open_context(Path(sys.argv[1]))",
            str(context_dir),
        ],
        check=True,
        capture_output=True,
    )

    result = run_case(CATALOG["clean batch"], context_dir)

    assert (result.failures, result.validated_count) == ((), ROWS)


def test_row_failure_is_also_reported_as_a_row_level_summary(context_dir: Path) -> None:
    result = run_case(CATALOG["duplicate id in the batch"], context_dir)

    assert result.failures == (
        ExpectationFailure(ID_UNIQUE, "row", "2 of 40 rows", f"{ID_UNIQUE}: 2 of 40 rows failed"),
    )


def test_a_row_failing_two_expectations_names_both(context_dir: Path) -> None:
    frame = with_value("tx_amount", Decimal("-3"))(
        with_value("tx_datetime", pd.Timestamp(END))(clean_frame())
    )
    result = check_frame(
        frame,
        interval_start=START,
        interval_end=END,
        known_ids=frozenset(),
        volume_history=HISTORY,
        gate=GATE,
        context_dir=context_dir,
        build_docs=False,
    )

    assert result.row_failures == {3: (TIME_RANGE, AMOUNT_RANGE)}


def test_run_names_with_path_separators_are_stored(context_dir: Path) -> None:
    result = check_frame(
        clean_frame(),
        interval_start=START,
        interval_end=END,
        known_ids=frozenset(),
        volume_history=HISTORY,
        gate=GATE,
        context_dir=context_dir,
        run_name="manual/run\\2026-03-02",
        build_docs=False,
    )

    assert result.passed and len(result.result_ids) == 3


def test_check_frame_builds_data_docs(context_dir: Path) -> None:
    result = check_frame(
        clean_frame(),
        interval_start=START,
        interval_end=END,
        known_ids=frozenset(),
        volume_history=HISTORY,
        gate=GATE,
        context_dir=context_dir,
    )

    assert result.data_docs_path is not None and Path(result.data_docs_path).is_absolute()
    assert Path(result.data_docs_path).name == "index.html"
    assert Path(result.data_docs_path).is_file()


def test_data_docs_are_written_whole_file_by_file(context_dir: Path) -> None:
    def build(run_name: str) -> Path:
        result = check_frame(
            clean_frame(),
            interval_start=START,
            interval_end=END,
            known_ids=frozenset(),
            volume_history=HISTORY,
            gate=GATE,
            context_dir=context_dir,
            run_name=run_name,
        )
        assert result.data_docs_path is not None
        return Path(result.data_docs_path)

    index = build("docs-night-1")
    styles = index.parent / "static" / "styles" / "data_docs_default_styles.css"
    inodes = {path: path.stat().st_ino for path in (index, styles)}
    previous = index.read_bytes()
    with index.open("rb") as reader:  # the monitoring page serving the site
        assert build("docs-night-2") == index
        assert reader.read() == previous
    assert "docs-night-2" in index.read_text() and "docs-night-2" not in previous.decode()
    assert all(path.stat().st_ino != inode for path, inode in inodes.items())
    assert not [path for path in index.parent.rglob("*") if path.name.endswith(".partial")]


def utc(values: list[str | None]) -> pd.DatetimeIndex:
    """Parse ISO timestamps (None for missing) as UTC."""
    return pd.to_datetime(values, utc=True, format="ISO8601")


def label_frame(rows: list[tuple[int, str, str | None]]) -> pd.DataFrame:
    """Labels as the extract returns them: id, reported_at, time of the labelled transaction."""
    return pd.DataFrame(
        {
            "transaction_id": pd.Series([row[0] for row in rows], dtype="int64"),
            "is_fraud": pd.Series([True] * len(rows), dtype="bool"),
            "reported_at": utc([row[1] for row in rows]),
            "transaction_tx_datetime": utc([row[2] for row in rows]),
        }
    )


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ((1, "2026-03-02T10:00Z", "2026-02-25T09:00Z"), ()),
        ((1, "2026-03-02T10:00Z", "2026-03-02T10:00Z"), ()),
        (
            (2, "2026-03-02T10:00Z", None),
            ("fraud_labels.expect_column_values_to_not_be_null(transaction_tx_datetime)",),
        ),
        (
            (3, "2026-03-02T10:00Z", "2026-03-02T10:00:01Z"),
            (
                "fraud_labels.expect_column_pair_values_a_to_be_greater_than_b"
                "(reported_at,transaction_tx_datetime)",
            ),
        ),
    ],
    ids=["reported after", "reported at once", "unknown transaction", "reported before"],
)
def test_label_catalog(
    label: tuple[int, str, str | None], expected: tuple[str, ...], context_dir: Path
) -> None:
    clean = (9, "2026-03-02T08:00Z", "2026-03-01T08:00Z")
    result = check_labels(label_frame([clean, label]), context_dir=context_dir, build_docs=False)

    assert result.passed
    assert result.row_failures == ({1: expected} if expected else {})


@pytest.mark.parametrize(
    ("history", "hours", "expected"),
    [
        ([100] * 28, 24, (30.0, 300.0)),
        ([0] * 20 + [100] * 8, 24, (30.0, 300.0)),
        ([0] * 22 + [100] * 6, 24, (None, None)),
        ([], 24, (None, None)),
        ([10, 20, 30, 40, 50, 60, 1000], 24, (12.0, 120.0)),
        ([240] * 28, 1, (3.0, 30.0)),
    ],
    ids=["steady", "days with data only", "too short", "none", "median", "hourly interval"],
)
def test_volume_band(history: list[int], hours: int, expected: tuple) -> None:
    band = volume_band(history, START, START + timedelta(hours=hours), GATE)

    assert (band.min_rows, band.max_rows) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12.30"), "12.30"),
        (Decimal("NaN"), "NaN"),
        (float("inf"), "inf"),
        (None, None),
        ("1'; drop table x; -- été \u7aef", "1'; drop table x; -- été \u7aef"),
        (pd.Timestamp("2026-03-02T10:00:00Z"), "2026-03-02T10:00:00+00:00"),
    ],
    ids=["exact decimal", "decimal NaN", "infinity", "null", "quotes and non-ASCII", "time"],
)
def test_source_row_keeps_values_verbatim(value: object, expected: object) -> None:
    frame = pd.DataFrame({"transaction_id": [7], "tx_amount": pd.Series([value], dtype="object")})

    (row,) = source_rows(frame, [0], ["transaction_id", "tx_amount"])

    assert json.loads(row) == {"transaction_id": 7, "tx_amount": expected}


def test_every_expectation_declares_its_level_and_why() -> None:
    suites = load_suites()

    assert set(suites) == {
        "transactions_schema",
        "transactions",
        "transactions_volume",
        "fraud_labels",
    }
    for suite in suites.values():
        for expectation in suite["expectations"]:
            assert expectation["meta"]["level"] in {"row", "batch"}
            assert len(expectation["meta"]["notes"]) > 20


def test_batch_error_message_is_one_line_naming_the_expectation() -> None:
    failure = ExpectationFailure(VOLUME, "batch", "0", f"{VOLUME} failed: observed 0")
    outcome = ValidationOutcome("run-1", START, END, "failed", 0, 0, 0, (failure,), None)

    message = str(BatchValidationError(outcome))

    assert "\n" not in message
    assert VOLUME in message and "observed 0" in message and START.isoformat() in message


def test_bank_column_domains_are_declared_once() -> None:
    """The suite's channel set and category format are the ones fraud.payments declares."""
    by_column = {
        (item["type"], item["kwargs"].get("column")): item["kwargs"]
        for item in load_suites()["transactions"]["expectations"]
    }
    channel = by_column[("expect_column_values_to_be_in_set", "channel")]["value_set"]
    category = by_column[("expect_column_values_to_match_regex", "merchant_category")]["regex"]
    assert tuple(channel) == CHANNELS == payments.CHANNELS
    assert category == payments.MERCHANT_CATEGORY_PATTERN
    for column, parameter in (
        ("merchant_country", "country_codes"),
        ("currency", "currency_codes"),
    ):
        value_set = by_column[("expect_column_values_to_be_in_set", column)]["value_set"]
        assert value_set == {"$PARAMETER": parameter}
        assert parameter in payments.gate_parameters()
