"""The house rules of ``docs/architecture.md``, read from the code's own import statements.

Every import counts, those inside functions too: a stage imported lazily is still a dependency.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraud.config import REPOSITORY_ROOT

INCLUDE = REPOSITORY_ROOT / "include"
# The layers of docs/architecture.md, lowest first: a module imports its own group and lower
# layers only, never a layer above it nor another stage of its own layer.
CORE = {
    "fraud.assets",
    "fraud.atomic_files",
    "fraud.bulk",
    "fraud.config",
    "fraud.variables",
    "fraud.dag_ids",
    "fraud.dates",
    "fraud.db",
    "fraud.gates",
    "fraud.labels",
    "fraud.links",
    "fraud.locks",
    "fraud.logins",
    "fraud.masking",
    "fraud.migrations",
    "fraud.partitions",
    "fraud.payments",
    "fraud.privileges",
    "fraud.results",
    "fraud.resources",
    "fraud.scratch",
    "fraud.shares",
    "fraud.timing",
    "fraud.xcom",
}
ENTRY_POINTS = {
    "fraud.tasks",
    "fraud.status",
    "fraud.commands",
    "fraud.verdict_commands",
    "fraud.cli",
}
LAYERS: dict[str, int] = {
    "core": 0,
    "fraud.simulation": 1,
    "fraud.quality": 1,
    "fraud.cases": 1,
    "fraud.features": 1,
    "fraud.model": 2,
    "fraud.scoring": 3,
    "fraud.monitoring": 4,
    "fraud.dashboard": 5,
    "fraud.local": 6,
    "entry points": 7,
}
LARGEST_MODULE_LINES = 400


def _modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of a package under ``root``, by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(path: Path) -> Iterator[str]:
    """Every module a file imports, wherever the import statement stands."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


FRAUD = _modules(INCLUDE, "fraud")


def _group(module: str) -> str:
    """The group a module belongs to: the core, a stage's package, or the entry points."""
    if module in CORE:
        return "core"
    if module in ENTRY_POINTS:
        return "entry points"
    stage = ".".join(module.split(".")[:2])
    assert stage in LAYERS, f"{module} is in no layer of docs/architecture.md"
    return stage


@pytest.mark.parametrize("module", sorted(name for name in FRAUD if name != "fraud"))
def test_every_module_has_a_layer(module: str) -> None:
    assert _group(module) in LAYERS


@pytest.mark.parametrize("module", sorted(FRAUD))
def test_a_module_imports_its_package_and_lower_layers_only(module: str) -> None:
    if module == "fraud":
        return
    own = _group(module)
    for imported in _imports(FRAUD[module]):
        if imported not in FRAUD or imported == "fraud":
            continue
        target = _group(imported)
        assert target == own or LAYERS[target] < LAYERS[own], f"{module} imports {imported}"


@pytest.mark.parametrize("module", sorted(FRAUD))
def test_the_domain_package_imports_nothing_of_airflow(module: str) -> None:
    assert not [name for name in _imports(FRAUD[module]) if name.split(".")[0] == "airflow"]


def _closure(start: list[Path], modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that the files reach through their imports."""
    seen: set[str] = set()
    pending = list(start)
    while pending:
        for imported in _imports(pending.pop()):
            if imported in modules and imported not in seen:
                seen.add(imported)
                pending.append(modules[imported])
    return seen


def test_what_the_workers_run_never_reaches_the_local_stack() -> None:
    workers = [
        *sorted((REPOSITORY_ROOT / "dags").glob("*.py")),
        *sorted((REPOSITORY_ROOT / "plugins").glob("*.py")),
        *_modules(INCLUDE, "fraud_airflow").values(),
        FRAUD["fraud.tasks"],
    ]
    reached = _closure(workers, FRAUD)
    assert {"fraud.tasks", "fraud.scoring.score", "fraud.quality.validate"} <= reached
    assert not {name for name in reached if name.startswith("fraud.local")}


def test_the_import_graph_has_no_cycle() -> None:
    graph = {
        module: {name for name in _imports(path) if name in FRAUD and name != module}
        for module, path in FRAUD.items()
    }
    state: dict[str, str] = {}

    def visit(module: str, trail: tuple[str, ...]) -> None:
        state[module] = "open"
        for imported in graph[module]:
            assert state.get(imported) != "open", " -> ".join((*trail, module, imported))
            if imported not in state:
                visit(imported, (*trail, module))
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, ())


@pytest.mark.parametrize(
    "path", sorted([*FRAUD.values(), *_modules(INCLUDE, "fraud_airflow").values()]), ids=str
)
def test_no_module_is_over_about_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= LARGEST_MODULE_LINES


def test_benchmarks_use_no_private_name_of_the_product() -> None:
    for path in sorted((REPOSITORY_ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fraud"):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"


@pytest.mark.parametrize("document", ["README.md", "docs/architecture.md"])
def test_the_module_maps_name_every_module(document: str) -> None:
    text = (REPOSITORY_ROOT / document).read_text()
    unnamed = [
        module
        for module, path in FRAUD.items()
        if path.name != "__init__.py" and f"`{path.name}`" not in text
    ]
    assert not unnamed, f"{document} does not name {unnamed}"


# The places outside the domain package whose imports docs/architecture.md states, and their files.
PLACES: dict[str, list[Path]] = {
    "dags/": sorted((REPOSITORY_ROOT / "dags").glob("*.py")),
    "include/fraud_airflow/": sorted((INCLUDE / "fraud_airflow").glob("*.py")),
    "plugins/": sorted((REPOSITORY_ROOT / "plugins").glob("*.py")),
    "benchmarks/": sorted((REPOSITORY_ROOT / "benchmarks").glob("*.py")),
}
# This repository's packages, and Airflow: the imports the rules govern (the rest is libraries).
GOVERNED = {"airflow", "benchmarks", "fraud", "fraud_airflow"}
_MODULE_NAME = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*")


def _import_rules() -> dict[str, tuple[str, ...]]:
    """The table that follows "Outside the domain package" in docs/architecture.md: each place and
    the modules (with their submodules) it may import."""
    text = (REPOSITORY_ROOT / "docs" / "architecture.md").read_text()
    section = text.split("Outside the domain package", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    end = next(
        (index for index, line in enumerate(rows) if index and not rows[index - 1]), len(rows)
    )
    rules = {}
    for row in rows[2:end]:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        names = re.findall(r"`([^`]+)`", cells[-1])
        rules[cells[0].strip("`")] = tuple(name for name in names if _MODULE_NAME.fullmatch(name))
    return rules


def _dependencies(path: Path) -> Iterator[str]:
    """The modules a file depends on: ``from fraud import dag_ids`` is ``fraud.dag_ids``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in GOVERNED:
                yield from (f"{node.module}.{alias.name}" for alias in node.names)
            else:
                yield node.module


def test_the_doc_states_the_imports_of_every_place() -> None:
    rules = _import_rules()
    assert set(rules) == set(PLACES)
    assert all(rules.values())


@pytest.mark.parametrize(
    ("place", "path"),
    [(place, path) for place, paths in PLACES.items() for path in paths],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_a_place_imports_only_what_the_doc_allows_it(place: str, path: Path) -> None:
    allowed = _import_rules()[place]
    for module in _dependencies(path):
        if module.split(".")[0] not in GOVERNED:
            continue
        assert any(module == name or module.startswith(f"{name}.") for name in allowed), (
            f"{path.relative_to(REPOSITORY_ROOT)} imports {module}: docs/architecture.md allows"
            f" {place} only {', '.join(allowed)}"
        )


def test_the_dags_import_no_stage() -> None:
    stages = {name for name in LAYERS if name.startswith("fraud.")}
    reached = {
        ".".join(module.split(".")[:2])
        for path in PLACES["dags/"]
        for module in _dependencies(path)
    }
    assert not reached & stages
