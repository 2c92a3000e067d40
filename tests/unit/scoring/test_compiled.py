"""The compiled model scores as LightGBM does, and compiles once per model into its cache."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from fraud.config import load_settings
from fraud.model.registry import RegisteredModel
from fraud.scoring.compiled import cache_key, compile_booster, for_scoring
from fraud.scoring.predict import score_frame
from tests.support.simulated_model import COLUMNS, train_on_simulation

# The same leaf values summed in another order differ in the last bits, no more.
TOLERANCE = 1e-12


@cache
def _model_and_rows() -> tuple[lgb.Booster, pd.DataFrame]:
    """A model trained on simulated features (31-leaf trees) and a later window's rows to score."""
    return train_on_simulation(
        seed=6,
        params={"objective": "binary", "verbosity": -1, "seed": 1, "num_leaves": 31},
        rounds=60,
        scoring_window=(datetime(2026, 1, 20, tzinfo=UTC), datetime(2026, 1, 23, tzinfo=UTC)),
    )


def test_compiled_scores_equal_lightgbm_scores(tmp_path: Path) -> None:
    booster, rows = _model_and_rows()
    matrix = rows[COLUMNS].to_numpy(dtype=np.float64)

    compiled = compile_booster(booster, tmp_path)(matrix)

    np.testing.assert_allclose(compiled, booster.predict(rows[COLUMNS]), rtol=0, atol=TOLERANCE)


def test_missing_values_follow_the_trees_default_direction(tmp_path: Path) -> None:
    booster, rows = _model_and_rows()
    matrix = rows[COLUMNS].to_numpy(dtype=np.float64)
    matrix[::3, : len(COLUMNS) // 2] = np.nan

    compiled = compile_booster(booster, tmp_path)(matrix)

    np.testing.assert_allclose(compiled, booster.predict(matrix), rtol=0, atol=TOLERANCE)


def test_scoring_with_the_compiled_model_gives_the_same_alerts_and_reasons(
    tmp_path: Path,
) -> None:
    booster, rows = _model_and_rows()
    plain = RegisteredModel("compiled-test", 1, "run", booster)
    compiled = replace(plain, predictor=compile_booster(booster, tmp_path))

    expected = score_frame(plain, rows, run_id="r", alert_threshold=0.2)
    scored = score_frame(compiled, rows, run_id="r", alert_threshold=0.2)

    assert 5 <= expected["is_alert"].sum() < len(expected)
    np.testing.assert_allclose(scored["score"], expected["score"], rtol=0, atol=TOLERANCE)
    reasons = [f"reason_{slot}" for slot in (1, 2, 3)]
    pd.testing.assert_frame_equal(
        scored.drop(columns="score"), expected.drop(columns="score"), check_exact=False
    )
    assert scored[reasons].notna().any().all()


def test_the_cache_holds_a_model_file_an_object_file_and_a_manifest_per_model(
    tmp_path: Path,
) -> None:
    booster, rows = _model_and_rows()
    compile_booster(booster, tmp_path)
    built = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()}

    again = compile_booster(booster, tmp_path)  # read from the cache: nothing is written
    smaller = lgb.Booster(model_str=booster.model_to_string(num_iteration=10))
    compile_booster(smaller, tmp_path)

    key, smaller_key = cache_key(booster.model_to_string()), cache_key(smaller.model_to_string())
    assert set(built) == {f"{key}.txt", f"{key}.o", f"{key}.json"}
    now = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()}
    assert set(now) == {*built, f"{smaller_key}.txt", f"{smaller_key}.o", f"{smaller_key}.json"}
    assert {name: now[name] for name in built} == built
    matrix = rows[COLUMNS].to_numpy(dtype=np.float64)
    np.testing.assert_allclose(again(matrix), booster.predict(matrix), rtol=0, atol=TOLERANCE)


def test_two_processes_compiling_the_same_model_at_once_both_score(tmp_path: Path) -> None:
    """The shares of a night start together and may both find the cache empty."""
    booster, rows = _model_and_rows()
    model_file = tmp_path / "model.txt"
    booster.save_model(model_file)
    matrix_file = tmp_path / "rows.npy"
    np.save(matrix_file, rows[COLUMNS].to_numpy(dtype=np.float64))
    cache_dir = tmp_path / "cache"
    script = (
        "import sys, numpy as np, lightgbm as lgb; from pathlib import Path;"
        " from fraud.scoring.compiled import compile_booster;"
        " booster = lgb.Booster(model_file=sys.argv[1]);"
        " scores = compile_booster(booster, Path(sys.argv[3]))(np.load(sys.argv[2]));"
        " np.save(sys.argv[4], scores)"
    )
    outputs = [tmp_path / f"scores-{worker}.npy" for worker in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(model_file), str(matrix_file), str(cache_dir), out]
        )
        for out in outputs
    ]
    assert [worker.wait(timeout=300) for worker in workers] == [0, 0]

    expected = lgb.Booster(model_file=str(model_file)).predict(np.load(matrix_file))
    for output in outputs:
        np.testing.assert_allclose(np.load(output), expected, rtol=0, atol=TOLERANCE)
    assert sorted(path.suffix for path in cache_dir.iterdir()) == [".json", ".o", ".txt"]


def test_scoring_uses_lightgbm_when_compiling_is_switched_off(tmp_path: Path) -> None:
    booster, _ = _model_and_rows()
    model = RegisteredModel("compiled-test", 1, "run", booster)
    settings = load_settings({"FRAUD_SCORE_COMPILED": "false", "FRAUD_ARTIFACT_DIR": str(tmp_path)})

    assert for_scoring(model, settings) is model
    assert not (tmp_path / "compiled").exists()


def test_scoring_compiles_into_the_artifact_folder_by_default(tmp_path: Path) -> None:
    booster, _ = _model_and_rows()
    model = RegisteredModel("compiled-test", 1, "run", booster)
    settings = load_settings({"FRAUD_ARTIFACT_DIR": str(tmp_path)})

    scoring = for_scoring(model, settings)

    assert scoring.predictor is not None
    assert len(list((tmp_path / "compiled").glob("*.o"))) == 1
