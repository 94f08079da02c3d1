"""A build: raw files in, ledger + tokenizer + shards + report out, as resumable stages.

Each stage reads what earlier stages wrote under DIR and writes its own outputs atomically, then
records itself in `DIR/work/stages/<stage>.json`. A stage already recorded for the same config and
inputs is skipped, so a killed build resumes where it stopped and the Prefect flow can retry a
single stage. `build()` runs them in order without Prefect; `flows/build_corpus.py` runs the same
functions as Prefect tasks.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.build_lock import BuildLock, BuildLocked
from pipeline.config import Config, dump_config, load_config
from pipeline.faults import fault_point
from pipeline.ingest import InputFile, discover_inputs, split_large_inputs
from pipeline.ingest.discover import InputError, check_inputs
from pipeline.pieces import LocalPool, Runner, is_machine_error, run_pieces

STAGES = ("discover", "annotate", "dedup", "ledger", "tokenizer", "shards", "report")

Progress = Callable[[str, int, int], None]  # (what, done, total)


class BuildError(RuntimeError):
    """A build that cannot go on; the message says what to do."""


def disk_full_message(error: OSError, root: Path, stage: str) -> str:
    folder = Path(error.filename).parent if error.filename else root
    return (f"{error.strerror or 'no space left on device'} while writing {folder} (stage {stage}): free space there "
            f"(or build into another --out), then run the same command again: the build resumes where it stopped, "
            "and nothing half-written is taken for finished")


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False))
    os.replace(tmp, path)


class BuildDir:
    """Paths of a build folder, and the stage bookkeeping that makes it resumable."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.work = self.root / "work"
        self.annotate = self.work / "annotate"
        self.kept = self.work / "kept"
        self.stages = self.work / "stages"
        self.dedup_index = self.root / "dedup"
        self.ledger = self.root / "ledger.parquet"
        self.tokenizer = self.root / "tokenizer" / "tokenizer.json"
        self.manifest = self.root / "manifest.json"
        self.config = self.root / "config.yaml"
        self.stats = self.work / "stats.json"

    def done(self, stage: str) -> dict[str, Any] | None:
        path = self.stages / f"{stage}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def mark_done(self, stage: str, result: dict[str, Any]) -> None:
        # The statistics first, the marker last: a build killed between the two redoes the stage.
        stats = json.loads(self.stats.read_text()) if self.stats.is_file() else {}
        stats.setdefault("stages", {})[stage] = result
        write_json(self.stats, stats)
        fault_point(f"{stage}.stats_written")
        write_json(self.stages / f"{stage}.json", result)

    def forget_from(self, stage: str) -> None:
        """Invalidate a stage and every later one (their inputs are about to change)."""
        for later in STAGES[STAGES.index(stage):]:
            (self.stages / f"{later}.json").unlink(missing_ok=True)

    def annotate_parts(self) -> list[Path]:
        inputs = self.inputs()
        return [self.annotate / f"part-{i:05d}.parquet" for i in range(len(inputs))]

    def kept_parts(self) -> list[Path]:
        return sorted(self.kept.glob("part-*.parquet"))

    def inputs(self) -> list[InputFile]:
        data = json.loads((self.work / "inputs.json").read_text())
        return [InputFile(**item) for item in data["inputs"]]


def prepare(out: Path, config: Config, inputs: list[str], overwrite: bool = False) -> BuildDir:
    """Create or reopen DIR. A folder built with another config or inputs is refused, not mixed."""
    try:
        check_inputs(inputs)
    except InputError as e:
        raise BuildError(str(e)) from None
    build_dir = BuildDir(out)
    previous = build_dir.work / "request.json"
    request = {"inputs": [str(Path(p)) for p in inputs], "config_sha256": config.sha256()}
    if previous.is_file() and json.loads(previous.read_text()) != request:
        if not overwrite:
            raise BuildError(
                f"{out} holds a build of other inputs or another config. Use a new --out folder, "
                "or --overwrite to replace it."
            )
        for child in build_dir.root.iterdir():  # all but the lock this build holds
            if child.name != BuildLock.NAME:
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    build_dir.root.mkdir(parents=True, exist_ok=True)
    sweep_interrupted_writes(build_dir.root)
    write_json(previous, request)
    tmp = build_dir.config.with_name("config.yaml.tmp")
    tmp.write_text(dump_config(config))
    os.replace(tmp, build_dir.config)
    return build_dir


INTERRUPTED_WRITES = (".tokenize-*", ".*.tmp", "shards/.*.tmp", "shards/provenance/.*.tmp")


def sweep_interrupted_writes(root: Path) -> None:
    """Remove the uniquely named temporaries of writes a kill -9 cut short. Their names are random
    (several processes may write beside each other), so a rerun would not overwrite them."""
    for pattern in INTERRUPTED_WRITES:
        for path in root.glob(pattern):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def reopen(out: Path) -> tuple[BuildDir, Config, list[str]]:
    build_dir = BuildDir(out)
    request = json.loads((build_dir.work / "request.json").read_text())
    return build_dir, load_config(build_dir.config), request["inputs"]


def _stage(name: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Skip a stage that already finished; time it and record it when it runs."""

    def wrap(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def run(build_dir: BuildDir, config: Config, *args: Any, **kwargs: Any) -> dict[str, Any]:
            finished = build_dir.done(name)
            if finished is not None:
                return finished
            started = time.perf_counter()
            fault_point(f"{name}.start")
            try:
                result = fn(build_dir, config, *args, **kwargs)
                fault_point(f"{name}.end", build_dir.stages / f"{name}.json")
                result["seconds"] = round(time.perf_counter() - started, 3)
                build_dir.mark_done(name, result)
            except OSError as e:
                if is_machine_error(e):
                    raise BuildError(disk_full_message(e, build_dir.root, name)) from e
                raise
            return result

        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        return run

    return wrap


@_stage("discover")
def discover_stage(build_dir: BuildDir, config: Config, inputs: list[str]) -> dict[str, Any]:
    """Expand the input arguments into files; list the ones gristmill cannot read."""
    found, unreadable = discover_inputs(inputs)
    pieces = split_large_inputs(found, config.ingest.split_bytes)
    write_json(build_dir.work / "inputs.json", {"inputs": [asdict(f) for f in pieces]})
    fault_point("discover.inputs_written")
    stats = json.loads(build_dir.stats.read_text()) if build_dir.stats.is_file() else {}
    stats["unreadable"] = [asdict(u) for u in unreadable]
    write_json(build_dir.stats, stats)
    return {"files": len(found), "pieces": len(pieces), "bytes": sum(f.bytes for f in found), "unreadable": len(unreadable)}


@_stage("annotate")
def annotate_stage(build_dir: BuildDir, config: Config, progress: Progress | None = None,
                   runner: Runner | None = None) -> dict[str, Any]:
    """Read, clean and filter every input file (one part per file or piece of a large file, in parallel)."""
    from pipeline.annotate import (Annotator, annotate_file, annotate_in_worker, annotate_piece, init_worker,
                                   record_failed_piece)

    build_dir.annotate.mkdir(parents=True, exist_ok=True)
    inputs = build_dir.inputs()
    parts = build_dir.annotate_parts()
    todo = [(item, part) for item, part in zip(inputs, parts) if not part.with_suffix(".json").is_file()]
    results: list[dict[str, Any]] = [json.loads(p.with_suffix(".json").read_text()) for _, p in zip(inputs, parts)
                                     if p.with_suffix(".json").is_file()]
    done = len(results)
    if progress:
        progress("annotate files", done, len(inputs))
    workers = min(config.ingest.workers, len(todo))

    def finished(index: int, result: dict[str, Any]) -> None:
        nonlocal done
        results.append(result)
        done += 1
        if progress:
            progress("annotate files", done, len(inputs))

    failures: list[tuple[int, str]] = []
    if runner is not None:  # pieces elsewhere (executor.kind: dask); annotate_piece retries and lists them itself
        config_json = config.model_dump_json()
        results += runner(annotate_piece, [(item, str(part), config_json) for item, part in todo],
                          (lambda n: progress("annotate files", done + n, len(inputs))) if progress else None)
    elif workers <= 1:
        annotator = Annotator(config) if todo else None
        for index, (item, part) in enumerate(todo):
            for attempt in range(2):  # a piece that raises is tried once more, as in run_pieces
                try:
                    finished(index, annotate_file(annotator, item, config, part))
                    break
                except Exception as e:
                    if is_machine_error(e):
                        raise
                    if attempt:
                        failures.append((index, f"{type(e).__name__}: {e}"[:500]))
    else:
        failures = [(f.index, f.error) for f in run_pieces(
            [(item, str(part)) for item, part in todo], annotate_in_worker, workers, finished,
            initializer=init_worker, initargs=(config.model_dump_json(),))]
    for index, error in failures:  # the piece's file is listed as unreadable; the build goes on
        item, part = todo[index]
        finished(index, record_failed_piece(item, part, error))
    stats = json.loads(build_dir.stats.read_text()) if build_dir.stats.is_file() else {}
    stats["inputs"] = per_file(results)
    listed = {(u["path"], u["reason"]) for u in stats.setdefault("unreadable", [])}
    for result in sorted(results, key=lambda r: (r["relative"], r.get("start", 0))):
        entry = {"path": result["path"] if not result.get("start") else f"{result['path']} (from byte {result['start']})",
                 "reason": f"worker_failed: {result['error']}"} if result.get("error") else None
        if entry and (entry["path"], entry["reason"]) not in listed:
            stats["unreadable"].append(entry)
    write_json(build_dir.stats, stats)
    return {key: sum(r[key] for r in results) for key in ("documents", "invalid", "survivors")}


def per_file(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The annotate statistics of each input file, its pieces added up, in file order."""
    files: dict[str, dict[str, Any]] = {}
    for result in sorted(results, key=lambda r: (r["relative"], r["path"], r.get("start", 0))):
        if result["path"] not in files:
            files[result["path"]] = {key: value for key, value in result.items() if key != "start"}
            continue
        merged = files[result["path"]]
        for key in ("bytes", "documents", "invalid", "survivors", "surrogates_replaced"):
            merged[key] = merged.get(key, 0) + result.get(key, 0)
        merged["seconds"] = round(merged["seconds"] + result["seconds"], 3)
    return list(files.values())


@_stage("dedup")
def dedup_stage(build_dir: BuildDir, config: Config, runner: Runner | None = None) -> dict[str, Any]:
    """Exact and near duplicates among the documents that survived the filters."""
    import pyarrow.parquet as pq

    from pipeline.dedup import deduplicate

    decisions = deduplicate(build_dir.annotate_parts(), config.dedup, config.seed, build_dir.work / "dedup",
                            build_dir.dedup_index, runner)
    tmp = build_dir.work / "dedup_decisions.parquet.tmp"
    pq.write_table(decisions, tmp)
    os.replace(tmp, build_dir.work / "dedup_decisions.parquet")
    reasons = decisions.column("drop_reason").to_pylist() if decisions.num_rows else []
    return {"exact_duplicates": reasons.count("exact_duplicate"), "near_duplicates": reasons.count("near_duplicate")}


@_stage("ledger")
def ledger_stage(build_dir: BuildDir, config: Config) -> dict[str, Any]:
    """Join the filter and dedup decisions into ledger.parquet; write the kept documents' text (and
    publish them as documents/*.parquet)."""
    from pipeline.ledger import write_ledger

    result = write_ledger(build_dir, config)
    if config.documents.enabled:
        from pipeline.publish import write_documents

        result["documents"] = write_documents(build_dir.root, build_dir.kept_parts(), config)["documents"]
    return result


@_stage("tokenizer")
def tokenizer_stage(build_dir: BuildDir, config: Config) -> dict[str, Any]:
    """Train the tokenizer on a bounded, deterministic sample of the kept documents."""
    if not config.tokenizer.enabled:
        return {"skipped": True}
    from pipeline.tokenizer import train_tokenizer, tokenizer_report

    build_dir.tokenizer.parent.mkdir(parents=True, exist_ok=True)
    parts = build_dir.kept_parts()
    if config.tokenizer.from_:
        # a build that kept nothing still gets the shared tokenizer (and empty shards): a catalog
        # version whose documents were all duplicates of earlier versions is a valid version
        stats = reuse_tokenizer(Path(config.tokenizer.from_), build_dir.tokenizer)
    elif not _has_kept_text(parts):
        raise BuildError("no document survived curation, so there is nothing to train a tokenizer on: "
                         "look at report.html for the drop reasons, or relax the config")
    else:
        # Validation documents stay unseen by the tokenizer too, so its report measures held-out text.
        stats = train_tokenizer(parts, config.tokenizer, config.seed, build_dir.tokenizer,
                                val_fraction=config.shards.val_fraction)
    try:
        stats["report"] = tokenizer_report(build_dir.tokenizer, parts, config, config.seed)
    except Exception as e:  # the report is a diagnostic: its failure must not sink the build
        stats["report"] = {"error": str(e)}
    all_stats = json.loads(build_dir.stats.read_text())
    all_stats["tokenizer"] = stats
    write_json(build_dir.stats, all_stats)
    return {k: v for k, v in stats.items() if k != "report"}


@_stage("shards")
def shards_stage(build_dir: BuildDir, config: Config, runner: Runner | None = None) -> dict[str, Any]:
    """Tokenize the kept documents and pack them into Arrow shards + manifest.json."""
    if not (config.shards.enabled and config.tokenizer.enabled):
        return {"skipped": True}
    from pipeline.shards import write_shards

    manifest = write_shards(build_dir.kept_parts(), build_dir.tokenizer, config.shards, config.seed,
                            build_dir.root, config.sha256(), runner)
    return dict(manifest.get("totals", {}))


@_stage("report")
def report_stage(build_dir: BuildDir, config: Config) -> dict[str, Any]:
    """report.json and report.html, computed from what the stages wrote."""
    from pipeline.report import build_report

    report = build_report(build_dir.root)
    summary = report.get("summary", {})
    return {"path": str(build_dir.root / "report.html"), "documents_in": summary.get("documents_in"),
            "documents_kept": summary.get("documents_kept")}


def reuse_tokenizer(source: Path, out_path: Path) -> dict[str, Any]:
    """Copy an existing tokenizer.json (`tokenizer.from`) so this build's shards share its vocabulary."""
    from pipeline.tokenizer import EOT_TOKEN, PAD_TOKEN, file_sha256, load_tokenizer

    if source.is_dir():
        source = BuildDir(source).tokenizer
    if not source.is_file():
        raise BuildError(f"tokenizer.from names {source}, which does not exist: point it at a tokenizer.json "
                         "or a finished build folder")
    tokenizer = load_tokenizer(source)
    tmp = out_path.with_name(out_path.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, out_path)
    return {"from": str(source), "model": json.loads(tokenizer.to_str())["model"]["type"].lower(),
            "vocab_size": tokenizer.get_vocab_size(), "eot_id": tokenizer.token_to_id(EOT_TOKEN),
            "pad_id": tokenizer.token_to_id(PAD_TOKEN), "sha256": file_sha256(out_path)}


def _has_kept_text(parts: list[Path]) -> bool:
    import pyarrow.parquet as pq

    return any(pq.ParquetFile(p).metadata.num_rows for p in parts)


def build(inputs: list[str], out: Path, config: Config, progress: Progress | None = None,
          overwrite: bool = False) -> dict[str, Any]:
    """Run every stage in order; return each stage's result. Holds OUT's lock throughout."""
    try:
        lock = BuildLock(Path(out)).__enter__()
    except BuildLocked as e:
        raise BuildError(str(e)) from None
    try:
        return _build(inputs, out, config, progress, overwrite)
    finally:
        lock.__exit__(None, None, None)


def _build(inputs: list[str], out: Path, config: Config, progress: Progress | None, overwrite: bool) -> dict[str, Any]:
    build_dir = prepare(out, config, inputs, overwrite=overwrite)
    results = {"discover": discover_stage(build_dir, config, inputs)}
    results["annotate"] = annotate_stage(build_dir, config, progress)
    for name, stage in (("dedup", dedup_stage), ("ledger", ledger_stage), ("tokenizer", tokenizer_stage),
                        ("shards", shards_stage), ("report", report_stage)):
        if progress:
            progress(name, 0, 1)
        results[name] = stage(build_dir, config)
        if progress:
            progress(name, 1, 1)
    return results
