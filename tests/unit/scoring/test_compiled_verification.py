"""Compiled code is verified before it runs: a tampered object file or model text, a symbolic
link in place of a cache file and a cache folder others can write are each refused with a
warning, and the scores stay the booster's own."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable
from functools import cache
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from fraud.config import load_settings
from fraud.model.registry import RegisteredModel
from fraud.scoring.compiled import UntrustedCache, cache_key, compile_booster, for_scoring, sha256
from fraud.scoring.predict import predict

# The same leaf values summed in another order differ in the last bits, no more.
TOLERANCE = 1e-12
LOGGER = "fraud.scoring.compiled"


@cache
def _boosters() -> tuple[lgb.Booster, lgb.Booster, pd.DataFrame]:
    """A five-tree booster, a two-tree one (another model of the same features), rows to score."""
    rng = np.random.default_rng(7)
    rows = pd.DataFrame(rng.normal(size=(600, 4)), columns=["f0", "f1", "f2", "f3"])
    labels = (rows["f0"] + rows["f1"] * rows["f2"] + rng.normal(size=len(rows)) > 0).astype(int)
    params = {"objective": "binary", "verbosity": -1, "seed": 1, "num_leaves": 7}
    booster = lgb.train(params, lgb.Dataset(rows, labels), num_boost_round=5)
    return booster, lgb.Booster(model_str=booster.model_to_string(num_iteration=2)), rows


def _files(folder: Path, booster: lgb.Booster) -> dict[str, Path]:
    key = cache_key(booster.model_to_string())
    return {suffix: folder / f"{key}.{suffix}" for suffix in ("txt", "o", "json")}


def _assert_scores_are_the_boosters(predictor: Callable[[np.ndarray], np.ndarray]) -> None:
    booster, _, rows = _boosters()
    scores = predictor(rows.to_numpy(dtype=np.float64))
    np.testing.assert_allclose(scores, booster.predict(rows), rtol=0, atol=TOLERANCE)


def _assert_cache_is_valid(folder: Path) -> None:
    """The cache holds the booster's text and an object file whose digest its manifest records,
    every one a regular 0600 file."""
    booster, _, _ = _boosters()
    files = _files(folder, booster)
    for path in files.values():
        status = path.lstat()
        assert stat.S_ISREG(status.st_mode), path
        assert stat.S_IMODE(status.st_mode) == 0o600, path
    manifest = json.loads(files["json"].read_bytes())
    assert files["txt"].read_text() == booster.model_to_string()
    assert manifest["model_text_sha256"] == sha256(files["txt"].read_bytes())
    assert manifest["object_sha256"] == sha256(files["o"].read_bytes())


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == LOGGER and record.levelno == logging.WARNING
    ]


def test_the_cache_is_a_0700_folder_of_0600_files_whatever_the_umask(tmp_path: Path) -> None:
    booster, _, _ = _boosters()
    folder = tmp_path / "compiled"
    previous = os.umask(0)
    try:
        predictor = compile_booster(booster, folder)
    finally:
        os.umask(previous)

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        path.name for path in _files(folder, booster).values()
    )
    _assert_cache_is_valid(folder)
    _assert_scores_are_the_boosters(predictor)


def _other_models_object(tmp_path: Path) -> bytes:
    """Machine code that loads and runs, but scores with another model's trees."""
    _, smaller, _ = _boosters()
    other = tmp_path / "other"
    compile_booster(smaller, other)
    return _files(other, smaller)["o"].read_bytes()


@pytest.mark.parametrize(
    "tampered",
    [
        pytest.param(_other_models_object, id="another-models-object-file"),
        pytest.param(lambda _: b"\x7fELF not machine code", id="garbage"),
    ],
)
def test_a_tampered_object_file_is_refused_and_recompiled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tampered: Callable[[Path], bytes]
) -> None:
    booster, _, _ = _boosters()
    folder = tmp_path / "compiled"
    compile_booster(booster, folder)
    files = _files(folder, booster)
    genuine = files["o"].read_bytes()
    files["o"].write_bytes(tampered(tmp_path))
    caplog.clear()

    predictor = compile_booster(booster, folder)

    assert any(
        f"compiled model {files['o']}: SHA-256" in line and "recompiling" in line
        for line in _warnings(caplog)
    )
    assert files["o"].read_bytes() == genuine
    _assert_cache_is_valid(folder)
    _assert_scores_are_the_boosters(predictor)


@pytest.mark.parametrize("compiled_before", [True, False], ids=["after-compiling", "planted"])
def test_a_tampered_model_text_is_refused_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, compiled_before: bool
) -> None:
    """Planted before the first compile, another model's text would be what lleaves compiles."""
    booster, smaller, _ = _boosters()
    folder = tmp_path / "compiled"
    files = _files(folder, booster)
    if compiled_before:
        compile_booster(booster, folder)
    else:
        folder.mkdir(mode=0o700)
    files["txt"].write_text(smaller.model_to_string())
    caplog.clear()

    predictor = compile_booster(booster, folder)

    assert any(
        f"model text {files['txt']}: SHA-256" in line and "rewriting it" in line
        for line in _warnings(caplog)
    )
    _assert_cache_is_valid(folder)
    _assert_scores_are_the_boosters(predictor)


@pytest.mark.parametrize(
    ("suffix", "what"),
    [("o", "compiled model"), ("txt", "model text"), ("json", "manifest")],
)
def test_a_symbolic_link_in_place_of_a_cache_file_is_refused_and_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, suffix: str, what: str
) -> None:
    """Even a link to an identical file is refused: it is not opened, and the rename that
    replaces it leaves what it points to alone."""
    booster, _, _ = _boosters()
    folder = tmp_path / "compiled"
    compile_booster(booster, folder)
    link = _files(folder, booster)[suffix]
    target = tmp_path / f"elsewhere.{suffix}"
    target.write_bytes(link.read_bytes())
    link.unlink()
    link.symlink_to(target)
    caplog.clear()

    predictor = compile_booster(booster, folder)

    assert f"{what} {link} is a symbolic link: refused, replacing it" in _warnings(caplog)
    assert not link.is_symlink()
    assert target.read_bytes() == link.read_bytes()
    _assert_cache_is_valid(folder)
    _assert_scores_are_the_boosters(predictor)


def _group_writable(folder: Path) -> str:
    folder.chmod(0o770)
    return "is writable by its group or others (mode 770)"


def _others_writable(folder: Path) -> str:
    folder.chmod(0o707)
    return "is writable by its group or others (mode 707)"


def _owned_by_nobody(folder: Path) -> str:
    if os.geteuid() != 0:
        pytest.skip("giving the folder to another user takes root")
    os.chown(folder, 65534, 65534)
    return f"is owned by uid 65534, not by this process's uid {os.geteuid()}"


def _a_symbolic_link(folder: Path) -> str:
    real = folder.with_name("real")
    folder.rename(real)
    folder.symlink_to(real)
    return "is a symbolic link"


@pytest.mark.parametrize(
    "spoil", [_group_writable, _others_writable, _owned_by_nobody, _a_symbolic_link]
)
def test_a_cache_folder_others_could_write_leaves_scoring_to_lightgbm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, spoil: Callable[[Path], str]
) -> None:
    booster, _, rows = _boosters()
    settings = load_settings({"FRAUD_ARTIFACT_DIR": str(tmp_path)})
    folder = tmp_path / "compiled"
    compile_booster(booster, folder)
    object_file = _files(folder, booster)["o"]
    object_file.write_bytes(b"machine code someone else wrote")
    problem = spoil(folder)
    model = RegisteredModel("verification-test", 1, "run", booster)
    caplog.clear()

    scoring = for_scoring(model, settings)

    assert scoring is model  # no predictor: LightGBM's own predict
    assert _warnings(caplog) == [
        f"compiled-model cache {folder} {problem}: scoring with LightGBM's own predict"
    ]
    assert object_file.read_bytes() == b"machine code someone else wrote"  # nothing touched
    np.testing.assert_allclose(predict(scoring, rows), booster.predict(rows), rtol=0, atol=0)
    with pytest.raises(UntrustedCache, match=f"compiled-model cache {folder} "):
        compile_booster(booster, folder)
