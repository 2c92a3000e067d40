"""Task results through XCom: out as JSON values and back as the same dataclass."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from fraud.xcom import from_xcom, to_xcom


@dataclass(frozen=True)
class Inner:
    name: str
    count: int


@dataclass(frozen=True)
class Outcome:
    moment: datetime
    day: date
    path: Path
    names: tuple[str, ...]
    inners: tuple[Inner, ...]
    seconds: dict[str, float] = field(default_factory=dict)
    optional: int | None = None


OUTCOME = Outcome(
    moment=datetime(2026, 3, 2, 5, tzinfo=UTC),
    day=date(2026, 3, 2),
    path=Path("/tmp/report.html"),
    names=("score", "tx_amount"),
    inners=(Inner("a", 1), Inner("b", 2)),
    seconds={"read": 1.5},
)


def test_an_outcome_survives_the_trip_through_json() -> None:
    assert from_xcom(Outcome, json.loads(json.dumps(to_xcom(OUTCOME)))) == OUTCOME


def test_numpy_scalars_become_plain_numbers() -> None:
    assert to_xcom(Inner("a", np.int64(3))) == {"name": "a", "count": 3}
    assert type(to_xcom(np.float64(0.5))) is float


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Inner has no field\(s\) \['extra'\]"):
        from_xcom(Inner, {"name": "a", "count": 1, "extra": 2})
