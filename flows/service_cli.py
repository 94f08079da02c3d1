"""`gristmill server`, `gristmill serve` and `gristmill catalog`: the commands of the service."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from flows.progress import console

server_app = typer.Typer(help="A Prefect server for the service (UI, history, schedules).", no_args_is_help=True)
catalog_app = typer.Typer(help="The versions of a dataset (OUT_ROOT/catalog.json) and the runs trained on them.",
                          no_args_is_help=True)
RootArgument = Annotated[Path, typer.Argument(help="dataset root (the --out-root of `gristmill serve`)")]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


@server_app.command("start")
def server_start(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="folder for the server's database and settings")] = Path(
        "prefect-server"),
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 for the API and the UI")] = 4200,
) -> None:
    """Run Prefect's server on 127.0.0.1 with its database under DATA_DIR; prints the UI address."""
    from flows.server import run_server

    run_server(data_dir, port)


def serve(
    inputs: Annotated[list[str], typer.Argument(help="inbox folders, files or globs to take new files from")],
    out_root: Annotated[Path, typer.Option("--out-root", help="dataset root: catalog.json, index.html, v0001/, runs/")],
    cron: Annotated[str, typer.Option(help="build schedule, cron syntax")] = "0 3 * * *",
    interval: Annotated[Optional[float], typer.Option(help="build every this many seconds instead of --cron")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML config (see `gristmill config show`)")] = None,
    train_on_fresh: Annotated[bool, typer.Option(help="train on the dataset when a version is published, then evaluate")] = False,
    continue_training: Annotated[bool, typer.Option(help="start each training from the latest run's weights")] = True,
    once: Annotated[bool, typer.Option(help="one cycle now (build, and the training and evaluation it triggers), then exit")] = False,
) -> None:
    """Build new inbox files into dataset versions on a schedule; train and evaluate on events."""
    from flows.cli import _check_config

    _check_config(config)
    config_path = str(config.resolve()) if config else None
    if once:
        from flows.service import run_once

        result = run_once(inputs, str(out_root), config_path, train_on_fresh, continue_training)
        version = result["build"]["published"]
        if version is None:
            console.print("nothing new: no version published")
            return
        console.print(f"[green]published[/] {version['id']}: {version['documents_in']} documents in, "
                      f"{version['documents_kept']} kept, {version['train_tokens'] + version['val_tokens']} tokens")
        for name, loss in (result.get("evaluate") or {}).get("evaluated", {}).items():
            console.print(f"[green]evaluated[/] {name}: val loss {loss:.4f}")
        console.print(f"versions: {out_root / 'index.html'}")
        return
    if not os.environ.get("PREFECT_API_URL"):
        _fail("schedules and event triggers need a Prefect server (the temporary API runs no scheduler): run "
              "`gristmill server start` in another shell and export the PREFECT_API_URL it prints, or use --once "
              "from system cron")
    from flows.deployments import serve_service

    # the flow runs that serve starts inherit this: their printed progress shows in the UI's logs
    os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"

    serve_service(inputs, str(out_root), cron, config_path, train_on_fresh, continue_training, interval)


@catalog_app.command("list")
def catalog_list(root: RootArgument) -> None:
    """One line per version: id, time, files, documents in and kept, tokens, status."""
    from pipeline.catalog import Catalog

    data = Catalog(root).read()
    if not data["versions"]:
        console.print(f"{root} has no published version")
    for v in data["versions"]:
        print(f"{v['id']}  {v['published']}  files {len(v['files'])}  docs {v['documents_in']} in, "
              f"{v['documents_kept']} kept  tokens {v['train_tokens'] + v['val_tokens']}  {v['status']}")
    for r in data["runs"]:
        loss = (r.get("eval") or {}).get("val_loss", r.get("val_loss"))
        print(f"run {Path(r['run']).name}  on {','.join(r['versions'])}  val loss {loss}")


@catalog_app.command("show")
def catalog_show(root: RootArgument,
                 version: Annotated[str, typer.Argument(help="version id, e.g. v0002")]) -> None:
    """A version's full record (JSON)."""
    from pipeline.catalog import Catalog

    try:
        print(json.dumps(Catalog(root).version(version), indent=1))
    except KeyError as e:
        _fail(str(e.args[0]))


@catalog_app.command("prune")
def catalog_prune(root: RootArgument,
                  keep: Annotated[int, typer.Option(help="newest versions whose shards stay")] = 3) -> None:
    """Free the shards of older versions; never one a run still on disk trained on."""
    from pipeline.catalog import Catalog
    from pipeline.report.catalog_page import write_index

    pruned = Catalog(root).prune(keep)
    write_index(root)
    console.print(f"pruned {', '.join(pruned)}" if pruned else "nothing to prune")


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
    app.add_typer(catalog_app, name="catalog")
    app.command()(serve)
