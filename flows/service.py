"""gristmill as a service: three flows that events chain together.

    publish_version   builds the inbox files no earlier version consumed into the next version
                      (each build stage a task, through build_corpus), adds it to catalog.json,
                      regenerates OUT_ROOT/index.html and emits `gristmill.build.published`
    train_dataset     trains on every published version (continuing the latest run: train.init_from),
                      records the run in the catalog and emits `gristmill.train.completed`
    evaluate_runs     evaluates every run the catalog lists without an evaluation: eval.json, an
                      artifact, the catalog and index.html

`flows/deployments.py` serves them as deployments (a schedule for the first, event triggers for
the other two). Called directly (as `gristmill serve --once` does) they run in order in this
process, on a server or on Prefect's temporary API. The versioning itself is pipeline/catalog.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from flows.build_corpus import build_corpus
from flows.train import evaluate_model, train_model
from pipeline.catalog import Catalog, next_version
from pipeline.config import dump_config, load_config

BUILD_PUBLISHED = "gristmill.build.published"
TRAIN_COMPLETED = "gristmill.train.completed"


def resource_id(kind: str, folder: str | Path) -> str:
    """A Prefect resource id for a build or run folder: gristmill.<kind>.<absolute path>. Triggers
    match a dataset's events by the prefix gristmill.<kind>.<OUT_ROOT>/."""
    return f"gristmill.{kind}.{Path(folder).resolve()}"


@task(name="plan_version", cache_policy=NO_CACHE)
def plan_version(out_root: str, inputs: list[str]) -> dict[str, Any] | None:
    """The unfinished version, or a new one of the files no earlier version consumed, or None."""
    return next_version(Catalog(out_root), inputs)


@task(name="publish", cache_policy=NO_CACHE)
def publish(out_root: str, pending: dict[str, Any]) -> dict[str, Any]:
    """Add the finished build to catalog.json (atomically) and regenerate index.html."""
    from pipeline.report.catalog_page import write_index

    version = Catalog(out_root).publish(pending)
    write_index(out_root)
    return version


@task(name="write_index", cache_policy=NO_CACHE)
def write_index_task(out_root: str) -> str:
    from pipeline.report.catalog_page import write_index

    return str(write_index(out_root))


@flow(name="publish_version", log_prints=True)
def publish_version(inputs: list[str], out_root: str, config_path: str | None = None) -> dict[str, Any]:
    """Build the files of INPUTS that no earlier version consumed into OUT_ROOT's next version."""
    catalog = Catalog(out_root)
    pending = plan_version(out_root, inputs)
    if pending is None:
        print(f"nothing new in {', '.join(inputs)}: every file was consumed by an earlier version; "
              "no version published")
        return {"published": None}
    folder = catalog.root / pending["folder"]
    print(f"building {pending['id']} from {len(pending['files'])} new or changed files into {folder}")
    # the resolved config (dedup against earlier versions, their tokenizer) travels as a file beside
    # the build, as `gristmill build --config` would take it
    resolved = catalog.root / f".{pending['id']}.config.yaml"
    resolved.write_text(dump_config(catalog.version_config(load_config(config_path))))
    build_corpus([f["path"] for f in pending["files"]], str(folder), str(resolved), progress=False)
    version = publish(out_root, pending)
    resolved.unlink(missing_ok=True)
    create_link_artifact(link=(folder / "report.html").resolve().as_uri(), link_text=f"{version['id']} report.html",
                         key="report-html", description=f"data-quality report of {version['id']}")
    create_link_artifact(link=(catalog.root / "index.html").resolve().as_uri(), link_text="all versions",
                         key="dataset-index", description=f"every version of {catalog.root}")
    payload = {key: version[key] for key in ("id", "folder", "documents_in", "documents_kept", "train_tokens",
                                             "val_tokens", "tokenizer_sha256", "duplicates_of_earlier_versions")}
    emit_event(BUILD_PUBLISHED, resource={"prefect.resource.id": resource_id("build", folder),
                                          "prefect.resource.name": version["id"]},
               payload={**payload, "out_root": str(catalog.root.resolve())})
    print(f"published {version['id']}: {version['documents_in']} documents in, {version['documents_kept']} kept, "
          f"{version['train_tokens'] + version['val_tokens']} tokens")
    return {"published": version}


@flow(name="train_dataset", log_prints=True)
def train_dataset(out_root: str, config_path: str | None = None, continue_latest: bool = True) -> dict[str, Any]:
    """Train on every published version of OUT_ROOT into OUT_ROOT/runs/run-NNNN, continuing the
    latest run's weights when continue_latest (train.init_from). A version published while it
    trained (whose own trigger the concurrency limit cancelled) is trained on in a next round."""
    catalog = Catalog(out_root)
    trained: list[dict[str, Any]] = []
    while True:
        versions = [v["id"] for v in catalog.versions()]
        latest = catalog.latest_run()
        if not versions or (trained and latest is not None and latest["versions"] == versions):
            break
        trained.append(train_round(catalog, versions, latest if continue_latest else None, config_path))
    if not trained:
        print(f"{catalog.path} lists no published version: nothing to train on")
    return {"runs": trained}


def train_round(catalog: Catalog, versions: list[str], latest: dict[str, Any] | None,
                config_path: str | None) -> dict[str, Any]:
    folders = [str(catalog.folder(catalog.version(v))) for v in versions]
    run = next_run_folder(catalog, folders)
    init_from = latest["run"] if latest else None
    summary = train_model(folders, str(run), config_path, progress=False, init_from=init_from)
    catalog.record_run(run, versions, summary, init_from)
    write_index_task(str(catalog.root))
    emit_event(TRAIN_COMPLETED, resource={"prefect.resource.id": resource_id("run", run),
                                          "prefect.resource.name": run.name},
               payload={"run": str(run.resolve()), "versions": versions, "val_loss": summary.get("val_loss"),
                        "steps": summary.get("step"), "init_from": init_from,
                        "out_root": str(catalog.root.resolve())})
    print(f"trained {run.name} on {', '.join(versions)}" + (f", continuing {Path(init_from).name}" if init_from else "")
          + f": val loss {summary.get('val_loss')}")
    return {"run": str(run), "versions": versions, "summary": summary}


def next_run_folder(catalog: Catalog, folders: list[str]) -> Path:
    """runs/run-NNNN after the recorded runs. A folder left by a killed training on the same versions
    is resumed from its checkpoint; one on other versions is left alone and the next number taken."""
    import json

    from model.checkpoint import META, latest_checkpoint

    wanted = [str(Path(f).resolve()) for f in folders]
    number = len(catalog.runs()) + 1
    while True:
        run = catalog.root / "runs" / f"run-{number:04d}"
        checkpoint = latest_checkpoint(run) if run.is_dir() else None
        if checkpoint is None or json.loads((checkpoint / META).read_text()).get("data_dirs") == wanted:
            return run
        number += 1


@flow(name="evaluate_runs", log_prints=True)
def evaluate_runs(out_root: str) -> dict[str, Any]:
    """Evaluate every run of OUT_ROOT that has none yet, on the val shards of the versions it trained
    on; eval.json, an artifact each, and the catalog and index.html updated."""
    catalog = Catalog(out_root)
    done: dict[str, float] = {}
    # re-read after each: a run recorded meanwhile (whose own trigger the concurrency limit cancelled) is taken too
    while todo := [r for r in catalog.runs() if r.get("eval") is None and Path(r["run"]).is_dir()
                   and Path(r["run"]).name not in done]:
        record = todo[0]
        run = Path(record["run"])
        folders = [str(catalog.folder(catalog.version(v))) for v in record["versions"]]
        result = evaluate_model(str(run), folders, progress=False)
        catalog.record_eval(run, result)
        create_markdown_artifact(key="eval", description=f"evaluation of {run.name}", markdown=(
            f"# {run.name} on {', '.join(record['versions'])}\n\n| | value |\n|---|---|\n"
            + "".join(f"| {k} | {result[k]:.4f} |\n" for k in ("val_loss", "perplexity", "bits_per_byte",
                                                               "unigram_perplexity") if result.get(k) is not None)
            + f"\n`{run / 'eval.json'}`\n"))
        done[run.name] = result["val_loss"]
        write_index_task(out_root)  # now, not at the end: a service stopped meanwhile still shows it
        print(f"evaluated {run.name}: val loss {result['val_loss']:.4f}, perplexity {result['perplexity']:.1f}")
    return {"evaluated": done}


def run_once(inputs: list[str], out_root: str, config_path: str | None = None, train_on_fresh: bool = False,
             continue_latest: bool = True) -> dict[str, Any]:
    """One cycle now, in this process: publish a version, then the training and evaluation it triggers."""
    result: dict[str, Any] = {"build": publish_version(inputs, out_root, config_path)}
    if train_on_fresh and result["build"]["published"] is not None:
        result["train"] = train_dataset(out_root, config_path, continue_latest)
        result["evaluate"] = evaluate_runs(out_root)
    return result
