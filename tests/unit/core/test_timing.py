"""The one stopwatch: running until stopped, laps in a loop, phases recorded however a block ends."""

from __future__ import annotations

from contextlib import nullcontext

import pytest

from fraud import timing
from fraud.timing import Stopwatch, timed


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A clock the test moves by hand: ``clock[0]`` is now."""
    now = [100.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: now[0])
    return now


def test_a_stopwatch_runs_until_stopped_then_stays(clock: list[float]) -> None:
    watch = Stopwatch()
    clock[0] += 2.5
    assert watch.seconds == 2.5
    assert watch.stop() == 2.5
    clock[0] += 10
    assert (watch.seconds, watch.stop()) == (2.5, 2.5)


def test_laps_count_from_the_previous_lap(clock: list[float]) -> None:
    watch = Stopwatch()
    laps = []
    for step in (1.0, 3.0, 0.5):
        clock[0] += step
        laps.append(watch.lap())
    assert laps == [1.0, 3.0, 0.5]
    assert watch.seconds == 4.5


@pytest.mark.parametrize("fails", [False, True])
def test_a_timed_block_records_its_phase_however_it_ends(clock: list[float], fails: bool) -> None:
    phases: dict[str, float] = {}
    with pytest.raises(RuntimeError) if fails else nullcontext():
        with timed(phases, "read") as watch:
            clock[0] += 1.23456
            if fails:
                raise RuntimeError("read failed")
    assert phases == {"read": 1.235}
    clock[0] += 5
    assert watch.seconds == pytest.approx(1.23456)
