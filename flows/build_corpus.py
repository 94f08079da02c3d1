"""build_corpus: raw files → ledger, tokenizer, shards and report, one Prefect task per stage.

With `executor.kind: dask` the stages' pieces (annotate files, signature spans, LSH bands,
encoding pieces) are themselves Prefect tasks on a Dask cluster (flows/executor.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.executor import current_runner, pieces_runner
from flows.progress import stage_progress
from pipeline import build as stages
from pipeline.build_lock import BuildLock, BuildLocked
from pipeline.config import load_config

# Stages record themselves in DIR/work/stages, so Prefect's own result cache is not needed.
_task = dict(cache_policy=NO_CACHE, retries=0)


@task(name="discover", **_task)
def discover(out: str, inputs: list[str]) -> dict[str, Any]:
    build_dir, config, _ = stages.reopen(Path(out))
    return stages.discover_stage(build_dir, config, inputs)


@task(name="annotate", **_task)
def annotate(out: str, progress: bool = True) -> dict[str, Any]:
    build_dir, config, _ = stages.reopen(Path(out))
    with stage_progress(progress) as callback:
        return stages.annotate_stage(build_dir, config, callback, current_runner())


def _simple_task(name: str, stage_fn: Any, pieces: bool = False) -> Any:
    @task(name=name, **_task)
    def run(out: str) -> dict[str, Any]:
        build_dir, config, _ = stages.reopen(Path(out))
        return stage_fn(build_dir, config, current_runner()) if pieces else stage_fn(build_dir, config)

    run.fn.__doc__ = stage_fn.__doc__
    return run


dedup = _simple_task("dedup", stages.dedup_stage, pieces=True)


def _dedup_step_task(name: str, step: str) -> Any:
    """One of dedup's own stages (signatures → buckets → clusters), retried on its own."""

    @task(name=name, **_task)
    def run(out: str) -> str:
        from pipeline import dedup as dedup_steps

        build_dir, config, _ = stages.reopen(Path(out))
        if build_dir.done("dedup") is not None:
            return "done"
        args = (build_dir.annotate_parts(), config.dedup, config.seed, build_dir.work / "dedup")
        if step == "signatures":
            dedup_steps.signatures(*args, current_runner())
        elif step == "buckets":
            dedup_steps.buckets(*args, build_dir.dedup_index, current_runner())
        return step

    return run


dedup_signatures = _dedup_step_task("dedup_signatures", "signatures")
dedup_buckets = _dedup_step_task("dedup_buckets", "buckets")
ledger = _simple_task("ledger", stages.ledger_stage)
tokenizer = _simple_task("tokenizer", stages.tokenizer_stage)
shards = _simple_task("shards", stages.shards_stage, pieces=True)
report = _simple_task("report", stages.report_stage)


@flow(name="build_corpus", log_prints=True)
def build_corpus(inputs: list[str], out: str, config_path: str | None = None, overwrite: bool = False,
                 progress: bool = True) -> dict[str, Any]:
    """Curate INPUTS into a build folder OUT; resumes a killed build in the same OUT."""
    config = load_config(config_path)
    try:
        lock = BuildLock(Path(out)).__enter__()  # a second build into OUT is refused while this one runs
    except BuildLocked as e:
        raise stages.BuildError(str(e)) from None
    try:
        return _stages(inputs, out, config, overwrite, progress)
    finally:
        lock.__exit__(None, None, None)


def _stages(inputs: list[str], out: str, config: Any, overwrite: bool, progress: bool) -> dict[str, Any]:
    stages.prepare(Path(out), config, inputs, overwrite=overwrite)
    results: dict[str, Any] = {"discover": discover(out, inputs)}
    with pieces_runner(config.executor, Path(out)):
        results["annotate"] = annotate(out, progress)
        dedup_signatures(out)
        dedup_buckets(out)
        for name, stage_task in (("dedup", dedup), ("ledger", ledger), ("tokenizer", tokenizer), ("shards", shards),
                                 ("report", report)):
            results[name] = stage_task(out)
    publish_summary(out)
    return results


def publish_summary(out: str) -> None:
    """The report's summary as a Prefect artifact, so the UI shows what was kept and why."""
    import json

    from pipeline.report import report_markdown

    report_path = Path(out) / "report.json"
    if report_path.is_file():
        create_markdown_artifact(markdown=report_markdown(json.loads(report_path.read_text())),
                                 key="data-quality-report", description=f"gristmill build {out}")
