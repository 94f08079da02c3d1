"""Pieces: the independent units of work inside a stage, and who runs them.

A parallel stage is plan → pieces → merge. Each piece is a plain, picklable call that reads its
inputs under the build folder and writes its own part file there (renamed into place when whole),
so running it twice, or on another machine, gives the same bytes; a small merge step in the
driver joins the parts in plan order. Where a piece ran never changes the output.

`Runner` is the one thing a stage asks for: `runner(fn, jobs)` calls `fn(*job)` for every job and
returns the results in job order. `LocalPool` is the default (a pool of spawned processes on this
machine); flows/executor.py has the one that submits pieces as Prefect tasks to a Dask cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any, Protocol


Done = Callable[[int], None]  # told the number of jobs finished so far


class Runner(Protocol):
    """Runs `fn(*job)` for every job; results come back in job order."""

    def __call__(self, fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], done: Done | None = None) -> list[Any]: ...


def _quiet_worker() -> None:
    # One busy thread per process: the pool itself is the parallelism.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


class LocalPool:
    """`workers` spawned processes on this machine; one worker (or one job) runs in this process."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    def __call__(self, fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], done: Done | None = None) -> list[Any]:
        results: list[Any] = [None] * len(jobs)
        if self.workers <= 1 or len(jobs) <= 1:
            for i, job in enumerate(jobs):
                results[i] = fn(*job)
                if done:
                    done(i + 1)
            return results
        # spawn, not fork: Prefect, pyarrow and torch keep threads a forked child would inherit half-locked.
        with ProcessPoolExecutor(min(self.workers, len(jobs)), mp_context=get_context("spawn"),
                                 initializer=_quiet_worker) as pool:
            futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
            for finished, future in enumerate(as_completed(futures), 1):
                results[futures[future]] = future.result()
                if done:
                    done(finished)
        return results


def run_chunk(fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Several pieces one after another: the unit a remote runner submits (one task, not one per file)."""
    return [fn(*job) for job in jobs]


def chunked(jobs: Sequence[tuple[Any, ...]], workers: int, per_worker: int = 4) -> list[list[tuple[Any, ...]]]:
    """Jobs cut into about `per_worker` chunks a worker, in order: few enough to keep the orchestration
    API quiet, enough to balance uneven pieces and to lose little when a worker dies."""
    if not jobs:
        return []
    count = min(len(jobs), max(1, workers) * per_worker)
    size = -(-len(jobs) // count)
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]
