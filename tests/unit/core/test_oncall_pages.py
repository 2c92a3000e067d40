"""docs/operations.md has an on-call page for every alert kind the notifier sends, and for every
alert a person can receive, each saying what it means, what to look at first and what fixes it."""

from __future__ import annotations

import re

import pytest

from fraud.config import REPOSITORY_ROOT
from fraud.monitoring.alerts import AlertKind

OPERATIONS = REPOSITORY_ROOT / "docs" / "operations.md"
PARTS = ("**What it means.**", "**Look first.**", "**Fix or replay.**")
# The pages a person on call needs, whether or not the alert has a kind of its own yet.
PAGES = (
    "Quality gate failed",
    "Task failed after retries",
    "Drift",
    "Promotion rejected or waiting for approval",
    "Deadline missed",
)


def _pages() -> dict[str, str]:
    """Each page of the "On-call pages" section by its heading, with its text."""
    section = OPERATIONS.read_text().split("\n## On-call pages\n", 1)[1].split("\n## ", 1)[0]
    chunks = re.split(r"^### (.+)$", section, flags=re.MULTILINE)
    return dict(zip(chunks[1::2], chunks[2::2], strict=True))


@pytest.mark.parametrize("kind", list(AlertKind), ids=str)
def test_every_alert_kind_has_its_page(kind: AlertKind) -> None:
    headings = [heading for heading in _pages() if f"(`{kind.value}`)" in heading]
    assert len(headings) == 1, f"docs/operations.md has no on-call page for `{kind.value}`"


@pytest.mark.parametrize("page", PAGES)
def test_each_page_says_what_it_means_where_to_look_and_what_fixes_it(page: str) -> None:
    (text,) = [text for heading, text in _pages().items() if heading.startswith(page)]
    assert [part for part in PARTS if part in text] == list(PARTS)
