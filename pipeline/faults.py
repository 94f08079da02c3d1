"""Fault points: named places where a test kills the build or fills the disk, deterministically.

Reliability is proven by injecting faults, not by listing the ones we thought of: the fault
injection tests (tests/test_faults.py) set one of these variables in a build's subprocess.

    GRISTMILL_KILL_AT=<point>[#<n>]     the process SIGKILLs itself on reaching <point> (the n-th time)
    GRISTMILL_ENOSPC_AT=<point>         OSError(ENOSPC) is raised at <point>, as a full disk would
    GRISTMILL_PAUSE_AT=<point>,<file>   the process waits at <point> until <file> exists (at most 120 s)
    GRISTMILL_KILL_WORKER_ON=<relative>[,<marker>]
                                        the annotate worker reading input <relative> SIGKILLs itself
                                        (as the OOM killer does); with a marker file, only once

Unset (always, outside tests), each check is one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

KILL_AT = "GRISTMILL_KILL_AT"
ENOSPC_AT = "GRISTMILL_ENOSPC_AT"
KILL_WORKER_ON = "GRISTMILL_KILL_WORKER_ON"
PAUSE_AT = "GRISTMILL_PAUSE_AT"
_hits: dict[str, int] = {}


def fault_point(name: str, path: Path | str | None = None) -> None:
    """Die or fail here when a test asked for it; otherwise nothing."""
    kill = os.environ.get(KILL_AT)
    if kill and kill.partition("#")[0] == name:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] == int(kill.partition("#")[2] or 1):
            os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get(PAUSE_AT)
    if pause and pause.partition(",")[0] == name:
        resume = Path(pause.partition(",")[2])
        for _ in range(1200):
            if resume.exists():
                break
            time.sleep(0.1)
    if os.environ.get(ENOSPC_AT) == name:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path) if path is not None else None)


def worker_fault(relative: str) -> None:
    """Kill this annotate worker when it starts on input `relative`, if a test asked for it."""
    spec = os.environ.get(KILL_WORKER_ON)
    if not spec:
        return
    target, _, marker = spec.partition(",")
    if target != relative:
        return
    if marker:
        if os.path.exists(marker):
            return
        Path(marker).touch()
    os.kill(os.getpid(), signal.SIGKILL)
