"""Every link handed to a person is http(s) under the configured base URL, path parts encoded."""

from __future__ import annotations

import re
from datetime import date

import pytest

from fraud.config import REPOSITORY_ROOT, Settings
from fraud.links import (
    data_docs_url,
    drift_report_url,
    mlflow_run_url,
    page_url,
    task_log_url,
)
from fraud.monitoring.alerts import failure_message, html_message

BASE = "https://airflow.example.org/ops"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (page_url(BASE + "/"), f"{BASE}/fraud-monitoring/"),
        (
            drift_report_url(BASE, "2026-03-01"),
            f"{BASE}/fraud-monitoring/reports/2026-03-01.html",
        ),
        (
            drift_report_url(BASE + "/", date(2026, 3, 1)),
            f"{BASE}/fraud-monitoring/reports/2026-03-01.html",
        ),
        (data_docs_url(BASE), f"{BASE}/fraud-monitoring/data-docs/index.html"),
        (
            data_docs_url(BASE, "validations/transactions/run 1/index.html"),
            f"{BASE}/fraud-monitoring/data-docs/validations/transactions/run%201/index.html",
        ),
        (
            task_log_url(BASE, "fraud_ingest", "scheduled__2026-03-02T00:00:00+00:00", "validate"),
            f"{BASE}/dags/fraud_ingest/runs/scheduled__2026-03-02T00%3A00%3A00%2B00%3A00"
            "/tasks/validate",
        ),
        (
            task_log_url(BASE, "fraud_score", "manual/1", "score_partition", 1, 2),
            f"{BASE}/dags/fraud_score/runs/manual%2F1/tasks/score_partition/mapped/1?try_number=2",
        ),
        (
            task_log_url(BASE, "fraud_score", "r", "resolve_champion", -1, 0),
            f"{BASE}/dags/fraud_score/runs/r/tasks/resolve_champion",
        ),
        (
            mlflow_run_url("http://localhost:5000/", "7", "0a1b"),
            "http://localhost:5000/#/experiments/7/runs/0a1b",
        ),
    ],
)
def test_links(url: str, expected: str) -> None:
    assert url == expected


@pytest.mark.parametrize("page", ["", "../secrets.txt", "validations/../../x.html"])
def test_a_data_docs_page_outside_the_site_is_refused(page: str) -> None:
    with pytest.raises(ValueError, match="is not a path inside the site"):
        data_docs_url(BASE, page)


@pytest.mark.parametrize(
    ("error", "log_url", "expected"),
    [
        (
            RuntimeError("volume out of band\nsecond line"),
            f"{BASE}/dags/fraud_ingest/runs/r/tasks/validate_batch",
            "fraud_ingest.validate_batch failed: volume out of band;"
            f" log: {BASE}/dags/fraud_ingest/runs/r/tasks/validate_batch",
        ),
        (KeyError(), None, "fraud_ingest.validate_batch failed: KeyError"),
        (None, None, "fraud_ingest.validate_batch failed: unknown error"),
    ],
)
def test_a_failure_message_links_the_task_log(
    error: BaseException | None, log_url: str | None, expected: str
) -> None:
    assert failure_message("fraud_ingest", "validate_batch", error, log_url) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Drift on 2026-03-01. Report: http://h/fraud-monitoring/reports/2026-03-01.html;"
            " log: http://h/dags/d/runs/r/tasks/t?try_number=1.",
            '<p>Drift on 2026-03-01. Report: <a href="http://h/fraud-monitoring/reports/'
            '2026-03-01.html">http://h/fraud-monitoring/reports/2026-03-01.html</a>; log: '
            '<a href="http://h/dags/d/runs/r/tasks/t?try_number=1">'
            "http://h/dags/d/runs/r/tasks/t?try_number=1</a>.</p>",
        ),
        ("a <b> & no link", "<p>a &lt;b&gt; &amp; no link</p>"),
        ("file:///srv/report.html", "<p>file:///srv/report.html</p>"),
    ],
)
def test_the_email_body_makes_every_http_link_a_link(message: str, expected: str) -> None:
    assert html_message(message) == expected


def test_the_settings_default_to_the_local_airflow() -> None:
    assert drift_report_url(Settings().base_url, "2026-03-01") == (
        "http://localhost:8080/fraud-monitoring/reports/2026-03-01.html"
    )


# What would hand a person a file:// link: a literal that builds one, or pathlib's as_uri().
_FILE_LINK = re.compile(r"""["']file://|\.as_uri\(\)""")
# Reading the file:// URL Great Expectations gives for its local site is not producing one.
_READS_A_FILE_URL = re.compile(r"""removeprefix\(["']file://["']\)""")


def test_no_code_builds_a_file_link() -> None:
    found = [
        f"{path.relative_to(REPOSITORY_ROOT)}:{number}: {line.strip()}"
        for folder in ("include", "plugins", "dags")
        for path in sorted((REPOSITORY_ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if _FILE_LINK.search(_READS_A_FILE_URL.sub("", line))
    ]
    assert found == []
