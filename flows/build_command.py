"""`gristmill build`: through the Prefect flow, or straight through `pipeline.build` (--no-prefect).

Both run the same stage functions on the same build folder, so their outputs are byte-identical;
without Prefect there is no UI and no artifact, and nothing to start. Errors a person can act on
(a missing input, a bad config, a locked or full build folder) print one line; --debug adds the
traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from flows.progress import console

NO_PREFECT_ENV = "GRISTMILL_NO_PREFECT"


def _fail(message: str, debug: bool) -> None:
    if debug:
        console.print_exception()
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def build(
    inputs: Annotated[list[str], typer.Argument(help="files, folders or globs (.jsonl[.gz|.zst], .txt, .parquet, save_to_disk folders)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="build folder to write (a killed build resumes in it)")],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML config (see `gristmill config show`)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace a folder built from other inputs or another config")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    no_prefect: Annotated[bool, typer.Option("--no-prefect", envvar=NO_PREFECT_ENV,
                                             help="run the stages directly, without Prefect (same outputs; "
                                             f"or set {NO_PREFECT_ENV}=1)")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False,
) -> None:
    """Curate INPUTS into OUT: ledger, tokenizer, shards, manifest and report."""
    from pipeline.build import BuildError
    from pipeline.config import ConfigError, load_config
    from pipeline.ingest.discover import InputError, check_inputs

    try:
        resolved = load_config(config)
        check_inputs([str(i) for i in inputs])  # before any work, and before Prefect starts
        result = _run(inputs, out, config, resolved, overwrite, quiet, no_prefect, debug)
    except (BuildError, InputError) as e:
        _fail(str(e), debug)
    except ConfigError as e:
        _fail(f"{config}: {e}", debug)
    ledger = result.get("ledger", {})
    shards = result.get("shards", {})
    console.print(f"[green]built[/] {out}: {result['annotate']['documents']} documents in, {ledger.get('kept')} kept; "
                  f"{shards.get('train_tokens', 0) + shards.get('val_tokens', 0)} tokens in shards")
    console.print(f"report: {out / 'report.html'}")


def _run(inputs: list[str], out: Path, config_path: Optional[Path], config: Any, overwrite: bool, quiet: bool,
         no_prefect: bool, debug: bool) -> dict[str, Any]:
    if no_prefect:
        from flows.progress import stage_progress
        from pipeline.build import BuildError
        from pipeline.build import build as build_directly

        if config.executor.kind != "local":  # the cluster is reached through Prefect's task runner only
            raise BuildError(f"executor.kind is {config.executor.kind}, which runs through Prefect: drop --no-prefect "
                             f"(and unset {NO_PREFECT_ENV}), or set executor.kind: local")

        with stage_progress(not quiet) as progress:
            return build_directly([str(i) for i in inputs], out, config, progress=progress, overwrite=overwrite)
    from flows.build_corpus import build_corpus
    from flows.prefect_api import with_api_retry

    if not debug:  # an expected error is one line below, not Prefect's log of the traceback
        for name in ("prefect.flow_runs", "prefect.task_runs"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    return with_api_retry(lambda: build_corpus([str(i) for i in inputs], str(out),
                                               str(config_path) if config_path else None, overwrite, not quiet))


if os.environ.get(NO_PREFECT_ENV) == "":  # an empty value means unset, not "true"
    os.environ.pop(NO_PREFECT_ENV)
