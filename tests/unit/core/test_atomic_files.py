"""Files written whole: readers see the previous version or the new one, never a partial file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraud.atomic_files import SCRATCH_SUFFIX, replacing_whole, write_whole_bytes
from fraud.config import REPOSITORY_ROOT

OLD = b"<html>" + b"old night " * 10_000 + b"</html>"
NEW = b"<html>" + b"new night " * 20_000 + b"</html>"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A report that a reader may be reading."""
    path = tmp_path / "drift" / "2026-03-01.html"
    path.parent.mkdir()
    path.write_bytes(OLD)
    return path


def leftovers(folder: Path) -> list[str]:
    """Scratch files left in a folder."""
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(SCRATCH_SUFFIX))


def test_the_path_keeps_the_previous_version_until_the_new_one_is_whole(report: Path) -> None:
    with replacing_whole(report) as scratch:
        with scratch.open("wb") as output:
            output.write(NEW[: len(NEW) // 2])
            output.flush()
            assert report.read_bytes() == OLD
            output.write(NEW[len(NEW) // 2 :])
        assert report.read_bytes() == OLD
    assert report.read_bytes() == NEW
    assert leftovers(report.parent) == []


def test_a_reader_of_the_previous_version_reads_it_whole(report: Path) -> None:
    with report.open("rb") as reader:
        write_whole_bytes(report, NEW)
        assert reader.read() == OLD
    assert report.read_bytes() == NEW


def test_a_writer_that_fails_midway_leaves_the_previous_version(report: Path) -> None:
    with pytest.raises(RuntimeError, match="renderer failed"):
        with replacing_whole(report) as scratch:
            scratch.write_bytes(NEW[:100])
            raise RuntimeError("renderer failed")
    assert report.read_bytes() == OLD
    assert leftovers(report.parent) == []


def test_a_writer_that_writes_nothing_is_an_error(report: Path) -> None:
    with pytest.raises(FileNotFoundError, match="the writer left no file"):
        with replacing_whole(report):
            pass
    assert report.read_bytes() == OLD


def test_a_killed_writer_leaves_the_previous_version(report: Path) -> None:
    crash = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from fraud.atomic_files import replacing_whole\n"
        "with replacing_whole(Path(sys.argv[1])) as scratch:\n"
        "    with scratch.open('wb') as output:\n"
        "        output.write(b'<html>half a report')\n"
        "        output.flush()\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT / "include")}
    killed = subprocess.run([sys.executable, "-c", crash, str(report)], env=environment)
    assert killed.returncode == -9
    assert report.read_bytes() == OLD
    # Only the hidden scratch file of the killed writer remains, and nothing links to it.
    (left,) = leftovers(report.parent)
    assert left.startswith(f".{report.name}.")


def test_a_first_version_creates_its_folder(tmp_path: Path) -> None:
    path = write_whole_bytes(tmp_path / "site" / "static" / "styles.css", b"body {}")
    assert path.read_bytes() == b"body {}"


def test_files_written_whole_get_the_permissions_of_a_file_written_in_place(
    report: Path,
) -> None:
    in_place = report.with_name("in-place.html")
    in_place.write_bytes(OLD)
    write_whole_bytes(report, NEW)
    assert report.stat().st_mode == in_place.stat().st_mode
