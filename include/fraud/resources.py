"""What a process has used: its peak resident memory, for the CLI's reports and the benchmarks."""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB.

    Linux's ``ru_maxrss`` survives ``exec``: a child would report at least the peak of the
    parent it was forked from. ``VmHWM`` belongs to the process's own address space.
    """
    if _STATUS.exists():
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
