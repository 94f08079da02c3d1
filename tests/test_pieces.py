"""run_pieces: a piece that raises or whose worker dies is retried once, then reported; the rest go on."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from pipeline.pieces import run_pieces


def piece(kind: str, marker: str) -> str:
    """A piece of work that succeeds, raises or kills its worker, once (marker file) or always."""
    first_time = not os.path.exists(marker)
    Path(marker).touch()
    if kind == "raise-always" or (kind == "raise-once" and first_time):
        raise ValueError(f"cannot read {marker}")
    if kind == "die-always" or (kind == "die-once" and first_time):
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "disk-full":
        raise OSError(errno.ENOSPC, "No space left on device", marker)
    return kind


def run(tmp_path: Path, kinds: list[str], workers: int = 2) -> tuple[dict[int, str], dict[int, str]]:
    results: dict[int, str] = {}
    failures = run_pieces([(kind, str(tmp_path / f"{i}-{kind}")) for i, kind in enumerate(kinds)], piece, workers,
                          results.__setitem__)
    return results, {f.index: f.error for f in failures}


def test_pieces_that_raise_are_retried_once_then_reported(tmp_path):
    results, failures = run(tmp_path, ["ok", "raise-once", "raise-always", "ok"])
    assert results == {0: "ok", 1: "raise-once", 3: "ok"}
    assert list(failures) == [2] and failures[2].startswith("ValueError: cannot read")


def test_a_worker_killed_once_is_retried_and_one_that_always_dies_is_reported(tmp_path):
    results, failures = run(tmp_path, ["ok", "die-once", "ok", "die-always", "ok"])
    assert results == {0: "ok", 1: "die-once", 2: "ok", 4: "ok"}
    assert list(failures) == [3] and "worker process died" in failures[3]


def test_a_full_disk_stops_the_run_instead_of_quarantining_a_piece(tmp_path):
    with pytest.raises(OSError) as raised:
        run(tmp_path, ["ok", "disk-full"], workers=1)
    assert raised.value.errno == errno.ENOSPC
