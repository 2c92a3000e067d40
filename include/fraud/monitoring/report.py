"""Evidently's data-drift report: the night beside the model version's reference sample, for people."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fraud.atomic_files import replacing_whole
from fraud.model.reference import sample_reference


def write_evidently_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str],
    path: Path,
    categorical: Sequence[str] = (),
    max_current_rows: int = 20_000,
) -> Path:
    """Write Evidently's drift report (PSI on its own bins, current sampled) for people to read."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[column for column in columns if column not in categorical],
        categorical_columns=[column for column in columns if column in categorical],
    )
    report = Report([DataDriftPreset(columns=list(columns), method="psi")])
    snapshot = report.run(
        current_data=Dataset.from_pandas(
            sample_reference(current[list(columns)], n=max_current_rows),
            data_definition=definition,
        ),
        reference_data=Dataset.from_pandas(reference[list(columns)], data_definition=definition),
    )
    # Written whole: the page may be serving the previous version of this night's report.
    with replacing_whole(path) as scratch:
        # save_html silently writes nothing when given a Path rather than a str.
        snapshot.save_html(str(scratch))
    return path
