"""One glossary of the model features, declared beside the columns: the warehouse's rows and the
analysts' guide are generated from it, and every feature has an entry."""

from __future__ import annotations

from fraud.config import REPOSITORY_ROOT
from fraud.features.columns import (
    FEATURE_COLUMNS,
    FEATURE_GLOSSARY,
    glossary_markdown,
    glossary_sql,
)

REGENERATE = (
    "regenerate it: python -c 'from fraud.features.columns import glossary_sql;"
    ' open("sql/R__analytics_feature_glossary.sql", "w").write(glossary_sql())\''
)


def test_every_model_feature_has_one_entry_in_the_columns_order() -> None:
    names = [doc.name for doc in FEATURE_GLOSSARY]
    missing = sorted(set(FEATURE_COLUMNS) - set(names))
    assert not missing, f"features without a glossary entry in fraud.features.columns: {missing}"
    assert names == list(FEATURE_COLUMNS)
    assert all(doc.meaning.strip() and doc.unit.strip() for doc in FEATURE_GLOSSARY)


def test_the_migrations_load_the_declared_glossary() -> None:
    loaded = (REPOSITORY_ROOT / "sql" / "R__analytics_feature_glossary.sql").read_text()
    assert loaded == glossary_sql(), REGENERATE


def test_the_analysts_guide_renders_the_declared_glossary() -> None:
    guide = (REPOSITORY_ROOT / "docs" / "analysts.md").read_text()
    assert glossary_markdown() in guide, (
        "docs/analysts.md: paste fraud.features.columns.glossary_markdown() over its glossary"
    )
