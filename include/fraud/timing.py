"""Wall-clock timing of a stage's steps, for its log line and its outcome: one stopwatch for all."""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import contextmanager


class Stopwatch:
    """Seconds since it started: running until :meth:`stop`, then fixed."""

    def __init__(self) -> None:
        self._started = self._lap = time.perf_counter()
        self._stopped: float | None = None

    @property
    def seconds(self) -> float:
        """Seconds from the start to now, or to the stop once stopped."""
        end = time.perf_counter() if self._stopped is None else self._stopped
        return end - self._started

    def lap(self) -> float:
        """Seconds since the previous lap (or the start): one chunk's time in a loop of chunks."""
        now = time.perf_counter()
        seconds, self._lap = now - self._lap, now
        return seconds

    def stop(self) -> float:
        """Fix the seconds at now (once) and return them."""
        if self._stopped is None:
            self._stopped = time.perf_counter()
        return self.seconds


@contextmanager
def timed(
    phases: dict[str, float] | None = None, phase: str = ""
) -> Generator[Stopwatch, None, None]:
    """A stopwatch for the block, stopped when the block ends, however it ends.

    With ``phases``, the block's seconds are also recorded as ``phases[phase]``, to the
    millisecond: the per-phase seconds a stage logs and returns.
    """
    watch = Stopwatch()
    try:
        yield watch
    finally:
        watch.stop()
        if phases is not None:
            phases[phase] = round(watch.seconds, 3)
