"""Run independent pieces of work in worker processes so that a piece that crashes loses only itself.

A piece whose worker raises is retried once; a piece that fails twice is reported as failed
(the caller lists its file as unreadable, with the error) and the others go on. A worker killed
from outside (SIGKILL, the OOM killer) breaks its whole process pool and fails every piece then
in flight, so it is not clear which piece was at fault: the unfinished pieces are run once more
in a fresh pool, and if that one breaks too, one at a time in one-process pools, where a death is
the piece's own (and counts as its try). Errors of the machine rather
than of the piece (a full disk, a read-only folder) are raised, not retried: the build must stop
and say so.

`run_pieces` runs annotate's pieces on this machine. The other parallel stages (signature spans,
LSH bands, encoding pieces) and, with `executor.kind: dask`, annotate too, ask for a `Runner`:
`runner(fn, jobs)` calls `fn(*job)` for every job and returns the results in job order. Each piece
reads its inputs under the build folder and writes its own part file there (renamed into place
when whole), so where it ran never changes the output; a small merge step joins the parts in plan
order. `LocalPool` is the default runner; flows/executor.py has the one that submits chunks of
pieces as Prefect tasks to a Dask cluster.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Protocol

ATTEMPTS = 2  # the first try and one retry
MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


@dataclass(frozen=True)
class PieceFailure:
    index: int
    error: str  # "<ExceptionType>: message", or how the worker died


def is_machine_error(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in MACHINE_ERRNOS


def run_pieces(
    pieces: Sequence[tuple[Any, ...]],
    task: Callable[..., Any],
    workers: int,
    on_result: Callable[[int, Any], None],
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> list[PieceFailure]:
    """Call `task(*pieces[i])` for every i in `workers` spawned processes; `on_result(i, result)`
    as each finishes (in completion order). Returns the pieces that failed twice."""
    # spawn, not fork: Prefect and torch keep threads that a forked child would inherit half-locked.
    def pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=get_context("spawn"), initializer=initializer, initargs=initargs)

    attempts = [0] * len(pieces)
    errors: dict[int, str] = {}
    done: set[int] = set()
    pending = list(range(len(pieces)))
    isolate = False

    def settle(i: int, future: Future) -> bool:
        """Record one try of piece i; True when the pool it ran in broke."""
        outcome = _outcome(future)
        if outcome is None:
            done.add(i)
            on_result(i, future.result())
            return False
        errors[i] = "worker process died (killed, or out of memory)" if outcome == "broken" else outcome
        if outcome != "broken" or isolate:  # in a shared pool, a death is not surely this piece's
            attempts[i] += 1
        return outcome == "broken"

    lock = threading.Lock()  # isolated pieces settle from several threads

    def one_at_a_time(queue: list[int]) -> None:
        """Pieces in turn on a one-process pool of this thread's own: a death is the piece's."""
        own = pool(1)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    i = queue.pop(0)
                future = _wait(own.submit(task, *pieces[i]))
                with lock:
                    broke = settle(i, future)
                if broke:
                    own.shutdown(wait=True)
                    own = pool(1)
        finally:
            own.shutdown(wait=True)

    shared_rounds = 0
    while pending:
        if not isolate:
            shared_rounds += 1
            with pool(workers) as shared:
                futures = {shared.submit(task, *pieces[i]): i for i in pending}
                broke = [settle(futures[f], f) for f in as_completed(futures)]
            # A pool that broke once is retried as it was (an OOM kill may not come back);
            # one that broke twice is taken apart to find the culprit.
            isolate = any(broke) and shared_rounds >= 2
        else:
            queue = list(pending)
            with ThreadPoolExecutor(workers) as threads:
                for future in [threads.submit(one_at_a_time, queue) for _ in range(min(workers, len(queue)))]:
                    future.result()
        pending = [i for i in pending if i not in done and attempts[i] < ATTEMPTS]
    return [PieceFailure(i, errors[i]) for i in range(len(pieces)) if i not in done]


def _wait(future: Future) -> Future:
    future.exception()  # blocks until the piece ends, however it ends
    return future


def _outcome(future: Future) -> str | None:
    """None when the piece succeeded, 'broken' when its pool died, else the error; a machine
    error is raised at once."""
    error = future.exception()
    if error is None:
        return None
    if isinstance(error, BrokenProcessPool):
        return "broken"
    if is_machine_error(error):
        raise error
    return f"{type(error).__name__}: {error}"[:500]


# -- runners: who runs a stage's pieces ------------------------------------------------------------
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
