"""The pipeline's Assets as Airflow objects; their names and URIs are declared in ``fraud.assets``."""

from __future__ import annotations

from airflow.sdk import Asset


def asset(spec: tuple[str, str]) -> Asset:
    """The Airflow Asset of one ``(name, uri)`` spec of :mod:`fraud.assets`."""
    name, uri = spec
    return Asset(name=name, uri=uri)
