"""Files written whole: written beside their final path, then renamed over it.

The monitoring page serves the Evidently reports and the Data Docs while the pipeline rewrites
them. A rename within one folder is atomic, so a reader opens either the previous version or the
new one, never a file still being written; a writer that fails leaves the previous version in
place and removes its scratch file. Only a writer killed outright can leave a scratch file behind:
a hidden ``.<name>.<random>.partial`` that nothing links to.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

SCRATCH_SUFFIX = ".partial"


def scratch_path(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for its next version."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}{SCRATCH_SUFFIX}")


@contextmanager
def replacing_whole(path: Path) -> Generator[Path, None, None]:
    """Yield a scratch path to write ``path``'s new version to; rename it over ``path`` on success.

    The scratch file is flushed to disk before the rename, so a machine that stops right after
    keeps the new version whole; on any error the scratch file is removed and ``path`` untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = scratch_path(path)
    try:
        yield scratch
        if not scratch.is_file():
            raise FileNotFoundError(f"{path}: the writer left no file at {scratch.name}")
        descriptor = os.open(scratch, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def write_whole_bytes(path: Path, content: bytes) -> Path:
    """Write ``content`` at ``path`` whole (see ``replacing_whole``)."""
    with replacing_whole(path) as scratch:
        with scratch.open("xb") as output:
            output.write(content)
    return path
