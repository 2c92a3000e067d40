"""The analysts' SQL surface: example queries run as ``fraud_analyst``, views agree with their tables.

The data lives in a database of its own on the session's server, migrated like the warehouse:
transactions come from the simulator, two days go through the real quality gate (one replayed,
with rows that fail it), and scores, drift and decisions are written straight into their tables.
Everything is dated relative to today because the views measure label maturity against now().
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.bulk import read_frame
from fraud.dates import day_interval
from fraud.db import create_warehouse_engine, database_name
from fraud.migrations import migrate
from fraud.scratch import scratch_database as fresh_database
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams
from fraud.simulation.warehouse import next_transaction_id, write_simulation
from fraud.tasks import validate_batch

pytestmark = pytest.mark.integration

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPOSITORY_ROOT / "sql" / "examples"
ANALYST_DOC = REPOSITORY_ROOT / "docs" / "analysts.md"
RUN_ID = "analytics_test"

EXPECTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "top_alerts_yesterday.sql": (
        "transaction_id",
        "tx_datetime",
        "customer_id",
        "terminal_id",
        "tx_amount",
        "score",
        "model_version",
        "reason_1",
        "reason_1_contribution",
        "reason_2",
        "reason_2_contribution",
        "reason_3",
        "reason_3_contribution",
        "is_fraud_reported",
    ),
    "alert_precision_by_model_version.sql": (
        "model_name",
        "model_version",
        "first_day",
        "last_day",
        "days",
        "transactions",
        "alerts",
        "alerts_confirmed",
        "frauds_reported",
        "alert_precision",
        "alert_recall",
    ),
    "customers_with_repeated_alerts.sql": (
        "customer_id",
        "days_alerted",
        "alerts",
        "amount_alerted",
        "first_alert_at",
        "last_alert_at",
        "alerts_confirmed",
    ),
    "drift_last_14_nights.sql": (
        "drift_date",
        "model_version",
        "night_band",
        "worst_feature",
        "max_feature_psi",
        "features_monitored",
        "features_warning",
        "features_alert",
        "score_psi",
        "score_band",
        "report_path",
    ),
    "quarantine_reasons_last_week.sql": (
        "suite",
        "failed_expectation",
        "open_rows",
        "resolved_rows",
        "days_failed",
        "last_quarantined_at",
    ),
    "nightly_batches_last_week.sql": (
        "tx_date",
        "quality_status",
        "extracted_count",
        "quarantined_count",
        "open_quarantine_rows",
        "model_version",
        "transactions_scored",
        "alerts",
        "alert_rate",
        "confirmed_frauds_among_alerts",
    ),
    "promotion_history.sql": (
        "decided_at",
        "model_name",
        "decision",
        "challenger_version",
        "champion_version",
        "champion_version_after",
        "challenger_average_precision",
        "champion_average_precision",
        "trigger",
        "reason",
    ),
}

_ANALYTICS_COLUMNS = """
select c.relname as view_name, a.attname as column_name,
       col_description(c.oid, a.attnum) as column_comment,
       obj_description(c.oid, 'pg_class') as view_comment
from pg_catalog.pg_class as c
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
join pg_catalog.pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = 'analytics' and c.relkind in ('v', 'm', 'r')
order by c.relname, a.attnum
"""

# Scores that separate fraud from genuine imperfectly: five frauds in six score 0.5 or more,
# one genuine transaction in ten too. Versions 1 and 2 split the period so each has its own days.
_SCORES = """
insert into scoring.transaction_scores (transaction_id, tx_datetime, customer_id, terminal_id,
    tx_amount, score, model_name, model_version, is_alert, reason_1, reason_1_contribution,
    reason_2, reason_2_contribution, reason_3, reason_3_contribution, run_id)
with scored as (
    select t.*,
        case when coalesce(l.is_fraud, false)
            then 0.4 + (t.transaction_id * 37 %% 100) / 165.0
            else 0.55 * (t.transaction_id * 7919 %% 1000) / 1000.0
        end as score
    from raw.transactions as t
    left join raw.fraud_labels as l using (transaction_id)
)
select transaction_id, tx_datetime, customer_id, terminal_id, tx_amount, score, 'fraud-lightgbm',
    case when tx_datetime < %(version_2_from)s then 1 else 2 end, score >= 0.5,
    case when score >= 0.5 then 'terminal_fraud_risk_7d' end,
    case when score >= 0.5 then 1.2 end,
    case when score >= 0.5 then 'amount_to_customer_mean_30d' end,
    case when score >= 0.5 then 0.6 end,
    case when score >= 0.5 then 'is_night' end,
    case when score >= 0.5 then 0.1 end,
    %(run_id)s
from scored
"""

# The scores table is partitioned by day: every day of raw.transactions gets its partitions.
_PARTITIONS_OF_RAW_DAYS = """
select staging.ensure_day_partitions(day)
from (select distinct (tx_datetime at time zone 'UTC')::date as day from raw.transactions) as days
"""

_DRIFT_FEATURES = ("tx_amount", "customer_tx_count_1d", "terminal_fraud_risk_7d", "score")

_DECISION = """
insert into monitoring.model_decisions (model_name, challenger_version, champion_version, decision,
    reason, challenger_metrics, champion_metrics, trigger, decided_at)
values ('fraud-lightgbm', :challenger, :champion, :decision, :reason,
    cast(:challenger_metrics as jsonb), cast(:champion_metrics as jsonb), :trigger, :decided_at)
"""


@contextmanager
def scratch_database(url: str, suffix: str) -> Generator[str, None, None]:
    """A fresh database on the same server as ``url``, dropped on exit; yields its URL."""
    name = f"{database_name(url)}_{suffix}_{uuid.uuid4().hex[:6]}"
    with fresh_database(url, name) as scratch:
        yield scratch


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _simulate(engine: Engine, today: date) -> None:
    """Twenty-five days of transactions and labels ending today."""
    with engine.begin() as connection:
        params = SimulationParams(
            seed=11,
            n_customers=200,
            n_terminals=400,
            start_date=today - timedelta(days=24),
            n_days=25,
            first_transaction_id=next_transaction_id(connection),
        )
        write_simulation(connection, simulate(params))


def _add_rows_that_fail_the_gate(engine: Engine, day: date) -> None:
    """One negative amount and one above the ceiling, on ``day``."""
    with engine.begin() as connection:
        first = next_transaction_id(connection)
        connection.execute(
            sa.text(
                "insert into raw.transactions (transaction_id, tx_datetime, customer_id,"
                " terminal_id, tx_amount) values (:a, :moment, 1, 1, -5), (:b, :moment, 2, 2, 250000)"
            ),
            {"a": first, "b": first + 1, "moment": datetime.combine(day, datetime.min.time(), UTC)},
        )


def _validate(url: str, days: list[date]) -> None:
    """Run the real quality gate over each day, as the ingest DAG does."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAUD_DATABASE_URL", url)
        for position, day in enumerate(days):
            start, end = day_interval(day.isoformat())
            validate_batch(start, end, f"{RUN_ID}__{position}__{day}")


def _score(engine: Engine, today: date) -> None:
    version_2_from = datetime.combine(today - timedelta(days=10), datetime.min.time(), UTC)
    with engine.begin() as connection:
        connection.exec_driver_sql(_PARTITIONS_OF_RAW_DAYS)
        connection.exec_driver_sql(_SCORES, {"version_2_from": version_2_from, "run_id": RUN_ID})


def _drift(engine: Engine, today: date) -> None:
    """Fourteen nights of PSI for three features and the score, drifting towards the end."""
    rows = []
    for night in range(1, 15):
        for position, feature in enumerate(_DRIFT_FEATURES):
            psi = round(0.02 * (15 - night) * (position + 1) / 4, 4)
            band = "alert" if psi >= 0.25 else "warning" if psi >= 0.1 else "stable"
            rows.append(
                {
                    "drift_date": today - timedelta(days=night),
                    "model_version": 1 if night > 10 else 2,
                    "feature": feature,
                    "psi": psi,
                    "band": band,
                    "report_path": f"drift/{today - timedelta(days=night)}.html",
                }
            )
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into monitoring.feature_drift (drift_date, model_name, model_version,"
                " feature, psi, band, rows_compared, reference_rows, report_path, run_id)"
                " values (:drift_date, 'fraud-lightgbm', :model_version, :feature, :psi, :band,"
                " 250, 5000, :report_path, 'analytics_test')"
            ),
            rows,
        )


def _decisions(engine: Engine, today: date) -> None:
    """A bootstrap, a promotion and a rejection."""
    moment = datetime.combine(today, datetime.min.time(), UTC)
    decisions = [
        (1, None, "bootstrapped", "no champion existed", '{"average_precision": 0.61}', "{}", 24),
        (
            2,
            1,
            "promoted",
            "average_precision improved",
            '{"average_precision": 0.7}',
            '{"average_precision": 0.61}',
            10,
        ),
        (
            3,
            2,
            "rejected",
            "average_precision regressed",
            '{"average_precision": 0.65}',
            '{"average_precision": 0.7}',
            3,
        ),
    ]
    with engine.begin() as connection:
        for challenger, champion, decision, reason, mine, theirs, days_ago in decisions:
            connection.execute(
                sa.text(_DECISION),
                {
                    "challenger": challenger,
                    "champion": champion,
                    "decision": decision,
                    "reason": reason,
                    "challenger_metrics": mine,
                    "champion_metrics": theirs,
                    "trigger": "scheduled",
                    "decided_at": moment - timedelta(days=days_ago),
                },
            )


@pytest.fixture(scope="module")
def analytics_engine(warehouse_url: str) -> Generator[Engine, None, None]:
    """A migrated database holding a small month of transactions, checks, scores and drift."""
    today = _utc_today()
    with scratch_database(warehouse_url, "analytics") as url:
        engine = create_warehouse_engine(url)
        migrate(engine)
        _simulate(engine, today)
        _add_rows_that_fail_the_gate(engine, today - timedelta(days=1))
        _validate(url, [today - timedelta(days=3), today - timedelta(days=1)] * 2)
        _score(engine, today)
        _drift(engine, today)
        _decisions(engine, today)
        yield engine
        engine.dispose()


def _as_analyst(engine: Engine, query: str) -> pd.DataFrame:
    """Run a query with the privileges of ``fraud_analyst`` only."""
    with engine.begin() as connection:
        connection.exec_driver_sql("set local role fraud_analyst")
        result = connection.exec_driver_sql(query)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def test_every_example_is_listed_with_its_columns() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.sql")) == sorted(EXPECTED_COLUMNS)


@pytest.mark.parametrize("name", sorted(EXPECTED_COLUMNS))
def test_example_runs_as_analyst_and_returns_rows(analytics_engine: Engine, name: str) -> None:
    text = (EXAMPLES / name).read_text()
    assert text.startswith("-- "), "each example starts with a comment saying what it answers"
    frame = _as_analyst(analytics_engine, text)
    assert tuple(frame.columns) == EXPECTED_COLUMNS[name]
    assert len(frame) > 0


def _labelled_scores(engine: Engine) -> pd.DataFrame:
    """Scores with the fraud labels reported by now, computed outside the views."""
    with engine.connect() as connection:
        scores = read_frame(
            connection,
            "select transaction_id, (tx_datetime at time zone 'UTC')::date as tx_date,"
            " model_version, score, is_alert from scoring.transaction_scores",
            {},
        )
        labels = read_frame(
            connection,
            "select transaction_id from raw.fraud_labels where is_fraud and reported_at <= now()",
            {},
        )
    return scores.assign(is_fraud=scores["transaction_id"].isin(labels["transaction_id"]))


def test_daily_alerts_count_scores_and_confirmed_alerts(analytics_engine: Engine) -> None:
    scores = _labelled_scores(analytics_engine)
    expected = (
        scores.assign(confirmed=scores["is_alert"] & scores["is_fraud"])
        .groupby(["tx_date", "model_version"])
        .agg(
            transactions_scored=("transaction_id", "size"),
            alerts=("is_alert", "sum"),
            confirmed_frauds_among_alerts=("confirmed", "sum"),
        )
        .reset_index()
        .sort_values(["tx_date", "model_version"], ignore_index=True)
    )
    view = _as_analyst(
        analytics_engine,
        "select tx_date, model_version, transactions_scored, alerts, confirmed_frauds_among_alerts,"
        " alert_rate from analytics.daily_alerts order by tx_date, model_version",
    )
    pd.testing.assert_frame_equal(view.drop(columns="alert_rate"), expected, check_dtype=False)
    assert view["alert_rate"].tolist() == pytest.approx(
        (expected["alerts"] / expected["transactions_scored"]).tolist()
    )


def test_model_performance_daily_matches_scores_and_labels(analytics_engine: Engine) -> None:
    scores = _labelled_scores(analytics_engine)
    view = _as_analyst(
        analytics_engine,
        "select * from analytics.model_performance_daily order by tx_date, model_version",
    )
    assert view["frauds_reported"].sum() > 0
    for row in view.itertuples():
        day = scores[
            (scores["tx_date"] == row.tx_date) & (scores["model_version"] == row.model_version)
        ]
        alerts, frauds = day[day["is_alert"]], day[day["is_fraud"]]
        assert row.transactions == len(day)
        assert row.frauds_reported == len(frauds)
        assert row.alerts_confirmed == int(alerts["is_fraud"].sum())
        if len(alerts):
            assert row.alert_precision == pytest.approx(alerts["is_fraud"].mean())
        if len(frauds):
            assert row.alert_recall == pytest.approx(frauds["is_alert"].mean())
            assert row.average_score_fraud == pytest.approx(frauds["score"].mean())
        assert row.label_maturity_days == (_utc_today() - row.tx_date).days


def test_quality_daily_accounts_for_every_row(analytics_engine: Engine) -> None:
    view = _as_analyst(analytics_engine, "select * from analytics.quality_daily order by tx_date")
    with analytics_engine.connect() as connection:
        open_rows = connection.exec_driver_sql(
            "select count(*) from quality.quarantine where resolved_at is null"
        ).scalar_one()
    assert list(view["status"]) == ["passed", "passed"]
    assert (view["extracted_count"] == view["validated_count"] + view["quarantined_count"]).all()
    assert list(view["validation_runs"]) == [2, 2]
    assert view["open_quarantine_rows"].sum() == open_rows == view["quarantined_count"].sum() > 0


def test_payments_carry_the_bank_columns_of_every_staged_payment(analytics_engine: Engine) -> None:
    view = _as_analyst(
        analytics_engine,
        "select transaction_id, tx_date, tx_amount, channel, merchant_category, merchant_country,"
        " currency, original_amount from analytics.payments order by transaction_id",
    )
    with analytics_engine.connect() as connection:
        raw = read_frame(
            connection,
            "select raw.transaction_id, (raw.tx_datetime at time zone 'UTC')::date as tx_date,"
            " raw.tx_amount, raw.channel, raw.merchant_category, raw.merchant_country,"
            " raw.currency, raw.original_amount from raw.transactions as raw"
            " join staging.transactions as staged using (transaction_id)"
            " order by raw.transaction_id",
            {},
        )
    assert len(view) == len(raw) > 0
    pd.testing.assert_frame_equal(view, raw, check_dtype=False)
    # The simulated bank's feed carries every column; the gate's rows without them are quarantined.
    assert view[["channel", "merchant_country", "currency"]].notna().all().all()
    assert {"card_present", "contactless", "ecommerce", "atm"} == set(view["channel"])
    in_euros = view["currency"] == "EUR"
    assert (view.loc[in_euros, "original_amount"] == view.loc[in_euros, "tx_amount"]).all()


def test_quarantine_reasons_count_open_and_resolved_rows(analytics_engine: Engine) -> None:
    view = _as_analyst(analytics_engine, "select * from analytics.quarantine_reasons_daily")
    amount_check = view[view["failed_expectation"].str.contains(r"\(tx_amount\)")]
    assert set(amount_check["suite"]) == {"transactions"}
    assert amount_check["open_rows"].sum() == amount_check["resolved_rows"].sum() == 2


def test_drift_summary_counts_each_band(analytics_engine: Engine) -> None:
    view = _as_analyst(analytics_engine, "select * from analytics.drift_summary")
    assert len(view) == 14
    features = len(_DRIFT_FEATURES) - 1
    assert (view["features_monitored"] == features).all()
    banded = view["features_stable"] + view["features_warning"] + view["features_alert"]
    assert (banded == features).all()
    alerted = view[view["score_band"] == "alert"]
    assert (alerted["night_band"] == "alert").all()
    assert (view["worst_feature"] == "terminal_fraud_risk_7d").all()


def test_model_decisions_name_the_champion_after_each_decision(analytics_engine: Engine) -> None:
    view = _as_analyst(
        analytics_engine,
        "select decision, champion_version_after, champion_average_precision"
        " from analytics.model_decisions order by decision_id",
    )
    assert list(view["decision"]) == ["bootstrapped", "promoted", "rejected"]
    assert list(view["champion_version_after"]) == [1, 2, 2]
    assert view["champion_average_precision"].isna().tolist() == [True, False, False]


def test_every_analytics_view_and_column_has_a_comment(warehouse_url: str) -> None:
    engine = create_warehouse_engine(warehouse_url)
    with engine.connect() as connection:
        columns = read_frame(connection, _ANALYTICS_COLUMNS, {})
    engine.dispose()
    assert set(columns["view_name"]) >= {
        "scored_transactions",
        "daily_alerts",
        "model_performance_daily",
        "drift_summary",
        "quality_daily",
        "model_decisions",
    }
    uncommented = columns[columns["column_comment"].fillna("").str.strip() == ""]
    assert uncommented[["view_name", "column_name"]].values.tolist() == []
    assert columns["view_comment"].fillna("").str.strip().ne("").all()


def test_analyst_guide_documents_every_view_and_column(warehouse_url: str) -> None:
    engine = create_warehouse_engine(warehouse_url)
    with engine.connect() as connection:
        columns = read_frame(connection, _ANALYTICS_COLUMNS, {})
    engine.dispose()
    guide = ANALYST_DOC.read_text()
    sections = dict(
        re.findall(r"^### `analytics\.(\w+)`\n(.*?)(?=^#{2,3} |\Z)", guide, re.M | re.S)
    )
    for view_name, group in columns.groupby("view_name"):
        assert view_name in sections, f"docs/analysts.md has no section for {view_name}"
        documented = re.findall(r"^\| `(\w+)` \|", sections[view_name], re.M)
        assert documented == group["column_name"].tolist(), view_name


def test_examples_are_in_the_analyst_guide() -> None:
    guide = ANALYST_DOC.read_text()
    for name in EXPECTED_COLUMNS:
        assert f"sql/examples/{name}" in guide
