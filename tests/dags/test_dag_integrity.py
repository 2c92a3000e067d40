"""DAG integrity: every DAG imports, is documented, tagged and retried, and parses cheaply."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))
HEAVY_MODULES = {
    "pandas",
    "numpy",
    "lightgbm",
    "mlflow",
    "evidently",
    "great_expectations",
    "sklearn",
}
EXPECTED_DAGS = {"fraud_ingest", "fraud_score", "fraud_drift", "fraud_retrain"}


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_no_import_errors(dag_bag) -> None:
    assert dag_bag.import_errors == {}


def test_expected_dags_exist(dag_bag) -> None:
    assert set(dag_bag.dag_ids) == EXPECTED_DAGS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_dag_has_tags_docs_and_retries(dag_bag, dag_id: str) -> None:
    dag = dag_bag.dags[dag_id]
    assert dag.tags, f"{dag_id} has no tags"
    assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id} has no documentation"
    for task in dag.tasks:
        assert task.retries >= 1, f"{dag_id}.{task.task_id} does not retry"
        assert task.on_failure_callback, f"{dag_id}.{task.task_id} raises no alert on failure"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_file_is_named_after_its_dag(dag_file: Path, dag_bag) -> None:
    assert dag_file.stem in dag_bag.dag_ids


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_no_heavy_import_at_top_level(dag_file: Path) -> None:
    tree = ast.parse(dag_file.read_text())
    top_level: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            top_level.add(node.module.split(".")[0])
    assert not top_level & HEAVY_MODULES


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_parsing_does_not_load_heavy_modules(dag_file: Path) -> None:
    """Importing the DAG file in a fresh interpreter loads none of the heavy libraries."""
    probe = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('probe', {str(dag_file)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"print(sorted(name for name in {sorted(HEAVY_MODULES)!r} if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


# The Trigger form's fields: DAG -> {param: (JSON-schema type, format)}.
TRIGGER_PARAMS = {
    "fraud_score": {
        "date": (["null", "string"], "date"),
        "model_version": (["null", "integer"], None),
    },
    "fraud_retrain": {"as_of": (["null", "string"], "date")},
    "fraud_ingest": {},
    "fraud_drift": {},
}


@pytest.mark.parametrize("dag_id", sorted(TRIGGER_PARAMS))
def test_manual_triggers_have_typed_described_params(dag_bag, dag_id: str) -> None:
    params = dag_bag.dags[dag_id].params
    schemas = {name: params.get_param(name).schema for name in params}
    assert {
        name: (schema["type"], schema.get("format")) for name, schema in schemas.items()
    } == TRIGGER_PARAMS[dag_id]
    for name in params:
        param = params.get_param(name)
        assert param.value is None, f"{dag_id}.{name}: a scheduled run must not pick it"
        assert param.description and param.schema.get("title"), f"{dag_id}.{name} is undescribed"


@pytest.mark.parametrize(
    ("dag_id", "conf", "valid"),
    [
        ("fraud_score", {"date": "2026-02-21", "model_version": 3}, True),
        ("fraud_score", {"model_version": "three"}, False),
        ("fraud_score", {"model_version": 0}, False),
        ("fraud_score", {"date": "21/02/2026"}, False),
        ("fraud_retrain", {"as_of": "2026-02-20"}, True),
        ("fraud_retrain", {"as_of": "last week"}, False),
    ],
)
def test_trigger_params_are_validated(dag_bag, dag_id: str, conf: dict, valid: bool) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    params = dag_bag.dags[dag_id].params
    if valid:
        assert {name: params.get_param(name).resolve(value) for name, value in conf.items()} == conf
    else:
        with pytest.raises(ParamValidationError):
            for name, value in conf.items():
                params.get_param(name).resolve(value)
