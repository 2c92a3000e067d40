"""Great Expectations plumbing of the quality gate: suites, the file context, checkpoints, Data Docs.

The suites are read from ``expectations/*.json``; every expectation declares in ``meta.level``
whether a failure quarantines rows (``row``) or stops the run (``batch``). This module turns a
checkpoint run into those two kinds of failure; ``fraud.validate`` decides what to do with them.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraud.config import REPOSITORY_ROOT

if TYPE_CHECKING:
    import pandas as pd

EXPECTATIONS_DIR = REPOSITORY_ROOT / "expectations"
RESULT_FORMAT = {"result_format": "COMPLETE"}
_LEVELS = ("row", "batch")
# Namespace of the expectations' ids: each id is derived from the expectation's name, so every
# process that registers the suites writes the same ids (GX would give each one new random ids,
# and a context opened earlier in another process would then see its suites as changed).
_ID_NAMESPACE = uuid.UUID("7f0c5a52-2d0e-4f0b-9d55-2b7d1c9e8a41")
_ASSETS = ("transactions", "fraud_labels")
# Which suites each checkpoint validates; the schema runs alone first because the row checks
# cannot be evaluated on missing or retyped columns.
_CHECKPOINTS: dict[str, tuple[str, ...]] = {
    "transactions_schema": ("transactions_schema",),
    "transactions": ("transactions", "transactions_volume"),
    "transactions_without_volume": ("transactions",),
    "fraud_labels": ("fraud_labels",),
}


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation: its name, its level, what was observed and a one-line message."""

    expectation: str
    level: str
    observed: str
    message: str


RowFailure = tuple[str, list[int]]


@dataclass(frozen=True)
class CheckpointRun:
    """Failed expectations of one checkpoint run (in suite order) and its stored result ids."""

    found: list[ExpectationFailure | RowFailure]
    result_ids: tuple[Any, ...]


@dataclass(frozen=True)
class GateContext:
    """An open file-backed context with one checkpoint per validation step."""

    context: Any
    checkpoints: Mapping[str, Any]
    docs_index: Path | None


@functools.cache
def load_suites(expectations_dir: Path = EXPECTATIONS_DIR) -> dict[str, dict[str, Any]]:
    """Read the versioned suites and check each expectation declares its level and notes."""
    suites: dict[str, dict[str, Any]] = {}
    for path in sorted(expectations_dir.glob("*.json")):
        suite = json.loads(path.read_text())
        names = [expectation_name(suite["name"], item) for item in suite["expectations"]]
        if len(set(names)) != len(names):
            raise ValueError(f"{path.name}: two expectations share a name")
        for name, item in zip(names, suite["expectations"], strict=True):
            meta = item.get("meta", {})
            if meta.get("level") not in _LEVELS or not meta.get("notes"):
                raise ValueError(f"{path.name}: {name} needs meta.level (row|batch) and meta.notes")
        suites[suite["name"]] = suite
    return suites


def with_stable_ids(suite: Mapping[str, Any]) -> dict[str, Any]:
    """The suite with an id on every expectation that depends only on the expectation's name."""
    return {
        **suite,
        "expectations": [
            {**item, "id": str(uuid.uuid5(_ID_NAMESPACE, expectation_name(suite["name"], item)))}
            for item in suite["expectations"]
        ],
    }


def expectation_name(suite_name: str, expectation: Mapping[str, Any]) -> str:
    """Name an expectation as ``suite.type(columns)``, the form stored in quarantine rows."""
    kwargs = expectation.get("kwargs", {})
    columns = [str(kwargs[key]) for key in ("column", "column_A", "column_B") if key in kwargs]
    suffix = f"({','.join(columns)})" if columns else ""
    return f"{suite_name}.{expectation['type']}{suffix}"


@functools.cache
def open_context(context_dir: Path) -> GateContext:
    """Create or open the GX project under ``context_dir`` and register suites and checkpoints."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from fraud.quality.data_docs import site_config

    context_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", context_root_dir=str(context_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # Data Docs are written whole, file by file, while the monitoring page serves them.
    context.variables.data_docs_sites = site_config()
    context.variables.save()
    source = _pandas_source(context)
    batches = {name: _whole_frame(source, name) for name in _ASSETS}
    definitions = {}
    for name, suite in load_suites().items():
        _ensure_suite(context, name)
        stored = context.suites.add_or_update(gx.ExpectationSuite(**with_stable_ids(suite)))
        definition = gx.ValidationDefinition(
            name=name, data=batches[suite["meta"]["data_asset"]], suite=stored
        )
        definitions[name] = context.validation_definitions.add_or_update(definition)
    checkpoints = {
        name: context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name,
                validation_definitions=[definitions[suite] for suite in suites],
                result_format=RESULT_FORMAT,
            )
        )
        for name, suites in _CHECKPOINTS.items()
    }
    return GateContext(context=context, checkpoints=checkpoints, docs_index=_docs_index(context))


def _ensure_suite(context: Any, name: str) -> None:
    """Create an empty suite when there is none, so the suite is then written by an update.

    GX's create path gives every expectation a new random id; its update path keeps ours.
    """
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    try:
        context.suites.get(name=name)
    except DataContextError:
        context.suites.add(gx.ExpectationSuite(name=name))


def _docs_index(context: Any) -> Path | None:
    """Absolute path of the local Data Docs site's index.html (it may not be built yet)."""
    sites = context.get_docs_sites_urls(only_if_exists=False)
    url = sites[0]["site_url"] if sites else None
    return Path(url.removeprefix("file://")).resolve() if url else None


def _pandas_source(context: Any) -> Any:
    """Return the in-memory pandas data source, adding it on first use."""
    try:
        return context.data_sources.get("frames")
    except (KeyError, ValueError):
        return context.data_sources.add_pandas("frames")


def _whole_frame(source: Any, asset_name: str) -> Any:
    """Return the whole-dataframe batch definition of an asset, adding both on first use."""
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition("whole_frame")
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe("whole_frame")


def run_checkpoint(
    gate_context: GateContext,
    checkpoint: str,
    frame: pd.DataFrame,
    parameters: Mapping[str, Any],
    run_name: str | None,
) -> CheckpointRun:
    """Run one checkpoint on a frame; return batch failures and row failures with positions."""
    from great_expectations.core.run_identifier import RunIdentifier

    # The result store files results under the run name, where a path separator cannot go.
    safe_name = run_name.replace("/", "_").replace("\\", "_") if run_name else None
    run_id = RunIdentifier(run_name=safe_name) if safe_name else None
    result = gate_context.checkpoints[checkpoint].run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=dict(parameters),
        run_id=run_id,
    )
    order = _expectation_order()
    found: list[tuple[int, ExpectationFailure | RowFailure]] = []
    for validation in result.run_results.values():
        for item in validation.results:
            if item.success:
                continue
            config = item.expectation_config
            name = expectation_name(
                validation.suite_name, {"type": config.type, "kwargs": config.kwargs}
            )
            found.append((order.get(name, len(order)), _failure_of(name, config, item)))
    return CheckpointRun(
        found=[failure for _, failure in sorted(found, key=lambda pair: pair[0])],
        result_ids=tuple(result.run_results),
    )


def _expectation_order() -> dict[str, int]:
    """Position of every expectation across the suites, so failures are reported in that order."""
    suites = load_suites()
    names = [
        expectation_name(name, item) for name in suites for item in suites[name]["expectations"]
    ]
    return {name: position for position, name in enumerate(names)}


def build_data_docs(context_dir: Path, result_ids: Sequence[Any]) -> str | None:
    """Render the given validation results and the site index; return the index's absolute path."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    gate_context = open_context(Path(context_dir).resolve())
    suites = {result_id.expectation_suite_identifier.name for result_id in result_ids}
    gate_context.context.build_data_docs(
        resource_identifiers=[
            *result_ids,
            *(ExpectationSuiteIdentifier(name=name) for name in sorted(suites)),
        ]
    )
    index = gate_context.docs_index
    return str(index) if index is not None and index.is_file() else None


def _failure_of(name: str, config: Any, item: Any) -> ExpectationFailure | RowFailure:
    """Turn one failed GX result into a batch failure, or a row failure with its positions."""
    exception = item.exception_info or {}
    raised = exception.get("raised_exception") or any(
        isinstance(value, dict) and value.get("raised_exception") for value in exception.values()
    )
    if raised:
        observed = one_line(_exception_message(exception))
        return ExpectationFailure(name, "batch", observed, f"{name} could not run: {observed}")
    details = item.result or {}
    if config.meta.get("level") == "row" and "unexpected_index_list" in details:
        return (name, [int(position) for position in details["unexpected_index_list"]])
    observed = _observed(details)
    message = f"{name} failed: observed {observed}{_expected(config.kwargs)}"
    return ExpectationFailure(name, "batch", observed, one_line(message))


def _expected(kwargs: Mapping[str, Any]) -> str:
    """Describe the bounds or type a batch expectation asked for, for its failure message."""
    if "min_value" in kwargs or "max_value" in kwargs:
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        return f", expected between {_number(low)} and {_number(high)}"
    if "type_" in kwargs:
        return f", expected {kwargs['type_']}"
    return ""


def _number(value: object) -> str:
    """Print a bound compactly: integral floats without their decimals."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _exception_message(exception: Mapping[str, Any]) -> str:
    """Find the first exception message in a GX exception_info mapping."""
    if exception.get("exception_message"):
        return str(exception["exception_message"])
    for value in exception.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return "unknown error"


def _observed(details: Mapping[str, Any]) -> str:
    """Summarise the observed value of a failed batch expectation on one line."""
    observed = details.get("observed_value")
    mismatched = (details.get("details") or {}).get("mismatched")
    if mismatched:
        parts = [f"{key} {sorted(map(str, value))}" for key, value in mismatched.items() if value]
        return one_line("; ".join(parts) or repr(observed))
    if "unexpected_count" in details:
        return one_line(
            f"{details['unexpected_count']} of {details.get('element_count')} rows, e.g. "
            f"{details.get('partial_unexpected_list', [])[:3]!r}"
        )
    return one_line(str(observed))


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace so a message stays on one line, and cap its length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
