"""Benchmark the nightly PSI: one million current rows against a fixed reference, 20 features.

Builds a reference (quantile bins) from 200,000 rows, then times :func:`fraud.monitoring.psi.psi` on a
current frame of ``--rows`` rows and ``--features`` columns: half continuous (normal and
log-normal, some missing), half count-like integers with many ties, as the real features are.
Prints the best and median wall-clock seconds over ``--repeats`` runs, with the machine and its
load average, since the figure depends on both.

    python -m benchmarks.psi_benchmark --rows 1000000 --features 20
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import pandas as pd

from fraud.model.reference import build_reference
from fraud.monitoring.psi import psi


def frame(rows: int, features: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Synthetic features: continuous columns (1% missing) and count columns with ties."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for index in range(features):
        if index % 2 == 0:
            values = rng.lognormal(mean=3.0 + shift, sigma=1.0, size=rows)
            values[rng.random(rows) < 0.01] = np.nan
        else:
            values = rng.poisson(lam=2.0 + index + shift, size=rows).astype(np.float64)
        columns[f"feature_{index:02d}"] = values
    return pd.DataFrame(columns)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or 'n/a' where the OS does not report them."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--reference-rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    load_before = load_average()

    reference_frame = frame(arguments.reference_rows, arguments.features, seed=1)
    started = time.perf_counter()
    reference = build_reference(reference_frame, list(reference_frame.columns))
    reference_seconds = time.perf_counter() - started
    current = frame(arguments.rows, arguments.features, seed=2, shift=0.05)

    timings = []
    for _ in range(arguments.repeats):
        started = time.perf_counter()
        results = psi(reference, current)
        timings.append(time.perf_counter() - started)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or '?'}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"load average before: {load_before}")
    print(f"reference: {arguments.reference_rows:,} rows, built in {reference_seconds:.3f} s")
    print(
        f"psi: {arguments.rows:,} rows x {arguments.features} features:"
        f" best {min(timings):.3f} s, median {statistics.median(timings):.3f} s"
        f" over {arguments.repeats} runs"
    )
    print(f"max PSI {max(result.psi for result in results.values()):.4f}")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
