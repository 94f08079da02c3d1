"""Where the build's pieces run: `executor.kind` in the config.

local (the default): every stage runs its pieces on its own process pool (pipeline/pieces.py).
dask: the pieces (annotate files, signature spans, LSH bands, encoding pieces) are submitted as
Prefect tasks through prefect-dask's DaskTaskRunner, either to a LocalCluster of
`executor.workers` processes on 127.0.0.1 (no dashboard) or to an existing scheduler at
`executor.address`. Pieces go in chunks (about four a worker per stage), not one task a file, so
the Prefect API sees tens of task runs, not one per input file. A chunk whose worker dies is
rerun by Dask on another worker; its finished pieces are skipped (their files exist), the others
redone: the output is the same bytes.

Dask workers report their task runs to the Prefect API themselves, so they must reach it: with
Prefect's temporary local API (no PREFECT_API_URL), the build starts it here and hands its URL to
the workers in the task's settings; on several machines, run `prefect server start --host
0.0.0.0` and set PREFECT_API_URL to it before the build.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from pipeline.config import ExecutorConfig
from pipeline.pieces import Done, Runner, chunked, run_chunk

_current: Runner | None = None


def current_runner() -> Runner | None:
    """The runner the build flow started (None: the stages use their local pools)."""
    return _current


# retries=1: a chunk that raised (not one whose worker died: Dask reruns those itself) runs once more.
@task(name="pieces", cache_policy=NO_CACHE, retries=1)
def run_pieces(fn: Callable[..., Any], jobs: list[tuple[Any, ...]]) -> list[Any]:
    """A chunk of one stage's pieces, run one after another on one worker."""
    return run_chunk(fn, jobs)


class PrefectPieces:
    """A Runner that submits chunks of pieces to a started Prefect task runner."""

    def __init__(self, task_runner: Any, workers: int) -> None:
        self.task_runner, self.workers = task_runner, workers

    def __call__(self, fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], done: Done | None = None) -> list[Any]:
        chunks = chunked(jobs, self.workers)
        name = fn.__name__.removesuffix("_piece")
        futures = [self.task_runner.submit(run_pieces.with_options(task_run_name=f"{name}[{i}/{len(chunks)}]"),
                                           {"fn": fn, "jobs": chunk}) for i, chunk in enumerate(chunks)]
        results: list[Any] = []
        for future in futures:
            results += future.result()
            if done:
                done(len(results))
        return results


def dask_task_runner(executor: ExecutorConfig, scratch: Path) -> Any:
    """prefect-dask's DaskTaskRunner for this config: an existing scheduler, or a loopback LocalCluster."""
    from prefect_dask import DaskTaskRunner

    if executor.address:
        return DaskTaskRunner(address=executor.address)
    # Loopback only, no dashboards; worker scratch space inside the build folder.
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs={
        "n_workers": executor.workers, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
        "dashboard_address": None, "worker_dashboard_address": None, "local_directory": str(scratch)})


@contextmanager
def api_for_workers() -> Iterator[None]:
    """Make sure tasks carry a Prefect API URL that other processes can reach."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the temporary API this process already uses, or a new one
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield


@contextmanager
def pieces_runner(executor: ExecutorConfig, build_root: Path) -> Iterator[Runner | None]:
    """The runner for the build's pieces while the block runs (None for the local pools)."""
    global _current
    if executor.kind == "local":
        yield None
        return
    scratch = build_root / "work" / "dask"
    scratch.mkdir(parents=True, exist_ok=True)
    with api_for_workers(), dask_task_runner(executor, scratch) as task_runner:
        workers = sum(task_runner.client.nthreads().values()) or executor.workers
        _current = PrefectPieces(task_runner, workers)
        try:
            yield _current
        finally:
            _current = None
