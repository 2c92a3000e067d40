"""Scores from a LightGBM model compiled to native code by lleaves, cached per model and CPU.

LightGBM's own predict walks each tree node by node for every row. lleaves compiles the same
trees with LLVM into one function: on the scoring benchmark's 300-tree model it predicts a million
rows about six times faster, with the same scores to within 1e-15 (the same leaf values, summed in
another order). Reason codes (TreeSHAP) still come from LightGBM itself.

Compiling takes seconds (about 9 s for 300 trees of 31 leaves), so the machine code is cached in a
folder, under a key of the model's text, the compiler's versions and the CPU it was built for: a
worker on another kind of CPU compiles its own. Files appear there by rename, whole or not at all.

The folder holds machine code that scoring runs, so nothing in it is trusted on sight:

- The folder is created 0700. Before anything in it is read it must be a folder, not a symbolic
  link, owned by the process's effective user and writable by nobody else. If not, any file in
  it, the manifest included, may be someone else's: :func:`for_scoring` warns and leaves the
  model to LightGBM's own predict.
- A key has three files, each created 0600 through a scratch file and a rename: the model text
  ``<key>.txt``, the object file ``<key>.o`` and the manifest ``<key>.json``, which records the
  SHA-256 of both when the model is compiled (written before the object file, so a reader that
  finds the object file finds its manifest).
- Each file is opened without following a symbolic link (``O_NOFOLLOW``) and must be a regular
  file owned by the process's user. The model text must hash like the booster's own text, which
  is in memory; the object file like the manifest says, for that text. A symbolic link, another
  digest or an object file without a manifest is a warning naming the file, and the file is
  replaced: the text rewritten, the model recompiled. Recompiled rather than scored by LightGBM,
  because the booster in memory is the truth to compile from and the next run then finds a good
  cache; the scores are the booster's either way.
- lleaves reads files by path, after any check of ours could run. It is never given a cache file:
  the bytes are read once through a descriptor, hashed, and written into a new 0700 folder inside
  the cache folder, whose copies lleaves then loads and which is removed once it has.

What this does not cover: between the check and the load, a process running as the same user
(or root) can still change the private copy, but such a process can change the pipeline's code
as well; the manifest sits beside the object file, so a writer with the pipeline's uid can
rewrite both, which is why other services mount the artifact folder read-only; the folders
above the cache folder (``FRAUD_ARTIFACT_DIR``) are the operator's to protect.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Generator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fraud.config import Settings
from fraud.model.registry import Predictor, RegisteredModel

if TYPE_CHECKING:
    import lightgbm as lgb
    import lleaves

logger = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# O_NONBLOCK: a FIFO planted in place of a file is refused instead of blocking the open.
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UntrustedCache(RuntimeError):
    """The cache folder may hold someone else's files, so none is used; one-line message."""


class _Refused(Exception):
    """A cache file that is not a plain file of the process's user; its reason, in words."""


def cache_key(model_text: str) -> str:
    """What the compiled code depends on: the trees, lleaves and LLVM, and this machine's CPU."""
    import llvmlite.binding as llvm

    parts = (
        model_text,
        f"lleaves {version('lleaves')}",
        f"llvmlite {version('llvmlite')}",
        llvm.get_host_cpu_name(),
        llvm.get_host_cpu_features().flatten(),
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


def sha256(data: bytes) -> str:
    """The hex SHA-256 of some bytes: what the manifest records."""
    return hashlib.sha256(data).hexdigest()


def folder_problem(status: os.stat_result) -> str | None:
    """Why a cache folder with this status may hold someone else's files, or None if it cannot."""
    if not stat.S_ISDIR(status.st_mode):
        return "is not a folder"
    if status.st_uid != os.geteuid():
        return f"is owned by uid {status.st_uid}, not by this process's uid {os.geteuid()}"
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by its group or others (mode {stat.S_IMODE(status.st_mode):o})"
    return None


@contextmanager
def _open_folder(cache_dir: Path) -> Generator[int, None, None]:
    """A descriptor of the cache folder (created 0700), once it is shown to be the user's alone.

    Every file is then opened relative to this descriptor, so the folder checked is the folder
    read, even if its path is swapped meanwhile.
    """
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.mkdir(cache_dir, FOLDER_MODE)
    try:
        folder = os.open(cache_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:  # with O_DIRECTORY, Linux says ENOTDIR of a symbolic link
        if cache_dir.is_symlink():
            reason = "is a symbolic link"
        elif error.errno == errno.ENOTDIR:
            reason = "is not a folder"
        else:
            reason = f"cannot be opened: {error.strerror}"
        raise UntrustedCache(f"compiled-model cache {cache_dir} {reason}") from error
    try:
        if problem := folder_problem(os.fstat(folder)):
            raise UntrustedCache(f"compiled-model cache {cache_dir} {problem}")
        yield folder
    finally:
        os.close(folder)


def _read(folder: int, name: str) -> bytes | None:
    """A cache file's bytes, read through one descriptor that followed no symbolic link; None
    when there is no such file."""
    try:
        descriptor = os.open(name, _READ, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _Refused("is a symbolic link") from error
        raise
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise _Refused("is not a regular file")
        if status.st_uid != os.geteuid():
            raise _Refused(f"is owned by uid {status.st_uid}, not {os.geteuid()}")
        return file.read()


def _create(folder: int, name: str, data: bytes, *, durable: bool = False) -> None:
    """A new 0600 file (never through a symbolic link, never over an existing file); flushed to
    disk when ``durable``, so that a machine stopping after a rename keeps the file whole."""
    with os.fdopen(os.open(name, _CREATE, FILE_MODE, dir_fd=folder), "wb") as file:
        file.write(data)
        if durable:
            file.flush()
            os.fsync(file.fileno())


def _write_whole(folder: int, name: str, data: bytes) -> None:
    """Write a cache file through a scratch file and a rename, so that readers never see a part.

    The rename replaces whatever has the name, a symbolic link included, and never what a link
    points to. Two processes may write the same key at once: each renames a whole file of the
    same bytes (lleaves compiles the same model to the same object file).
    """
    scratch = f".{name}.{uuid.uuid4().hex}"
    try:
        _create(folder, scratch, data, durable=True)
        os.replace(scratch, name, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(scratch, dir_fd=folder)


@dataclass(frozen=True)
class _Entry:
    """One key's files in the cache folder, and the digest of the booster's own text."""

    cache_dir: Path
    folder: int
    key: str
    text: bytes
    text_sha256: str

    def path(self, suffix: str) -> Path:
        return self.cache_dir / f"{self.key}{suffix}"

    def read(self, suffix: str, what: str) -> bytes | None:
        """A file's bytes; None, with a warning naming it, when it is refused."""
        try:
            return _read(self.folder, f"{self.key}{suffix}")
        except _Refused as refusal:
            logger.warning("%s %s %s: refused, replacing it", what, self.path(suffix), refusal)
            return None

    def write_whole(self, suffix: str, data: bytes) -> None:
        _write_whole(self.folder, f"{self.key}{suffix}", data)


def _verify_text(entry: _Entry) -> None:
    """Leave the model text in the cache as the booster's own: written when missing, and
    rewritten, with a warning, when refused or when its digest differs."""
    text = entry.read(".txt", "model text")
    if text is not None and sha256(text) != entry.text_sha256:
        logger.warning(
            "model text %s: SHA-256 %s differs from the booster's %s: rewriting it",
            entry.path(".txt"),
            sha256(text)[:12],
            entry.text_sha256[:12],
        )
        text = None
    if text is None:
        entry.write_whole(".txt", entry.text)


def _manifest(entry: _Entry) -> dict[str, str] | None:
    """The key's manifest, or None when missing, refused or unreadable (with a warning then)."""
    raw = entry.read(".json", "manifest")
    if raw is None:
        return None
    try:
        manifest = json.loads(raw)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        logger.warning("manifest %s is not a JSON object: ignoring it", entry.path(".json"))
        return None
    return {str(name): str(value) for name, value in manifest.items()}


def _verified_object(entry: _Entry) -> bytes | None:
    """The cached object file's bytes if its digest is the one the manifest records for this
    model's text; else None, with a warning when a file was there."""
    manifest = _manifest(entry)
    code = entry.read(".o", "compiled model")
    if code is None:
        return None
    where = entry.path(".o")
    if manifest is None:
        logger.warning("compiled model %s has no manifest of its SHA-256: recompiling", where)
        return None
    if manifest.get("model_text_sha256") != entry.text_sha256:
        logger.warning(
            "compiled model %s: manifest %s was written for another model text: recompiling",
            where,
            entry.path(".json"),
        )
        return None
    if (digest := sha256(code)) != manifest.get("object_sha256"):
        logger.warning(
            "compiled model %s: SHA-256 %s differs from %s recorded in %s: recompiling",
            where,
            digest[:12],
            str(manifest.get("object_sha256"))[:12],
            entry.path(".json"),
        )
        return None
    return code


def _load(entry: _Entry, code: bytes | None) -> tuple[lleaves.Model, bytes]:
    """An lleaves model from private copies: loaded from verified object code, or compiled from
    the booster's text when there is none. Returns the model and its object code."""
    import lleaves

    private = f".load-{uuid.uuid4().hex}"
    os.mkdir(private, FOLDER_MODE, dir_fd=entry.folder)
    try:
        _create(entry.folder, f"{private}/model.txt", entry.text)
        if code is not None:
            _create(entry.folder, f"{private}/model.o", code)
        where = entry.cache_dir / private
        compiled = lleaves.Model(model_file=str(where / "model.txt"))
        # With no model.o, lleaves compiles and writes it; with one, it loads it as is.
        compiled.compile(cache=str(where / "model.o"))
        if code is None:
            code = _read(entry.folder, f"{private}/model.o")
            if code is None:
                raise RuntimeError(f"lleaves wrote no object file in {where}")
        return compiled, code
    finally:
        shutil.rmtree(private, dir_fd=entry.folder, ignore_errors=True)


def compile_booster(booster: lgb.Booster, cache_dir: Path) -> Predictor:
    """A function from a float64 feature matrix (the booster's columns) to its probabilities,
    run from machine code verified as the module docstring says; :class:`UntrustedCache` when
    the cache folder is not the process user's alone."""
    text = booster.model_to_string()
    with _open_folder(cache_dir) as folder:
        entry = _Entry(cache_dir, folder, cache_key(text), text.encode(), sha256(text.encode()))
        _verify_text(entry)
        code = _verified_object(entry)
        compiled, built = _load(entry, code)
        if code is None:  # the manifest first: a reader that finds the object finds its digest
            manifest = {
                "key": entry.key,
                "model_text_sha256": entry.text_sha256,
                "object_sha256": sha256(built),
                "lleaves": version("lleaves"),
                "llvmlite": version("llvmlite"),
            }
            entry.write_whole(".json", json.dumps(manifest, indent=2).encode())
            entry.write_whole(".o", built)
    threads = len(os.sched_getaffinity(0))

    def predict(features: np.ndarray) -> np.ndarray:
        return compiled.predict(np.ascontiguousarray(features, dtype=np.float64), n_jobs=threads)

    return predict


def for_scoring(model: RegisteredModel, settings: Settings) -> RegisteredModel:
    """The model with its compiled predictor, unless ``FRAUD_SCORE_COMPILED`` is false or the
    cache folder is not the process user's alone (then LightGBM's own predict, with a warning)."""
    if not settings.score_compiled:
        return model
    try:
        predictor = compile_booster(model.booster, settings.artifact_dir / "compiled")
    except UntrustedCache as error:
        logger.warning("%s: scoring with LightGBM's own predict", error)
        return model
    return replace(model, predictor=predictor)
