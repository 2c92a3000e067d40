"""SQL kept in Python follows one convention (docs/architecture.md, "SQL in Python").

A statement the code runs is a module-level constant whose name ends in ``_SQL``, written with
lowercase keywords and named bind parameters, and a call that runs SQL takes such a constant,
never a string literal. The test reads every module of the product and the benchmarks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted(
    path
    for folder in ("include", "plugins", "dags", "benchmarks")
    for path in (REPOSITORY_ROOT / folder).rglob("*.py")
)
# A string that starts (after comments) with one of these is a statement.
STATEMENT = re.compile(
    r"^\s*(--[^\n]*\n\s*)*(select|insert|update|delete|with|create|alter|drop|do|copy|grant"
    r"|revoke|truncate|lock|set|vacuum|analyze|checkpoint|explain)\s",
    re.I,
)
UPPERCASE_KEYWORD = re.compile(
    r"\b(SELECT|FROM|WHERE|INSERT|UPDATE|DELETE|JOIN|GROUP BY|ORDER BY|VALUES)\b"
)
# The calls that run SQL, by the name of the function or method.
RUNNERS = {"text", "exec_driver_sql", "execute", "executemany"}


def _text(node: ast.expr, known: dict[str, str]) -> str | None:
    """The literal text a constant's value starts with, following names defined before it."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _text(node.func.value, known) if node.func.attr == "format" else None
    if isinstance(node, ast.BinOp):
        return _text(node.left, known)
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
        first = _text(node.elts[0], known)
        return first if first and " " in first.strip() else None
    return None


def _constants(tree: ast.Module) -> dict[str, str]:
    """Every module-level constant that holds a statement, by name."""
    known: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names, value = [t.id for t in node.targets if isinstance(t, ast.Name)], node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            names, value = [node.target.id], node.value
        else:
            continue
        text = _text(value, known)
        if text and STATEMENT.match(text):
            known.update(dict.fromkeys(names, text))
    return known


def _literal_statements(tree: ast.Module) -> list[int]:
    """Lines where a call that runs SQL is handed a statement as a literal."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        text = _text(node.args[0], {})
        if name in RUNNERS and text and STATEMENT.match(text):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(REPOSITORY_ROOT)))
def test_statements_are_named_constants_in_lowercase(path: Path) -> None:
    tree = ast.parse(path.read_text())
    constants = _constants(tree)
    assert [name for name in constants if not name.endswith("_SQL")] == []
    shouting = [name for name, text in constants.items() if UPPERCASE_KEYWORD.search(text)]
    assert shouting == []
    assert _literal_statements(tree) == [], "run a named *_SQL constant, not a literal"


def test_the_convention_finds_what_it_forbids() -> None:
    tree = ast.parse(
        'ROWS = "select 1"\n'
        'DAY_SQL = """\nSELECT * FROM raw.transactions\n"""\n'
        'MORE = ROWS + " union all select 2"\n'
        'PRIVILEGES = ("SELECT", "INSERT")\n'
        'connection.execute(sa.text("delete from x where id = :id"))\n'
    )
    constants = _constants(tree)
    assert sorted(constants) == ["DAY_SQL", "MORE", "ROWS"]
    assert [name for name, text in constants.items() if UPPERCASE_KEYWORD.search(text)] == [
        "DAY_SQL"
    ]
    assert _literal_statements(tree) == [7]
