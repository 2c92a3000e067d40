"""One method of the scoring benchmark, measured in a process of its own.

``python -m benchmarks.scoring_child`` reads the method and the scratch database from stdin,
imports and connects first, then times only the method and prints its seconds and peak memory.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from benchmarks.scoring_data import RUN_ID
from fraud.bulk import dbapi
from fraud.db import create_warehouse_engine
from fraud.model.alert_policy import AlertPolicy
from fraud.model.registry import RegisteredModel
from fraud.resources import peak_rss_mib
from fraud.scoring.compiled import compile_booster
from fraud.scoring.predict import SCORE_COLUMNS
from fraud.scoring.score import features_query, mark_top_k, score_share
from fraud.shares import WHOLE, all_shares

# Opens the pool's first connection, so its cost is not measured as the step's.
_CONNECT_SQL = "select 1"

MODEL_NAME = "fraud-benchmark"
_COPY_IN_SQL = f"""
copy scoring.transaction_scores ({", ".join(SCORE_COLUMNS)}) from stdin with (format csv)
"""


def _bounds(spec: dict[str, object]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(str(spec["start"])), datetime.fromisoformat(str(spec["end"]))


def _score_ours(engine: Engine, model: RegisteredModel, spec: dict[str, object]) -> None:
    """Our step as the nightly DAG runs it: each share in its own transaction, then the night's
    alerts."""
    start, end = _bounds(spec)
    for share in all_shares(int(str(spec["shares"]))):
        score_share(
            engine,
            model,
            interval_start=start,
            interval_end=end,
            run_id=RUN_ID,
            share=share,
            chunk_rows=int(str(spec["chunk_rows"])),
        )
    with engine.begin() as connection:
        mark_top_k(
            connection,
            model,
            interval_start=start,
            interval_end=end,
            policy=AlertPolicy(
                ranking=str(spec["alert_ranking"]),
                capacity=int(str(spec["review_capacity"])),
                threshold=(
                    None if spec["alert_threshold"] is None else float(str(spec["alert_threshold"]))
                ),
                horizon_days=int(str(spec["horizon_days"])),
            ),
        )


def _copy_floor(engine: Engine, model: RegisteredModel, spec: dict[str, object]) -> None:
    """The same select copied out and discarded, the prepared score rows copied in, committed."""
    start, end = _bounds(spec)
    with engine.begin() as connection:
        raw = dbapi(connection)
        query = features_query(connection, start, end, WHOLE)
        with open(os.devnull, "wb") as sink, raw.cursor() as cursor:
            cursor.copy_expert(f"copy ({query}) to stdout with (format csv, header)", sink)
        with open(str(spec["csv_path"]), "rb") as source, raw.cursor() as cursor:
            cursor.copy_expert(_COPY_IN_SQL, source)


def _score_tutorial(engine: Engine, model: RegisteredModel, spec: dict[str, object]) -> None:
    """The tutorial way: ``read_sql`` the same select, ``predict``, ``to_sql`` append."""
    import pandas as pd

    start, end = _bounds(spec)
    with engine.connect() as connection:
        query = features_query(connection, start, end, WHOLE)
    frame = pd.read_sql(query, engine)
    scores = model.booster.predict(frame[model.booster.feature_name()])
    result = frame[["transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount"]]
    result = result.assign(
        score=scores,
        model_name=model.name,
        model_version=model.version,
        # Alerts are chosen per card over the night afterwards, as ours does.
        is_alert=False,
        run_id=RUN_ID,
    )
    result.to_sql("transaction_scores", engine, schema="scoring", if_exists="append", index=False)


def _load_model(spec: dict[str, object]) -> RegisteredModel:
    """The saved booster as the registry hands it over (MLflow loads the same model file).

    Our step also gets the compiled model, read from the cache the parent process filled.
    """
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(spec["model_path"]))
    model = RegisteredModel(MODEL_NAME, 1, RUN_ID, booster)
    if spec["method"] == "ours" and spec.get("compiled_dir"):
        return replace(model, predictor=compile_booster(booster, Path(str(spec["compiled_dir"]))))
    return model


_MEASURES: dict[str, Callable[[Engine, RegisteredModel, dict[str, object]], None]] = {
    "ours": _score_ours,
    "floor": _copy_floor,
    "tutorial": _score_tutorial,
}


def measure(spec: dict[str, object]) -> dict[str, float]:
    """In the child: import and connect first, then time one method and read the peak memory."""
    import lightgbm  # noqa: F401 - every method starts with the same libraries loaded
    import pandas  # noqa: F401
    import pyarrow.csv  # noqa: F401

    import fraud.scoring.score  # noqa: F401

    model = _load_model(spec)
    engine = create_warehouse_engine(str(spec["url"]))
    with engine.connect() as connection:
        connection.exec_driver_sql(_CONNECT_SQL)
    baseline = peak_rss_mib()
    started = time.perf_counter()
    _MEASURES[str(spec["method"])](engine, model, spec)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib(), "baseline_rss_mib": baseline}


if __name__ == "__main__":
    print(json.dumps(measure(json.load(sys.stdin))))
